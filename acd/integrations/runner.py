"""The integrations runner: follows each PBX store's event stream and hands every event to the
integrations (queue_log, call records, screen pops).

Exactly once across instances: every instance reads through one Redis consumer group
(`integrations.group`, consumer = the instance), so each event goes to one instance, which acks
it (XACK) after its handlers ran. At start an instance first re-reads what it was given but had
not acked (it died in between); from time to time it takes over what another consumer left
unacked for `STALE_MS` (that instance died). A handler that fails is logged and counted and the
event is still acked: a broken integration must not replay the stream forever.

Routing is never delayed: the runner is a task of its own that only reads the stream (the
engines never wait for it), and slow work (webhooks) goes to a bounded worker queue.

The group is created (first instance ever) at the time the service started, so events of this
start are handled but an old stream is not replayed. Later instances join the existing group.

Between events the runner keeps, per call, a small Redis hash (`IntKeys.track`): queue entry
position, ring starts and the rings so far, so any instance can finish a call another one
started. Derived values reach the handlers in `Event.track`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from acd.config import Config
from acd.core.model import Agent, Call
from acd.integrations.stream import IntegrationRedis, IntKeys
from acd.store import Store
from acd.tasks import cancel_and_wait

log = logging.getLogger("acd.integrations")

TRACK_TTL_S = 86_400  # a call's tracking hash outlives any call
STALE_MS = 60_000  # another consumer's unacked entries are taken over after this long
CLAIM_EVERY_S = 30.0
BLOCK_MS = 1000
BATCH = 200
STOP_TIMEOUT_S = 5.0


@dataclass(slots=True)
class Event:
    """One store event, with what the runner derived for it."""

    pbx: str
    id: str
    fields: dict[str, str]
    store: Store
    track: dict[str, Any] = field(default_factory=dict)
    _call: Call | None = None
    _call_read: bool = False
    _agent: Agent | None = None
    _agent_read: bool = False

    @property
    def type(self) -> str:
        return self.fields.get("type", "")

    @property
    def call_id(self) -> str:
        return self.fields.get("call", "")

    @property
    def agent_id(self) -> str:
        return self.fields.get("agent", "")

    @property
    def at(self) -> float:
        """The event's time: its `at`, else the stream id's milliseconds."""
        raw = self.fields.get("at", "")
        try:
            return float(raw)
        except ValueError:
            return int(self.id.split("-", 1)[0]) / 1000.0

    def float_field(self, name: str) -> float | None:
        try:
            return float(self.fields.get(name, ""))
        except ValueError:
            return None

    async def call(self) -> Call | None:
        """The call's hash as it is now (read once per event)."""
        if not self._call_read and self.call_id:
            self._call = await self.store.get_call(self.call_id)
            self._call_read = True
        return self._call

    async def agent(self) -> Agent | None:
        if not self._agent_read and self.agent_id:
            self._agent = await self.store.get_agent(self.agent_id)
            self._agent_read = True
        return self._agent


class Handler(Protocol):
    name: str

    async def handle(self, ev: Event) -> None: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class PbxFeed:
    name: str
    store: Store
    keys: IntKeys


