"""The routing process's side of `http.own_process`: it starts the figures process
(figures_process.py), restarts it if it dies, stops it on the way out, and applies the
steering offsets that process publishes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from acd.config import Config
from acd.service.figures_process import READY_LINE, TOKEN_ENV
from acd.tasks import cancel_and_wait

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.figures")

RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0
STOP_TIMEOUT_S = 10.0


class FiguresChild:
    """`config_path`: the child reads the same file (so every secret source resolves there
    too); None: the config goes to it as JSON on stdin (SecretStr values masked: it needs
    none of the AMI secrets)."""

    def __init__(self, cfg: Config, config_path: Path | None, *, redis_url: str,
                 routing_url: str, token: str, instance: str) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.redis_url = redis_url
        self.routing_url = routing_url
        self.token = token
        self.instance = instance
        self.http_port: int | None = None
        self.starts = 0
        self.ready = asyncio.Event()  # the child serves HTTP (set again after a restart)
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="figures-process")

    async def wait_ready(self, timeout_s: float) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                await self.ready.wait()
        except TimeoutError:
            return False
        return True

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def _spawn(self) -> asyncio.subprocess.Process:
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()
        args = [sys.executable, "-m", "acd", "--log-level", level, "figures",
                "--routing-url", self.routing_url, "--redis-url", self.redis_url,
                "--instance", self.instance]
        if self.config_path is not None:
            args += ["--config", str(self.config_path)]
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env={**os.environ, TOKEN_ENV: self.token})
        assert proc.stdin is not None
        if self.config_path is None:
            proc.stdin.write(json.dumps(self.cfg.as_data()).encode())
        proc.stdin.close()
        self.starts += 1
        return proc

    async def _watch(self) -> None:
        backoff = RESTART_MIN_S
        while not self._stopping:
            try:
                proc = self._proc = await self._spawn()
            except OSError as exc:  # e.g. too many processes: try again, as after an exit
                code = f"not started: {exc}"
            else:
                assert proc.stdout is not None
                async for raw in proc.stdout:  # the ready line, then nothing until it exits
                    line = raw.decode(errors="replace").split()
                    if len(line) == 2 and line[0] == READY_LINE and line[1].isdigit():
                        self.http_port = int(line[1])
                        self.ready.set()
                        backoff = RESTART_MIN_S
                code = f"code {await proc.wait()}"
            self.ready.clear()
            if self._stopping:
                return
            log.error("the figures process exited (%s): starting it again in %.0f s",
                      code, backoff)
            await asyncio.sleep(backoff)
            backoff = min(RESTART_MAX_S, 2 * backoff)

    async def stop(self) -> None:
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await proc.wait()
            except TimeoutError:
                log.warning("the figures process did not stop in %.0f s: killed",
                            STOP_TIMEOUT_S)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        await cancel_and_wait([self._task])


async def follow_offsets(engines: Mapping[str, Engine], every_s: float) -> None:
    """The steering offsets and the handle times the figures process publishes, applied to
    the engines."""
    while True:
        for engine in engines.values():
            try:
                offsets = await engine.store.read_offsets()
                times = await engine.store.read_handle_times()
            except Exception:  # Redis away: the engine keeps what it has
                log.debug("offsets and handle times not readable", exc_info=True)
                continue
            if offsets is not None:
                engine.set_offsets(offsets)
            if times is not None:
                engine.set_handle_times(times)
        await asyncio.sleep(every_s)
