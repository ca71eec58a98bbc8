"""The composition root: builds the store, the AMI link, the engine and the HTTP API; nothing
else does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from aiohttp import web

from acd.ami.link import AmiLink
from acd.api.app import create_app
from acd.config import Config, ConfigError
from acd.service.backend import ServiceBackend
from acd.service.engine import Engine
from acd.store import Store, stats_ttl

log = logging.getLogger("acd")


class Service:
    def __init__(self, cfg: Config, *, redis_url: str | None = None, secret: str | None = None,
                 config_path: Path | None = None, http: bool = True) -> None:
        self.cfg = cfg
        url = redis_url or cfg.redis.url
        if url is None:
            raise ConfigError(["redis.url: required for `acd run` (only `acd demo` starts its "
                               "own redis-server)"])
        self.redis_url = url
        self._secret = secret if secret is not None else cfg.pbx.resolve_secret()
        self.config_path = config_path
        self._http_enabled = http
        self.store: Store | None = None
        self.engine: Engine | None = None
        self.backend: ServiceBackend | None = None
        self._runner: web.AppRunner | None = None
        self.http_port: int | None = None

    async def start(self) -> Engine:
        pbx = self.cfg.pbx
        self.store = await Store.open(self.redis_url, prefix=self.cfg.redis.prefix, pbx=pbx.name,
                                      stats_ttl_s=stats_ttl(self.cfg.history_days),
                                      wait_for_redis=True)
        link = AmiLink(host=pbx.host, port=pbx.port, username=pbx.username,
                       secret=self._secret, ping_interval_s=pbx.ping_interval_s,
                       reconnect_max_s=pbx.reconnect_max_s, name=pbx.name)
        self.engine = Engine(self.cfg, self.store, link)
        await self.engine.start()
        self.backend = ServiceBackend(self.engine, self.config_path)
        self.backend.start()
        if self._http_enabled:
            await self._start_http()
        log.info("acd started: attaching to %s at %s:%d as %s", pbx.name, pbx.host, pbx.port,
                 pbx.username)
        return self.engine

    async def _start_http(self) -> None:
        assert self.backend is not None
        http = self.cfg.http
        self._runner = web.AppRunner(create_app(self.backend, http), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, http.host, http.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else http.port
        log.info("HTTP API and wallboard on http://%s:%s/", http.host, self.http_port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self.backend is not None:
            await self.backend.stop()
        if self.engine is not None:
            await self.engine.stop()
        if self.store is not None:
            await self.store.close()


async def run_until_signal(service: Service) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await service.start()
    try:
        await stop.wait()
    finally:
        await service.stop()
