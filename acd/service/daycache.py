"""Today's counts with the closed 15-minute intervals read once.

A closed interval never changes (every fact is counted in the interval of its own `now`), so
the snapshot reads only the still-open intervals each time and adds them to the sums of the
closed ones, kept here until local midnight: O(queues + agents + flows) Redis reads per refresh
instead of that times the number of intervals since midnight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from acd.stats.fig_merge import add_agent_counts, add_funnel_counts, add_funnels, add_queue_counts
from acd.stats.raw import INTERVAL_S, AgentCounts, FunnelCounts, QueueCounts
from acd.store import Store

STEP = 64  # counts added between two turns of the event loop (routing goes on meanwhile)
CLOSED_AFTER_S = 60.0  # an interval this long past its end takes no late writes (clock skew)


@dataclass
class _Closed:
    midnight: float
    upto: float  # intervals before this are summed below
    queues: dict[str, QueueCounts] = field(default_factory=dict)
    agents: dict[str, AgentCounts] = field(default_factory=dict)
    funnel: dict[str, FunnelCounts] = field(default_factory=dict)


C = TypeVar("C", QueueCounts, AgentCounts, FunnelCounts)


async def _summed(parts: list[dict[str, C]], new: Callable[[], C],
                  add: Callable[[C, C], None]) -> dict[str, C]:
    """add_queue_counts / add_agent_counts / add_funnels, pausing every STEP counts:
    thousands of agents (or a flow per queue) are milliseconds of adding, which must not
    hold a routing decision up."""
    out: dict[str, C] = {}
    n = 0
    for part in parts:
        for key, counts in part.items():
            add(out.setdefault(key, new()), counts)
            n += 1
            if n % STEP == 0:
                await asyncio.sleep(0)
    return out


class DayCache:
    def __init__(self) -> None:
        self._closed: _Closed | None = None

    async def today(self, store: Store, queues: list[str], agents: list[str], flows: list[str],
                    midnight: float, now: float
                    ) -> tuple[dict[str, QueueCounts], dict[str, AgentCounts],
                               dict[str, FunnelCounts]]:
        closed_upto = max(midnight, (now - CLOSED_AFTER_S) // INTERVAL_S * INTERVAL_S)
        c = self._closed
        if c is None or c.midnight != midnight or c.upto > closed_upto:
            c = self._closed = _Closed(midnight, midnight)
        if c.upto < closed_upto:  # intervals that closed since the last refresh
            await self._add(c, store, queues, agents, flows, c.upto, closed_upto)
            c.upto = closed_upto
        open_q = await store.queue_totals(queues, closed_upto, now + 1)
        open_a = await store.agent_intervals(agents, closed_upto, now + 1)
        open_f = await store.funnel(flows, closed_upto, now + 1)
        return (await _summed([c.queues, open_q], QueueCounts, QueueCounts.add),
                await _summed([c.agents, open_a], AgentCounts, AgentCounts.add),
                await _summed([c.funnel, open_f], FunnelCounts, add_funnel_counts))

    @staticmethod
    async def _add(c: _Closed, store: Store, queues: list[str], agents: list[str],
                   flows: list[str], start: float, end: float) -> None:
        c.queues = add_queue_counts([c.queues, await store.queue_totals(queues, start, end)])
        c.agents = add_agent_counts([c.agents, await store.agent_intervals(agents, start, end)])
        c.funnel = add_funnels([c.funnel, await store.funnel(flows, start, end)])
