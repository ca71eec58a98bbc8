"""`GET /api/v1/stream`: Server-Sent Events, one `snapshot` event per new snapshot.

A handler blocked on the next snapshot is not cancelled when its client leaves (aiohttp's
default `handler_cancellation=False`), so every stream races the next snapshot against a
`gone` event. One watcher task per app sets `gone` for streams whose transport has closed
(one wake-up per poll for all streams, not one per client), and on shutdown for all of them.
A comment line every `heartbeat_s` keeps proxies from timing the connection out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from acd.api.keys import BACKEND, HEARTBEAT_S
from acd.stats import jsonparts

log = logging.getLogger(__name__)

POLL_S = 0.25
RETRY_MS = 3000


@dataclass(eq=False, slots=True)
class _Watch:
    request: web.BaseRequest
    gone: asyncio.Event = field(default_factory=asyncio.Event)


class StreamHub:
    def __init__(self) -> None:
        self._watches: set[_Watch] = set()
        self._last: tuple[dict[str, Any] | None, bytes] = (None, b"")

    @property
    def open_streams(self) -> int:
        return len(self._watches)

    def encode(self, snapshot: dict[str, Any]) -> bytes:
        """The event for a snapshot, encoded once however many clients receive it."""
        last, data = self._last
        if last is not snapshot:
            data = b"event: snapshot\ndata: " + jsonparts.body(snapshot, snapshot) + b"\n\n"
            self._last = (snapshot, data)
        return data

    @contextlib.contextmanager
    def watch(self, request: web.BaseRequest) -> Iterator[asyncio.Event]:
        watch = _Watch(request)
        self._watches.add(watch)
        try:
            yield watch.gone
        finally:
            self._watches.discard(watch)

    def close_all(self) -> None:
        for watch in self._watches:
            watch.gone.set()

    async def run_watcher(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            for watch in self._watches:
                transport = watch.request.transport
                if transport is None or transport.is_closing():
                    watch.gone.set()


STREAMS = web.AppKey("streams", StreamHub)


async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = app[STREAMS]
    task = asyncio.create_task(hub.run_watcher(), name="acd-api-stream-watcher")
    yield
    hub.close_all()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def close_streams(app: web.Application) -> None:
    app[STREAMS].close_all()


async def stream(request: web.Request) -> web.StreamResponse:
    app = request.app
    hub, backend = app[STREAMS], app[BACKEND]
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    updates = aiter(backend.subscribe())
    with hub.watch(request) as gone:
        try:
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            snap = backend.snapshot()
            if snap:
                await response.write(hub.encode(snap))
            await _pump(response, updates, gone, hub, app[HEARTBEAT_S], snap)
        except ConnectionError:
            pass  # the client left while we wrote
        finally:
            aclose = getattr(updates, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
    return response


async def _pump(response: web.StreamResponse, updates: AsyncIterator[dict[str, Any]],
                gone: asyncio.Event, hub: StreamHub, heartbeat_s: float,
                sent: dict[str, Any] | None) -> None:
    left: asyncio.Future[Any] = asyncio.ensure_future(gone.wait())
    following: asyncio.Future[Any] = asyncio.ensure_future(anext(updates))
    try:
        while True:
            done, _ = await asyncio.wait({left, following}, timeout=heartbeat_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            if left in done:
                return
            if following not in done:
                await response.write(b": heartbeat\n\n")
                continue
            try:
                snap = following.result()
            except StopAsyncIteration:
                return
            except Exception:
                log.exception("the snapshot subscription failed; closing the stream")
                return
            if snap is not sent:  # a subscription may start with the snapshot already sent
                await response.write(hub.encode(snap))
                sent = snap
            following = asyncio.ensure_future(anext(updates))
    finally:
        for task in (left, following):
            task.cancel()
        await asyncio.gather(left, following, return_exceptions=True)
