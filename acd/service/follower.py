"""One PBX's live calls and agents as the store has them, for the figures process
(`http.own_process`): it shows the picture the routing process drives, without driving it.

Kept current from the store's events stream: before each refresh the events since the last
one are read (without waiting) and the calls and agents they name are read again, a pipeline
of hashes per round trip. Everything is read again when events were missed (trimmed from the
capped stream before they were read, or the stream deleted) and every FULL_READ_S anyway, so a
change that no event names is shown within that time too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from acd.config import Config
from acd.core.model import Agent, Call, CallState
from acd.core.policy import Rules, rules_from_config
from acd.store import Store

log = logging.getLogger("acd.figures")
T = TypeVar("T")

FULL_READ_S = 60.0
# Stream entries per XRANGE. Redis runs one command at a time and the routing process's claims
# wait behind it: 5,000 entries held Redis for 12-14 ms at the full size; 500 about a tenth.
# And their decoding is a step of the figures loop: 500 were ~3.5 ms of it (session 11).
EVENTS_PER_READ = 128
NOT_KNOWN = (False, "routing process not heard from yet")
MAX_RETIRED = 4  # what full reads replaced, kept for the figures to free in slices


class Follower:
    """A LiveSource (acd/service/live.py) over one PBX's store. `status`: whether that PBX is
    attached, as the routing process says (see RoutingStatus)."""

    def __init__(self, cfg: Config, store: Store, *,
                 status: Callable[[], tuple[bool, str]] = lambda: NOT_KNOWN,
                 now: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.store = store
        self.now = now
        self.rules: Rules = rules_from_config(cfg.queues)
        self.calls: dict[str, Call] = {}
        self.agents: dict[str, Agent] = {}
        self.idle = asyncio.Event()
        self.idle.set()  # nothing routes here: the figures' slices never wait
        self._status = status
        self._last = "0-0"  # the last event read
        self._consumed = 0  # events read up to and including it (see Store.events_after)
        self._full_at: float | None = None  # monotonic time of the last full read
        self._offsets: dict[str, float] | None = None
        self._published: dict[str, float] | None = None
        self._times: dict[str, float] | None = None  # handle times, the same way
        self._times_published: dict[str, float] | None = None
        self.full_reads = 0
        # What a full read replaced: every call and agent at once, tens of ms to free at the
        # full size; the figures free it in slices (ServiceBackend.free_retired).
        self.retired: list[object] = []

    def attached(self) -> tuple[bool, str]:
        return self._status()

    def apply_config(self, cfg: Config) -> None:
        self.cfg = cfg
        self.rules = rules_from_config(cfg.queues)

    def set_offsets(self, offsets: dict[str, float]) -> None:
        """Published to the store at the next catch_up, for the routing process to apply."""
        self._offsets = dict(offsets)

    def set_handle_times(self, times: dict[str, float]) -> None:
        """Published to the store at the next catch_up, as the offsets are."""
        self._times = dict(times)

    async def catch_up(self) -> None:
        if self._offsets is not None and self._offsets != self._published:
            await self.store.publish_offsets(self._offsets)
            self._published = self._offsets
        if self._times is not None and self._times != self._times_published:
            await self.store.publish_handle_times(self._times)
            self._times_published = self._times
        if self._full_at is None or time.monotonic() - self._full_at >= FULL_READ_S:
            await self.read_all()
            return
        call_ids: set[str] = set()
        agent_ids: set[str] = set()
        while True:
            entries, added, kept = await self.store.events_after(self._last, EVENTS_PER_READ)
            if added < self._consumed or added - self._consumed > kept:
                log.info("figures of %s: events were missed; reading everything again",
                         self.cfg.pbx.name)
                await self.read_all()
                return
            for event_id, fields in entries:
                self._last = event_id
                for name in ("call", "agent", "to_agent"):
                    if fields.get(name):
                        (call_ids if name == "call" else agent_ids).add(fields[name])
            self._consumed += len(entries)
            if len(entries) < EVENTS_PER_READ:
                break
        if call_ids:
            self._put_calls(await self.store.get_calls(sorted(call_ids)))
        if agent_ids:
            self._put_agents(await self.store.get_agents(sorted(agent_ids)))

    async def read_all(self) -> None:
        """Every live call and agent, and the events stream from where it stands now (a
        change made while reading is read again at the next catch_up)."""
        self._last, self._consumed = await self.store.stream_position()
        calls = await self.store.load_live_calls()
        agents = await self.store.load_agents()
        self.retired += (self.calls, self.agents)
        del self.retired[:-MAX_RETIRED]  # (nobody freeing them: the oldest go at once)
        self.calls = {c.id: c for c in calls if c.state is not CallState.ENDED}
        self.agents = {a.id: a for a in agents}
        self._full_at = time.monotonic()
        self.full_reads += 1

    def _put_calls(self, found: dict[str, Call | None]) -> None:
        self.calls = _replaced(self.calls, found, lambda c: c.state is not CallState.ENDED)

    def _put_agents(self, found: dict[str, Agent | None]) -> None:
        self.agents = _replaced(self.agents, found, lambda _a: True)


def _replaced(current: dict[str, T], found: dict[str, T | None],
              live: Callable[[T], bool]) -> dict[str, T]:
    """A new dict (a refresh may hold the old one): `found` put in, what is gone (None) or no
    longer live taken out."""
    out = dict(current)
    for key, item in found.items():
        if item is None or not live(item):
            out.pop(key, None)
        else:
            out[key] = item
    return out
