"""Integrations fed by the store's event stream: an Asterisk queue_log, call records, CRM
screen pops and the agents' push channel (see runner.py for how events reach them exactly once
across instances; push.py for how every instance's agent streams see every pop).

`Integrations.start(...)` is all the service calls; it returns None when nothing is configured.
Redis is reached only through stream.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from acd.config import Config
from acd.integrations.push import AgentPush
from acd.integrations.queue_log import QueueLogWriter
from acd.integrations.records import RecordsReader, RecordsWriter
from acd.integrations.runner import Handler, Runner
from acd.integrations.stream import IntegrationRedis, IntKeys
from acd.integrations.webhooks import ScreenPops, resolve_secrets
from acd.store import Store


def pops_wanted(cfg: Config) -> bool:
    """Screen pops are built: for a webhook, or for the agents' push channel."""
    return cfg.integrations.agent_push or any(
        q.screen_pop is not None for q in cfg.queues.values())


def wanted(cfg: Config) -> bool:
    icfg = cfg.integrations
    return icfg.queue_log is not None or icfg.records is not None or pops_wanted(cfg)


class Integrations:
    def __init__(self, runner: Runner, redis: IntegrationRedis,
                 records: RecordsReader | None, push: AgentPush | None = None) -> None:
        self.runner = runner
        self.redis = redis
        self.records = records  # None: records are not kept
        self.push = push  # None: no agent push channel

    @classmethod
    async def start(cls, cfg: Config, stores: dict[str, Store], redis_url: str, *,
                    consumer: str, start_ms: int | None = None,
                    knows_agent: Callable[[str], bool] | None = None) -> Self | None:
        """Start the runner if any integration is configured. Raises ConfigError (a screen
        pop's secret variable unset) before opening anything."""
        if not wanted(cfg):
            return None
        secrets = resolve_secrets(cfg)
        redis = await IntegrationRedis.open(redis_url)
        handlers: list[Handler] = []
        icfg = cfg.integrations
        push: AgentPush | None = None
        try:
            if icfg.queue_log is not None:
                handlers.append(QueueLogWriter(icfg.queue_log))
            if icfg.records is not None:
                handlers.append(RecordsWriter(icfg.records, redis))
            if pops_wanted(cfg):
                handlers.append(ScreenPops(cfg, redis, secrets))
            # The push channel first: it follows the pops from its start, before any is made.
            if icfg.agent_push:
                push = AgentPush(redis, [IntKeys(s.keys).pops for s in stores.values()],
                                 knows_agent or (lambda aid: aid in cfg.agents))
                await push.start()
            runner = Runner(cfg, stores, redis, handlers, consumer=consumer, start_ms=start_ms)
            await runner.start()
        except BaseException:
            if push is not None:
                await push.stop()
            for handler in handlers:
                await handler.close()
            await redis.close()
            raise
        reader = RecordsReader(redis, [IntKeys(s.keys).records for s in stores.values()]) \
            if icfg.records is not None else None
        return cls(runner, redis, reader, push)

    def handler(self, name: str) -> Handler | None:
        return next((h for h in self.runner.handlers if h.name == name), None)

    async def stop(self) -> None:
        if self.push is not None:
            await self.push.stop()
        await self.runner.stop()
        await self.redis.close()
