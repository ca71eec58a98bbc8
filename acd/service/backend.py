"""The service side of the HTTP API (acd/api/backend.py): figures snapshots and supervisor
commands.

One task recomputes the snapshot at most every `http.snapshot_interval_s` from the store's
counters and the engine's live calls and agents; readers (pollers, the push channel,
Prometheus) all read that one snapshot, so their number costs Redis nothing.
Commands run inside the engine's consumer, in order with the PBX's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from acd.api.backend import AgentAction, CommandError, Readiness
from acd.config import Config, ConfigError, load_config
from acd.core.model import AgentState, CallState
from acd.stats.figures import build_snapshot, history_rows
from acd.stats.raw import QueueCounts
from acd.stats.schema import Snapshot
from acd.stats.timewin import local_midnight

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.api")
REFRESH_TIMEOUT_S = 3.0
T = TypeVar("T")

# API agent actions -> (target state, states it may come from)
_AGENT_ACTIONS: dict[str, tuple[AgentState, frozenset[AgentState]]] = {
    "login": (AgentState.READY, frozenset({AgentState.LOGGED_OUT})),
    "logout": (AgentState.LOGGED_OUT, frozenset(
        {AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP})),
    "ready": (AgentState.READY, frozenset({AgentState.NOT_READY, AgentState.WRAP_UP})),
    "not_ready": (AgentState.NOT_READY, frozenset({AgentState.READY, AgentState.WRAP_UP})),
}


class ServiceBackend:
    def __init__(self, engine: Engine, config_path: Path | None = None) -> None:
        self.e = engine
        self.config_path = config_path
        self._snapshot: dict[str, Any] = {}
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._redis_ok = True
        self._task: asyncio.Task[None] | None = None
        self.snapshots_made = 0

    # --- snapshots ---------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="snapshots")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                # The store waits through a Redis outage; readiness must not wait with it.
                await asyncio.wait_for(self.refresh(), REFRESH_TIMEOUT_S)
                self._redis_ok = True
            except Exception as exc:  # Redis away: keep serving the last snapshot
                if self._redis_ok:
                    log.warning("figures not refreshed: %s", exc or type(exc).__name__)
                self._redis_ok = False
            await asyncio.sleep(self.e.cfg.http.snapshot_interval_s)

    async def refresh(self) -> Snapshot:
        cfg, store, now = self.e.cfg, self.e.store, self.e.now()
        queues = list(cfg.queues)
        midnight = local_midnight(now, cfg.timezone)
        spans = await store.queue_windows(queues, now, (900, 3600))
        today_intervals = await store.queue_intervals(queues, midnight, now + 1)
        today: dict[str, QueueCounts] = {}
        for queue, by_interval in today_intervals.items():
            total = QueueCounts()
            for counts in by_interval.values():
                total.add(counts)
            today[queue] = total
        agents_today = await store.agent_intervals(list(self.e.agents), midnight, now + 1)
        funnel = await store.funnel(list(cfg.flows), midnight, now + 1)
        snap = build_snapshot(cfg, now, list(self.e.calls.values()), list(self.e.agents.values()),
                              {"15m": spans.get(900, {}), "60m": spans.get(3600, {}),
                               "today": today}, agents_today, funnel)
        self._snapshot = snap.model_dump(mode="json")
        self.snapshots_made += 1
        for inbox in list(self._subscribers):
            if inbox.qsize() < 2:  # a slow reader gets the newest, not a backlog
                inbox.put_nowait(self._snapshot)
        return snap

    def snapshot(self) -> dict[str, Any]:
        return self._snapshot

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            if self._snapshot:
                yield self._snapshot
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)

    async def history(self, queue: str | None, start: float, end: float) -> list[dict[str, Any]]:
        cfg = self.e.cfg
        if queue is not None and queue not in cfg.queues:
            raise CommandError("not_found", f"unknown queue {queue!r}", 404)
        queues = [queue] if queue is not None else list(cfg.queues)
        rows = history_rows(cfg, await self.e.store.queue_intervals(queues, start, end))
        return [row.model_dump(mode="json") for row in rows]

    def readiness(self) -> Readiness:
        ami = self.e.link.connected.is_set() and self.e.routing_enabled
        reasons = []
        if not ami:
            reasons.append(f"AMI not attached: {self.e.link.last_error or 'connecting'}")
        if not self._redis_ok:
            reasons.append("Redis not answering")
        return Readiness(ready=ami and self._redis_ok, ami=ami, redis=self._redis_ok,
                         reason="; ".join(reasons))

    # --- commands ----------------------------------------------------------------------------
    async def _in_order(self, fn: Callable[[], Awaitable[T]]) -> T:
        return await self.e.run_in_order(fn)

    async def agent_command(self, agent_id: str, action: AgentAction,
                            reason: str) -> dict[str, Any]:
        if agent_id not in self.e.agents:
            raise CommandError("unknown_agent", f"no agent {agent_id!r}", 404)
        target, allowed = _AGENT_ACTIONS[action]
        why = (reason or "break") if target is AgentState.NOT_READY else ""

        async def apply() -> None:
            current = self.e.agents[agent_id].state
            if current in (AgentState.RESERVED, AgentState.ON_CALL):
                raise CommandError("agent_busy", f"agent {agent_id} is {current.value}", 409)
            if current not in allowed:
                raise CommandError("bad_transition",
                                   f"agent {agent_id} is {current.value}: cannot {action}", 409)
            if await self.e.handlers.set_agent_state(agent_id, target, why, allowed) is None:
                raise CommandError("bad_transition", f"agent {agent_id} changed meanwhile", 409)

        await self._in_order(apply)
        return await self._fresh("agents", "id", agent_id)

    async def _fresh(self, section: str, key: str, value: str) -> dict[str, Any]:
        """The item as a fresh snapshot shows it (the same shape the read routes serve)."""
        snap = (await self.refresh()).model_dump(mode="json")
        found: dict[str, Any] = next(i for i in snap[section] if i[key] == value)
        return found

    async def set_call_priority(self, call_id: str, priority: int) -> dict[str, Any]:
        async def apply() -> None:
            call = self.e.calls.get(call_id)
            if call is None:
                raise CommandError("unknown_call", f"no live call {call_id!r}", 404)
            if call.state is not CallState.WAITING:
                raise CommandError("not_waiting", f"call {call_id} is {call.state.value}", 409)
            changed = await self.e.store.set_priority(call_id, priority, self.e.now())
            if changed is None:
                raise CommandError("not_waiting", f"call {call_id} is no longer waiting", 409)
            self.e.handlers.put_call(changed)
            self.e.want_route()

        await self._in_order(apply)
        return await self._fresh("calls", "id", call_id)

    async def reload_config(self) -> dict[str, Any]:
        if self.config_path is None:
            raise CommandError("no_config_file", "the service was not started from a file", 409)
        try:
            cfg = load_config(self.config_path)
        except ConfigError as exc:
            raise CommandError("bad_config", "; ".join(exc.problems), 400) from None
        problems = check_reloadable(self.e.cfg, cfg)
        busy = {c.queue for c in self.e.calls.values() if c.queue and c.queue not in cfg.queues}
        problems += [f"queues.{q}: has live calls, cannot be removed now" for q in sorted(busy)]
        if problems:
            raise CommandError("needs_restart", "; ".join(problems), 409)
        await self._in_order(lambda: self.e.apply_config(cfg))
        log.info("config reloaded from %s", self.config_path)
        return {"reloaded": True, "queues": sorted(cfg.queues), "agents": sorted(cfg.agents)}


def check_reloadable(old: Config, new: Config) -> list[str]:
    """What a reload cannot change while running (those need a restart)."""
    out = []
    if old.pbx != new.pbx:
        out.append("pbx: changes need a restart")
    if old.redis != new.redis:
        out.append("redis: changes need a restart")
    if old.http.host != new.http.host or old.http.port != new.http.port:
        out.append("http.host/port: changes need a restart")
    return out
