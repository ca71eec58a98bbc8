"""Integrations fed by the store's event stream: an Asterisk queue_log, call records and CRM
screen pops (see runner.py for how events reach them exactly once across instances).

`Integrations.start(...)` is all the service calls; it returns None when nothing is configured.
Redis is reached only through stream.py.
"""

from __future__ import annotations

from typing import Self

from acd.config import Config
from acd.integrations.queue_log import QueueLogWriter
from acd.integrations.records import RecordsReader, RecordsWriter
from acd.integrations.runner import Handler, Runner
from acd.integrations.stream import IntegrationRedis, IntKeys
from acd.integrations.webhooks import ScreenPops, resolve_secrets
from acd.store import Store


def wanted(cfg: Config) -> bool:
    icfg = cfg.integrations
    return icfg.queue_log is not None or icfg.records is not None or any(
        q.screen_pop is not None for q in cfg.queues.values())


class Integrations:
    def __init__(self, runner: Runner, redis: IntegrationRedis,
                 records: RecordsReader | None) -> None:
        self.runner = runner
        self.redis = redis
        self.records = records  # None: records are not kept

    @classmethod
    async def start(cls, cfg: Config, stores: dict[str, Store], redis_url: str, *,
                    consumer: str, start_ms: int | None = None) -> Self | None:
        """Start the runner if any integration is configured. Raises ConfigError (a screen
        pop's secret variable unset) before opening anything."""
        if not wanted(cfg):
            return None
        secrets = resolve_secrets(cfg)
        redis = await IntegrationRedis.open(redis_url)
        handlers: list[Handler] = []
        icfg = cfg.integrations
        try:
            if icfg.queue_log is not None:
                handlers.append(QueueLogWriter(icfg.queue_log))
            if icfg.records is not None:
                handlers.append(RecordsWriter(icfg.records, redis))
            if any(q.screen_pop is not None for q in cfg.queues.values()):
                handlers.append(ScreenPops(cfg, redis, secrets))
            runner = Runner(cfg, stores, redis, handlers, consumer=consumer, start_ms=start_ms)
            await runner.start()
        except BaseException:
            for handler in handlers:
                await handler.close()
            await redis.close()
            raise
        reader = RecordsReader(redis, [IntKeys(s.keys).records for s in stores.values()]) \
            if icfg.records is not None else None
        return cls(runner, redis, reader)

    def handler(self, name: str) -> Handler | None:
        return next((h for h in self.runner.handlers if h.name == name), None)

    async def stop(self) -> None:
        await self.runner.stop()
        await self.redis.close()
