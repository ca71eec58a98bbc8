"""The Redis store of one PBX: calls, agents, queue order, VIPs and the events stream.

Every multi-key change is one Lua script (lua/*.lua), atomic with the event it appends, and
returns the new state of what it changed, so callers update their mirror without a read.
Two service instances may share one Redis: the scripts decide every race. The same scripts
count the statistics (see acd/store/stats.py), read back by the StatsReader methods.
"""

from __future__ import annotations

from acd.store.agents import AgentSteps
from acd.store.base import text
from acd.store.callers import CallerSteps
from acd.store.calls import CallSteps
from acd.store.crm import CrmSteps
from acd.store.leases import LeaseSteps
from acd.store.live import LiveReads
from acd.store.policies import PolicySteps
from acd.store.stats import StatsReader
from acd.store.transfers import TransferSteps


class Store(CallSteps, AgentSteps, StatsReader, LeaseSteps, CallerSteps, CrmSteps,
            PolicySteps, TransferSteps, LiveReads):
    """Open with `await Store.open(url, prefix=..., pbx=...)`; `close()` when done."""

    async def waiting_ids(self, queue: str) -> list[str]:
        """Waiting call ids of `queue`, best first (priority, then entry time)."""
        return [text(i) for i in await self._r.zrange(self._k.queue(queue), 0, -1)]

    async def is_vip(self, number: str, account: str) -> bool:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.sismember(self._k.vip_numbers, number)
            pipe.sismember(self._k.vip_accounts, account)
            found = await pipe.execute()
        return bool(number and found[0]) or bool(account and found[1])

    async def add_vips(self, numbers: list[str], accounts: list[str]) -> None:
        async with self._r.pipeline(transaction=False) as pipe:
            if numbers:
                pipe.sadd(self._k.vip_numbers, *numbers)
            if accounts:
                pipe.sadd(self._k.vip_accounts, *accounts)
            await pipe.execute()

    async def read_events(self, last_id: str = "0",
                          count: int = 1000) -> list[tuple[str, dict[str, str]]]:
        """Up to `count` events after `last_id` ("0": from the oldest kept), oldest first.

        Fields of every event: type, call, agent, at (float seconds, "" if not given), plus
        what the type adds (queue, outcome, state, ...: see the lua/ headers), and last `by`,
        the origin tag of the store that wrote it (when it has one, see Store.open).
        """
        entries = await self._r.xrange(self._k.events, min=f"({last_id}", count=count) or []
        return [(text(eid), {text(f): text(v) for f, v in (fields or {}).items()})
                for eid, fields in entries]
