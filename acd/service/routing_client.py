"""The figures process's side of internal_api.py: supervisor commands carried to the routing
process, and the PBXs' readiness as it reports them (polled, so /readyz never waits on it)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from acd.api.backend import CommandError
from acd.service.internal_api import PREFIX
from acd.tasks import cancel_and_wait

log = logging.getLogger("acd.figures")

COMMAND_TIMEOUT_S = 30.0  # a transfer may wait on the PBX
STATUS_EVERY_S = 1.0
UNREACHABLE = "routing process not answering"


class RoutingClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/") + PREFIX
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session: aiohttp.ClientSession | None = None
        self._status: dict[str, tuple[bool, str]] = {}
        self._heard = False
        self._task: asyncio.Task[None] | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    async def command(self, name: str, **args: Any) -> dict[str, Any]:
        """The command's result; CommandError as the routing process raised it, or
        routing_unavailable (503) when it does not answer."""
        try:
            async with self._client().post(
                    f"{self.url}/commands/{name}", json=args,
                    timeout=aiohttp.ClientTimeout(total=COMMAND_TIMEOUT_S)) as resp:
                body = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise CommandError("routing_unavailable", f"{UNREACHABLE} "
                               f"({type(exc).__name__})", 503) from None
        if resp.status >= 400:
            raise CommandError(str(body.get("code", "error")), str(body.get("message", "")),
                               resp.status)
        result: dict[str, Any] = body
        return result

    # --- readiness ---------------------------------------------------------------------------
    def status(self, pbx: str) -> tuple[bool, str]:
        """Whether the PBX is attached and routed, as last reported."""
        if not self._heard:
            return False, UNREACHABLE
        return self._status.get(pbx, (False, "not known to the routing process"))

    async def poll_status(self) -> None:
        try:
            async with self._client().get(
                    f"{self.url}/ready", timeout=aiohttp.ClientTimeout(total=2.0)) as resp:
                body = await resp.json(content_type=None)
            self._status = {str(k): (bool(v[0]), str(v[1])) for k, v in body.items()}
            self._heard = True
        except (TimeoutError, aiohttp.ClientError, ValueError, TypeError, IndexError,
                AttributeError) as exc:
            if self._heard:
                log.warning("%s: %s", UNREACHABLE, type(exc).__name__)
            self._heard = False

    def start(self) -> None:
        async def loop() -> None:
            while True:
                await self.poll_status()
                await asyncio.sleep(STATUS_EVERY_S)

        self._task = asyncio.create_task(loop(), name="routing-status")

    async def close(self) -> None:
        await cancel_and_wait([self._task])
        if self._session is not None:
            await self._session.close()
