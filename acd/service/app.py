"""The composition root: builds the store, the AMI link and the engine; nothing else does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from acd.ami.link import AmiLink
from acd.config import Config, ConfigError
from acd.service.engine import Engine
from acd.store import Store

log = logging.getLogger("acd")


class Service:
    def __init__(self, cfg: Config, *, redis_url: str | None = None,
                 secret: str | None = None) -> None:
        self.cfg = cfg
        url = redis_url or cfg.redis.url
        if url is None:
            raise ConfigError(["redis.url: required for `acd run` (only `acd demo` starts its "
                               "own redis-server)"])
        self.redis_url = url
        self._secret = secret if secret is not None else cfg.pbx.resolve_secret()
        self.store: Store | None = None
        self.engine: Engine | None = None

    async def start(self) -> Engine:
        pbx = self.cfg.pbx
        self.store = await Store.open(self.redis_url, prefix=self.cfg.redis.prefix, pbx=pbx.name)
        link = AmiLink(host=pbx.host, port=pbx.port, username=pbx.username,
                       secret=self._secret, ping_interval_s=pbx.ping_interval_s,
                       reconnect_max_s=pbx.reconnect_max_s, name=pbx.name)
        self.engine = Engine(self.cfg, self.store, link)
        await self.engine.start()
        log.info("acd attached to %s at %s:%d as %s", pbx.name, pbx.host, pbx.port, pbx.username)
        return self.engine

    async def stop(self) -> None:
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