class Runner:
    """Start with `await start()` after the stores are open; `await stop()` before closing
    them. `handlers` are built by `build_handlers` (acd/integrations/__init__.py)."""

    def __init__(self, cfg: Config, stores: dict[str, Store], redis: IntegrationRedis,
                 handlers: list[Handler], *, consumer: str, start_ms: int | None = None,
                 block_ms: int = BLOCK_MS, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.redis = redis
        self.handlers = handlers
        self.consumer = consumer
        self.group = cfg.integrations.group
        self.feeds = [PbxFeed(name, store, IntKeys(store.keys)) for name, store in stores.items()]
        self._start_ms = start_ms if start_ms is not None else int(clock() * 1000)
        self._block_ms = block_ms
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self.counts: Counter[str] = Counter()
        self.last_id: dict[str, str] = {}  # by PBX: the last event handled (tests wait on it)

    async def start(self) -> None:
        for feed in self.feeds:
            await self.redis.ensure_group(feed.store.keys.events, self.group,
                                          f"{self._start_ms}-0")
        for feed in self.feeds:
            self._tasks.append(asyncio.create_task(self._follow(feed),
                                                   name=f"integrations-{feed.name}"))

    async def stop(self) -> None:
        # Bounded, as Engine.stop: on a loaded box a task cancelled inside its blocking
        # XREADGROUP was seen never to finish (redis-py), which hung the service's stop.
        await cancel_and_wait(self._tasks, give_up_s=STOP_TIMEOUT_S)
        self._tasks.clear()
        for handler in self.handlers:
            try:
                await handler.close()
            except Exception:
                log.exception("integration %s failed to close", handler.name)

    async def _follow(self, feed: PbxFeed) -> None:
        stream = feed.store.keys.events
        backlog = True  # first what we were given before a restart and did not ack
        next_claim = self._clock() + CLAIM_EVERY_S
        while True:
            try:
                if backlog:
                    entries = await self.redis.read_group(stream, self.group, self.consumer,
                                                          count=BATCH, block_ms=None,
                                                          pending=True)
                    backlog = bool(entries)
                else:
                    entries = await self.redis.read_group(stream, self.group, self.consumer,
                                                          count=BATCH, block_ms=self._block_ms)
                if self._clock() >= next_claim:
                    next_claim = self._clock() + CLAIM_EVERY_S
                    entries += await self.redis.claim_stale(stream, self.group, self.consumer,
                                                            STALE_MS)
                for eid, fields in entries:
                    if fields:  # (no fields: trimmed from the stream before we read it)
                        await self._process(feed, eid, fields)
                await self.redis.ack(stream, self.group, [eid for eid, _ in entries])
                if entries:
                    self.last_id[feed.name] = entries[-1][0]
            except asyncio.CancelledError:
                raise
            except Exception:
                self.counts["read_errors"] += 1
                log.exception("integrations: reading the events of %s failed; retrying",
                              feed.name)
                await asyncio.sleep(1.0)

    async def _process(self, feed: PbxFeed, eid: str, fields: dict[str, str]) -> None:
        ev = Event(feed.name, eid, fields, feed.store)
        try:
            ev.track = await _track_before(self.redis, feed.keys, ev)
        except Exception:
            self.counts["track_errors"] += 1
            log.exception("integrations: tracking %s %s failed", ev.type, eid)
        for handler in self.handlers:
            try:
                await handler.handle(ev)
            except Exception:
                self.counts[f"{handler.name}_errors"] += 1
                log.exception("integration %s failed on %s %s", handler.name, ev.type, eid)
        try:
            await self._track_after(feed.keys, ev)
        except Exception:
            self.counts["track_errors"] += 1
            log.exception("integrations: tracking %s %s failed", ev.type, eid)
        # (counted once every handler is through with it: what it wrote can be read now)
        self.counts["events"] += 1

    async def _track_after(self, keys: IntKeys, ev: Event) -> None:
        if ev.type != "call_ended":
            return
        call = await ev.call()
        if call is not None and call.caller_num and call.queue:
            icfg = self.cfg.integrations
            await self.redis.push_recent(
                keys.by_number(call.caller_num),
                {"call_id": call.id, "at": ev.at, "queue": call.queue, "agent": ev.agent_id,
                 "outcome": ev.fields.get("outcome", "")},
                icfg.history_per_number, icfg.history_days * 86_400)
        await self.redis.delete(keys.track(ev.call_id))


def _ring(track: dict[str, Any], ev: Event, result: str) -> None:
    """Close the ring in progress (if any) with `result`."""
    start = track.get("ring_at")
    if start is None:
        return
    ring = {"agent": track.get("ring_agent", ""), "leg_id": track.get("ring_leg", ""),
            "start": start, "end": ev.at, "result": result}
    track["rings"] = [*track.get("rings", []), ring]
    track["ring_s"] = max(0.0, ev.at - float(start))
    for key in ("ring_at", "ring_agent", "ring_leg"):
        track.pop(key, None)


async def _queue_position(redis: IntegrationRedis, ev: Event) -> int | None:
    """1-based place of a waiting call in its queue now, or None."""
    queue = ev.fields.get("queue", "")
    if not queue:
        return None
    rank = await redis.zrank(ev.store.keys.queue(queue), ev.call_id)
    return None if rank is None else rank + 1


async def _exit_position(redis: IntegrationRedis, ev: Event) -> int:
    """Where an ended call stood when it left its queue: calls ahead of it + 1 (the queue's
    score, see acd/store/lua/_lib.lua queue_score); 1 if it was ringing."""
    if ev.fields.get("from_state") != "waiting":
        return 1
    call = await ev.call()
    if call is None or call.entered_at is None or not call.queue:
        return 1
    score = -float(call.priority) * 1e13 + float(int(call.entered_at * 1000 + 0.5))
    return await redis.zcount_below(ev.store.keys.queue(call.queue), score) + 1


async def _track_before(redis: IntegrationRedis, keys: IntKeys, ev: Event) -> dict[str, Any]:
    """Update the call's (or agent's) tracking hash for this event; returns what the handlers
    see as `ev.track`: the hash after the event plus `ring_s`, `position`, `login_s`."""
    if ev.type == "agent_state_changed":
        return await _track_agent(redis, keys, ev)
    if not ev.call_id or not ev.type.startswith("call_"):
        return {}
    key = keys.track(ev.call_id)
    stored = await redis.hgetall(key)
    track: dict[str, Any] = {k: json.loads(v) for k, v in stored.items()}
    kind = ev.type
    if kind == "call_queued":
        track["queued_at"] = ev.float_field("entered_at") or ev.at
        position = await _queue_position(redis, ev)
        if position is not None and "origposition" not in track:
            track["origposition"] = position
    elif kind == "call_claimed":
        _ring(track, ev, "replaced")  # cannot happen: a claim follows a requeue
        track.update(ring_at=ev.at, ring_agent=ev.agent_id, ring_leg=ev.fields.get("leg_id", ""))
    elif kind == "call_requeued":
        _ring(track, ev, ev.fields.get("reason") or "rona")
    elif kind == "call_answered":
        _ring(track, ev, "answered")
    elif kind == "call_ended":
        if ev.fields.get("from_state") == "ringing":
            _ring(track, ev, "canceled")
        track["position"] = await _exit_position(redis, ev)
    elif kind == "call_transferred":
        _transferred(track, ev, await _queue_position(redis, ev))
    if kind in ("call_queued", "call_claimed", "call_requeued", "call_answered",
                "call_transferred"):
        keep = {k: json.dumps(v) for k, v in track.items() if k not in ("ring_s", "position")}
        await redis.replace_hash(key, keep, TRACK_TTL_S)
    return track


def _transferred(track: dict[str, Any], ev: Event, position: int | None) -> None:
    """Issue 9: the conversation that ended in a transfer held from `hold_from` (its queue
    entry, or the previous transfer); the next one starts now. A transfer to an agent rings
    it (a ring, as a claim); to a queue, the call waits at `position` there."""
    track["hold_from"] = track.get("segment_at") or ev.float_field("entered_at") or ev.at
    track["segment_at"] = ev.at
    to_agent = ev.fields.get("to_agent", "")
    if to_agent and ev.fields.get("state") == "ringing":
        track.update(ring_at=ev.at, ring_agent=to_agent, ring_leg=ev.fields.get("leg_id", ""))
    if position is not None:
        track["position"] = position


async def _track_agent(redis: IntegrationRedis, keys: IntKeys, ev: Event) -> dict[str, Any]:
    key = keys.agent(ev.agent_id)
    before, after = ev.fields.get("from_state", ""), ev.fields.get("state", "")
    if before == "logged_out" and after != "logged_out":
        await redis.hset(key, {"login_at": repr(ev.at)}, 400 * 86_400)
        return {}
    if after == "logged_out":
        stored = await redis.hgetall(key)
        await redis.delete(key)
        try:
            return {"login_s": max(0.0, ev.at - float(stored["login_at"]))}
        except (KeyError, ValueError):
            return {}
    return {}
