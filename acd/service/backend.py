"""The service side of the HTTP API (acd/api/backend.py): figures snapshots and supervisor
commands.

One task recomputes the snapshot at most every `http.snapshot_interval_s` from the store's
counters and the engines' live calls and agents; readers (pollers, the push channel,
Prometheus) all read that one snapshot, so their number costs Redis nothing.
Commands run inside the engine's consumer, in order with the PBX's events.

Several PBXs (issue 6): one engine per PBX. The snapshot served (and pushed) is the merged one:
every PBX's calls and agents, every PBX's counts added up (fig_merge.py); one snapshot per PBX
is kept beside it for `?pbx=NAME` (`pbx_snapshot`). A command goes to the engine that has the
agent or the call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from acd.api.backend import AgentAction, CommandError, PublishHook, Readiness
from acd.config import Config, ConfigError, load_config
from acd.core.agent_actions import ACTIONS
from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.policy import QueueStanding, objective_offsets
from acd.core.reasons import NO_REASON
from acd.core.serving import QueueMembership
from acd.service.daycache import DayCache
from acd.service.dismantle import dismantle_steps, sole_holder
from acd.service.reasons import ReasonReads, live_and_today_steps
from acd.service.runtime import collector_held
from acd.service.slices import SLICE_S, Sliced
from acd.service.windowcache import WindowCache
from acd.stats.fig_merge import RawFigures, add_intervals, merge_raw
from acd.stats.figures import dump_steps, history_rows, membership_of, snapshot_steps
from acd.stats.jsonparts import encode_steps
from acd.stats.raw import handle_times
from acd.stats.reason_schema import HistoryStep
from acd.stats.schema import Snapshot
from acd.stats.timewin import local_midnight
from acd.tasks import cancel_and_wait

if TYPE_CHECKING:
    from acd.service.engine import Engine
    from acd.service.live import LiveSource

log = logging.getLogger("acd.api")
REFRESH_TIMEOUT_S = 3.0
MAX_REFRESH_TIMEOUT_S = 60.0
# After a failed refresh the next comes this soon, then twice as late each time up to
# snapshot_interval_s: waiting the whole interval, a big centre whose first reads timed out
# served no figures at all (503) for a minute with snapshot_interval_s = 60.
RETRY_FIRST_S = 1.0
# Replaced snapshots kept for free_retired at most: a backend whose loop is not running (a
# refresh asked for directly) must not keep every one it replaced.
MAX_RETIRED = 8


@runtime_checkable
class Retiring(Protocol):
    """A source that replaces big things (a Follower's full read): `retired` holds what it
    replaced, for the backend to free in slices."""

    retired: list[object]


class ServiceBackend:
    """`engines`: one engine, or the engines by PBX name (config order); `cfg`: the whole
    config (default: the first engine's). The figures are made from `sources` (default: the
    engines themselves); the figures process (figures_process.py) gives Followers of the
    store instead, and no engines: its commands go to the routing process. `slice_s`: how
    long each slice of a refresh holds the event loop (slices.py)."""

    def __init__(self, engines: Engine | Mapping[str, Engine], config_path: Path | None = None,
                 *, cfg: Config | None = None,
                 sources: Mapping[str, LiveSource] | None = None,
                 slice_s: float = SLICE_S) -> None:
        self.engines: dict[str, Engine] = dict(engines) if isinstance(engines, Mapping) \
            else {engines.cfg.pbx.name: engines}
        self.sources: dict[str, LiveSource] = dict(sources) if sources is not None \
            else dict(self.engines)
        if not self.sources:
            raise ValueError("ServiceBackend needs at least one engine")
        self.first: LiveSource = next(iter(self.sources.values()))  # the first PBX's
        self.cfg = cfg if cfg is not None else self.first.cfg
        self.config_path = config_path
        self._snapshot: dict[str, Any] = {}
        self._pbx_snapshots: dict[str, dict[str, Any]] = {}
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._redis_ok = True
        self._day_caches: dict[int, DayCache] = {}
        self._window_caches: dict[int, WindowCache] = {}
        self.refresh_s = 0.0  # CPU time of the last refresh (its slices, not the pauses)
        self.reads_s = 0.0  # how long the store reads of the last refresh took
        # Who serves which queue, per config object (a reload brings a new one).
        self._membership: dict[int, tuple[Config, QueueMembership]] = {}
        self._sliced = Sliced(slice_s, gate=self._engines_idle)
        self._started = 0  # refreshes started / the latest one published (see refresh)
        self._published = 0
        self._task: asyncio.Task[None] | None = None
        self.snapshots_made = 0
        self._reasons: dict[str, Any] = {}  # figures by reason, made with each snapshot
        # Snapshots replaced, to be freed in slices once nobody holds them (dismantle.py).
        self._retired: list[object] = []
        self._reason_reads = ReasonReads()
        # What the API makes ahead of each publication (acd/api/conditional.py).
        self.before_publish: list[PublishHook] = []

    def _engines_idle(self) -> bool:
        return all(source.idle.is_set() for source in self.sources.values())

    # --- snapshots ---------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="snapshots")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])

    async def _loop(self) -> None:
        timeout_s = REFRESH_TIMEOUT_S
        retry_s = RETRY_FIRST_S
        while True:
            busy = self._sliced.busy_s
            failed = False
            try:
                # The store waits through a Redis outage; readiness must not wait with it.
                snap = await self.refresh(reads_timeout_s=timeout_s)
                self._redis_ok = True
                # Freed a few rows at a time: at once, a big centre's snapshot and the one
                # it replaced were each tens of ms of the loop (dismantle.py).
                if sole_holder(snap, known=1):
                    await self._sliced.run(dismantle_steps(snap))
                del snap
                await self.free_retired()
                timeout_s = max(REFRESH_TIMEOUT_S, 10 * self.reads_s)
                retry_s = RETRY_FIRST_S
            except Exception as exc:  # Redis away: keep serving the last snapshot
                failed = True
                if self._redis_ok:
                    log.warning("figures not refreshed: %s", refresh_failure(exc, timeout_s))
                self._redis_ok = False
                if isinstance(exc, TimeoutError):
                    # Slow, not away (a big centre's first reads of the day): allow more
                    # time, or the reads would be cut short at the same point every time.
                    timeout_s = min(2 * timeout_s, MAX_REFRESH_TIMEOUT_S)
            self.refresh_s = self._sliced.busy_s - busy + self.reads_s
            interval_s = self.cfg.http.snapshot_interval_s
            if failed:
                wait_s = retry_s = min(retry_s, interval_s)
                retry_s *= 2
            else:
                # Figures never take more than a fifth of the loop: a big centre refreshes
                # less often than snapshot_interval_s rather than starving the routing. What
                # counts is the refresh's own time: its slices wait whenever routing has work.
                wait_s = max(interval_s, 4 * self.refresh_s)
            await asyncio.sleep(wait_s)

    async def _raw(self, engine: LiveSource, now: float) -> RawFigures:
        """One PBX's counts from its store."""
        cfg, store = self.cfg, engine.store
        queues = list(cfg.queues)
        midnight = local_midnight(now, cfg.timezone)
        # (the last hour's facts are kept between refreshes: only the new ones are read)
        recent = self._window_caches.setdefault(id(engine), WindowCache())
        spans = await recent.windows(store, queues, now)
        cache = self._day_caches.setdefault(id(engine), DayCache())
        today, agents_today, funnel_today = await cache.today(
            store, queues, list(engine.agents), list(cfg.flows), midnight, now)
        return RawFigures(
            windows={"15m": spans.get(900, {}), "60m": spans.get(3600, {}), "today": today},
            agents_today=agents_today, funnel_today=funnel_today)

    async def refresh(self, reads_timeout_s: float | None = None) -> Snapshot:
        """A new snapshot, published to the readers. The store reads may be bounded in time
        (`reads_timeout_s`: a TimeoutError then); the figures are built in slices between
        which routing runs (slices.py), from the calls and agents as they were at `now`."""
        # (runtime.py: no young collection scans the replies and the snapshot as they are
        # made, again and again; what is left is frozen)
        with collector_held():
            return await self._refresh(reads_timeout_s)

    async def _refresh(self, reads_timeout_s: float | None) -> Snapshot:
        self._started += 1
        number = self._started
        loop = asyncio.get_running_loop()
        started = loop.time()
        for source in self.sources.values():  # (a Follower reads what changed since)
            await source.catch_up()
        now = self.first.now()
        names = list(self.sources)
        reads = asyncio.gather(*(self._raw(self.sources[n], now) for n in names))
        # (asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow the cancellation
        # of a stop that comes as the reads end, and the figures task then never stopped)
        async with asyncio.timeout(reads_timeout_s):
            raws = dict(zip(names, await reads, strict=True))
        self.reads_s = loop.time() - started
        for name, raw in raws.items():  # (each PBX's own hour: its callers' waits)
            self.sources[name].set_handle_times(handle_times(raw.windows["60m"]))
        agent_pbx = {aid: name for name, engine in self.sources.items()
                     for aid in engine.agents}
        # Taken at once, before any pause: the calls and agents are replaced, never changed.
        calls = {n: list(e.calls.values()) for n, e in self.sources.items()}
        agents = {n: list(e.agents.values()) for n, e in self.sources.items()}

        async def build(cfg: Config, pbxs: list[str], raw: RawFigures) -> Snapshot:
            return await self._sliced.run(snapshot_steps(
                cfg, now, [c for n in pbxs for c in calls[n]],
                [a for n in pbxs for a in agents[n]], raw.windows, raw.agents_today,
                raw.funnel_today, agent_pbx=agent_pbx, membership=self._members(cfg)))

        # (one PBX: its counts as they are; adding them up is a few ms of blocked loop)
        merged_raw = merge_raw(raws.values()) if len(raws) > 1 else next(iter(raws.values()))
        snap = await build(self.cfg, names, merged_raw)
        by_reason = await self._sliced.run(live_and_today_steps(  # issue 9: by call reason
            self.cfg, now, [c for n in names for c in calls[n]], merged_raw.windows["today"]))
        offsets = self._steer(snap)
        merged = await self._sliced.run(encode_steps(await self._sliced.run(dump_steps(snap))))
        per_pbx: dict[str, dict[str, Any]] = {names[0]: merged}
        if len(names) > 1:
            for name, engine in self.sources.items():
                one = _with_offsets(await build(engine.cfg, [name], raws[name]), offsets)
                per_pbx[name] = await self._sliced.run(dump_steps(one))
        if number > self._published:  # (not for a refresh a later one has overtaken)
            await self._prepare_readers(merged, per_pbx, by_reason)
        if number < self._published:
            return snap  # a later refresh (an API command's) was published meanwhile
        self._published = number
        replaced = {id(old): old for old in (self._snapshot, *self._pbx_snapshots.values())}
        self._retired += replaced.values()
        del replaced, self._retired[:-MAX_RETIRED]  # (the oldest are freed at once)
        self._snapshot, self._pbx_snapshots, self._reasons = merged, per_pbx, by_reason
        self.snapshots_made += 1
        for inbox in list(self._subscribers):
            if inbox.qsize() < 2:  # a slow reader gets the newest, not a backlog
                inbox.put_nowait(self._snapshot)
        return snap

    async def _prepare_readers(self, merged: dict[str, Any], per_pbx: dict[str, dict[str, Any]],
                               by_reason: dict[str, Any]) -> None:
        """The hooks make what readers will ask of the new figures while the old are still
        served; a hook that fails costs its readers that, never the publication."""
        successors: dict[int, object] = {id(self._snapshot): merged, id(self._reasons): by_reason}
        for name, old in self._pbx_snapshots.items():
            if name in per_pbx:
                successors[id(old)] = per_pbx[name]
        for hook in list(self.before_publish):
            try:
                await hook(successors)
            except Exception:
                log.exception("making the readers' bodies ahead failed")

    async def free_retired(self) -> None:
        """Free, in slices, the replaced snapshots nobody holds any more; one a slow reader
        still holds (an SSE stream's) waits for the next time."""
        for source in self.sources.values():
            if isinstance(source, Retiring):
                self._retired += source.retired
                source.retired.clear()
        held: list[object] = []
        while self._retired:
            old = self._retired.pop()
            if sole_holder(old, known=1):
                await self._sliced.run(dismantle_steps(old))
            else:
                held.append(old)
            del old
        self._retired = held

    def _steer(self, snap: Snapshot) -> dict[str, float]:
        """The live figures steer the routing: each engine gets the service-objective offsets
        of the merged figures (agents may serve calls of every PBX's queues alike); the
        snapshot shows them."""
        standing = {
            q.name: QueueStanding(
                sl_pct=(None if q.windows["15m"].service_level.value is None
                        else 100.0 * q.windows["15m"].service_level.value),
                longest_wait_s=q.longest_wait_s, threshold_s=float(q.threshold_s))
            for q in snap.queues}
        offsets: dict[str, float] = {}
        for engine in self.sources.values():
            offsets = objective_offsets(engine.rules, standing)
            engine.set_offsets(offsets)
        _with_offsets(snap, offsets)
        return offsets

    def _members(self, cfg: Config) -> QueueMembership:
        known = self._membership.get(id(cfg))
        if known is None or known[0] is not cfg:
            if len(self._membership) > 8:  # configs replaced by reloads
                self._membership.clear()
            known = self._membership[id(cfg)] = (cfg, membership_of(cfg))
        return known[1]

    def snapshot(self) -> dict[str, Any]:
        return self._snapshot

    def pbx_snapshot(self, pbx: str) -> dict[str, Any] | None:
        """The figures of one PBX alone (the same shape); None for a PBX not configured, {}
        before the first snapshot."""
        if pbx not in self.sources:
            return None
        return self._pbx_snapshots.get(pbx, {})

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
        cfg = self.cfg
        if queue is not None and queue not in cfg.queues:
            raise CommandError("not_found", f"unknown queue {queue!r}", 404)
        queues = [queue] if queue is not None else list(cfg.queues)
        parts = [await e.store.queue_intervals(queues, start, end)
                 for e in self.sources.values()]
        rows = history_rows(cfg, parts[0] if len(parts) == 1 else add_intervals(parts))
        return [row.model_dump(mode="json") for row in rows]

    # --- figures by reason (issue 9) ----------------------------------------------------------
    def reasons(self) -> dict[str, Any]:
        return self._reasons

    async def reason_history(self, reason: str | None, start: float, end: float,
                             step: HistoryStep) -> list[dict[str, Any]]:
        if reason is not None and reason not in self.cfg.reasons and reason != NO_REASON:
            raise CommandError("not_found", f"unknown reason {reason!r}", 404)
        return await self._reason_reads.history(self.cfg, self.sources, reason, start, end,
                                                step)

    async def reason_trends(self) -> dict[str, Any]:
        return await self._reason_reads.trends(self.cfg, self.sources, self.first.now())

    def readiness(self) -> Readiness:
        reasons = []
        for name, source in self.sources.items():
            ok, why = source.attached()
            if not ok:
                reasons.append(f"{name}: {why}" if len(self.sources) > 1 else why)
        ami = not reasons
        if not self._redis_ok:
            reasons.append("Redis not answering")
        return Readiness(ready=ami and self._redis_ok, ami=ami, redis=self._redis_ok,
                         reason="; ".join(reasons))

    # --- commands ---------------------------------------------------------------------------
    def _agent_engine(self, agent_id: str) -> Engine:
        """The engine of the agent's PBX (by the config; else the one that still has it)."""
        engine = self.engines.get(self.cfg.agent_pbx(agent_id))
        if engine is not None and agent_id in engine.agents:
            return engine
        found = next((e for e in self.engines.values() if agent_id in e.agents), None)
        if found is None:
            raise CommandError("unknown_agent", f"no agent {agent_id!r}", 404)
        return found

    def _call_engine(self, call_id: str) -> Engine:
        """The engine driving the call. Call ids are the callers' Uniqueids: two PBXs may
        share one unless each Asterisk has its own `systemname`; such an id is refused."""
        found = [(n, e) for n, e in self.engines.items() if call_id in e.calls]
        if not found:
            raise CommandError("unknown_call", f"no live call {call_id!r}", 404)
        if len(found) > 1:
            raise CommandError("ambiguous_call", f"call id {call_id!r} is live on PBXs "
                               f"{', '.join(n for n, _ in found)}: give each Asterisk its own "
                               "systemname (asterisk.conf)", 409)
        return found[0][1]

    async def agent_command(self, agent_id: str, action: AgentAction,
                            reason: str) -> dict[str, Any]:
        return await self._fresh("agents", agent_id,
                                 await self.apply_agent_command(agent_id, action, reason))

    async def apply_agent_command(self, agent_id: str, action: AgentAction,
                                  reason: str) -> str:
        """agent_command without the fresh figures: the PBX (name) of the agent."""
        engine = self._agent_engine(agent_id)
        target, allowed = ACTIONS[action]
        why = (reason or "break") if target is AgentState.NOT_READY else ""

        async def apply() -> None:
            current = engine.agents[agent_id].state
            if current in (AgentState.RESERVED, AgentState.ON_CALL):
                raise CommandError("agent_busy", f"agent {agent_id} is {current.value}", 409)
            if current not in allowed:
                raise CommandError("bad_transition",
                                   f"agent {agent_id} is {current.value}: cannot {action}", 409)
            if action in ("ready", "not_ready") and engine.handlers.wrapups.missing_code(
                    engine.agents[agent_id]):
                raise CommandError("code_required", f"agent {agent_id} must give a wrap-up "
                                   "code first (POST .../wrapup)", 409)
            if await engine.handlers.set_agent_state(agent_id, target, why, allowed) is None:
                raise CommandError("bad_transition", f"agent {agent_id} changed meanwhile", 409)

        await engine.run_in_order(apply)
        return engine.cfg.pbx.name

    async def _fresh(self, section: str, item_id: str, pbx: str) -> dict[str, Any]:
        """The item as a fresh snapshot shows it (the same shape the read routes serve)."""
        await self.refresh()
        name = pbx
        found: dict[str, Any] = next(i for i in self._snapshot[section]
                                     if i["id"] == item_id and i["pbx"] == name)
        return found

    async def set_call_priority(self, call_id: str, priority: int) -> dict[str, Any]:
        return await self._fresh("calls", call_id,
                                 await self.apply_call_priority(call_id, priority))

    async def apply_call_priority(self, call_id: str, priority: int) -> str:
        """set_call_priority without the fresh figures: the PBX (name) of the call."""
        engine = self._call_engine(call_id)

        async def apply() -> None:
            call = engine.calls.get(call_id)
            if call is None:
                raise CommandError("unknown_call", f"no live call {call_id!r}", 404)
            if call.state is not CallState.WAITING:
                raise CommandError("not_waiting", f"call {call_id} is {call.state.value}", 409)
            changed = await engine.store.set_priority(call_id, priority, engine.now())
            if changed is None:
                raise CommandError("not_waiting", f"call {call_id} is no longer waiting", 409)
            engine.handlers.put_call(changed)
            engine.want_route()

        await engine.run_in_order(apply)
        return engine.cfg.pbx.name

    async def recording_command(self, call_id: str, pause: bool,
                                agent_id: str | None) -> dict[str, Any]:
        engine = self._call_engine(call_id)
        recorder = engine.handlers.recorder
        result: dict[str, Any] = await engine.run_in_order(
            lambda: recorder.pause(call_id, pause, agent_id))
        return result

    async def set_wrapup(self, agent_id: str, codes: list[str], resolved: bool | None,
                         done: bool) -> dict[str, Any]:
        engine = self._agent_engine(agent_id)

        async def apply() -> Agent:
            return await engine.handlers.wrapups.set_codes(agent_id, codes, resolved, done=done)

        agent = await engine.run_in_order(apply)
        return {"agent_id": agent.id, "state": agent.state.value, "call_id": agent.wrap_call,
                "codes": list(agent.wrap_codes), "resolved": agent.wrap_resolved}

    async def transfer_call(self, call_id: str, queue: str | None, agent: str | None,
                            mode: str) -> dict[str, Any]:
        engine = self._call_engine(call_id)
        t = engine.handlers.transfers

        async def apply() -> Call:
            if mode == "warm":
                return await engine.handlers.consults.start(call_id, queue=queue, agent=agent)
            if queue is not None:
                return await t.to_queue(call_id, queue)
            assert agent is not None
            return await t.to_agent(call_id, agent)

        return transfer_view(await engine.run_in_order(apply))

    async def escalate_call(self, call_id: str) -> dict[str, Any]:
        engine = self._call_engine(call_id)

        async def apply() -> Call:
            return await engine.handlers.transfers.escalate(call_id)

        return transfer_view(await engine.run_in_order(apply))

    async def finish_transfer(self, call_id: str, complete: bool) -> dict[str, Any]:
        engine = self._call_engine(call_id)
        consults = engine.handlers.consults

        async def apply() -> Call:
            return await (consults.complete(call_id) if complete else consults.cancel(call_id))

        return transfer_view(await engine.run_in_order(apply))

    async def reload_config(self) -> dict[str, Any]:
        if self.config_path is None:
            raise CommandError("no_config_file", "the service was not started from a file", 409)
        try:
            cfg = load_config(self.config_path)
        except ConfigError as exc:
            raise CommandError("bad_config", "; ".join(exc.problems), 400) from None
        problems = check_reloadable(self.cfg, cfg)
        busy = {c.queue for e in self.engines.values() for c in e.calls.values()
                if c.queue and c.queue not in cfg.queues}
        problems += [f"queues.{q}: has live calls, cannot be removed now" for q in sorted(busy)]
        if problems:
            raise CommandError("needs_restart", "; ".join(problems), 409)
        self.cfg = cfg
        for name, engine in self.engines.items():
            await _apply_in_order(engine, cfg.for_pbx(name))
        log.info("config reloaded from %s", self.config_path)
        return {"reloaded": True, "queues": sorted(cfg.queues), "agents": sorted(cfg.agents)}


def refresh_failure(exc: Exception, timeout_s: float) -> str:
    """What went wrong, in words (a TimeoutError's own text is empty)."""
    if isinstance(exc, TimeoutError):
        return f"the store reads took longer than {timeout_s:g} s"
    return str(exc) or type(exc).__name__


def _with_offsets(snap: Snapshot, offsets: Mapping[str, float]) -> Snapshot:
    for q in snap.queues:
        q.objective_offset_s = offsets.get(q.name, 0.0)
    return snap


def transfer_view(call: Call) -> dict[str, Any]:
    """A call after a transfer command, in the TransferOut shape (acd/api/call_models.py)."""
    last = call.transfers[-1] if call.transfers else {}
    kind = "warm" if call.consult_agent else str(last.get("kind") or "blind")
    return {"call_id": call.id, "kind": kind,
            "state": "consulting" if call.consult_agent else call.state.value,
            "queue": call.queue, "agent_id": call.agent_id,
            "consult_agent": call.consult_agent, "transfers": len(call.transfers)}


async def _apply_in_order(engine: Engine, cfg: Config) -> None:
    await engine.run_in_order(lambda: engine.apply_config(cfg))


def check_reloadable(old: Config, new: Config) -> list[str]:
    """What a reload cannot change while running (those need a restart)."""
    out = []
    if old.pbx_list() != new.pbx_list():
        out.append(f"{'pbxs' if old.pbxs or new.pbxs else 'pbx'}: changes need a restart")
    if old.redis != new.redis:
        out.append("redis: changes need a restart")
    if old.integrations.crm != new.integrations.crm:
        out.append("integrations.crm: changes need a restart")
    if old.http.host != new.http.host or old.http.port != new.http.port:
        out.append("http.host/port: changes need a restart")
    for aid in sorted(set(old.agents) & set(new.agents)):
        if old.agent_pbx(aid) != new.agent_pbx(aid):
            out.append(f"agents.{aid}.pbx: moving an agent to another PBX needs a restart")
    return out
