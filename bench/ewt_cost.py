"""What the caller-facing policies' EWT costs per caller: `python -m bench.ewt_cost`.

Centres shaped like bench/centre.py (every queue needs one or two of 50 skills, agents hold 4-6
and serve every queue they are skilled for, three quarters of them busy); for each size: the
EWT of one caller entering a queue as the engine works it out (acd.stats.ewt_batch.
counted_entry_ewt, from the census of waiting calls and the KindCache it keeps), by a walk over
the waiting calls (entry_ewt) and by acd.stats.ewt.call_ewt, and one tick for the callers of
three queues and of thirty: the first time for those kinds, then again with the waiting calls
sorted, and with them taken in the census's order as the engine does. Between the counted
callers one agent pauses or comes back, as in a live centre.
"""

from __future__ import annotations

import dataclasses
import random
import time

from acd.core.model import Agent, AgentState, Call, CallState
from acd.stats.census import WaitingCensus
from acd.stats.ewt import call_ewt
from acd.stats.ewt_batch import (
    counted_entry_ewt,
    entry_ewt,
    in_routing_order,
    waiting_placed,
)
from acd.stats.kinds import KindCache

SIZES = ((1000, 500, 100), (3000, 1500, 300), (10_000, 5000, 1000))


def centre(n_calls: int, n_agents: int, n_queues: int,
           rng: random.Random, now: float) -> tuple[list[Call], list[Agent], Call]:
    skills = [f"s{i}" for i in range(50)]
    needs = {f"q{i}": dict.fromkeys(rng.sample(skills, rng.choice([1, 2])), 1)
             for i in range(n_queues)}
    states = [AgentState.READY, AgentState.ON_CALL, AgentState.ON_CALL, AgentState.WRAP_UP]
    agents = [Agent(id=f"a{i}", interface=f"PJSIP/{i}",
                    skills=dict.fromkeys(rng.sample(skills, rng.randint(4, 6)), 3),
                    state=rng.choice(states), state_since=now - rng.random() * 300)
              for i in range(n_agents)]
    calls = []
    for i in range(n_calls):
        queue = rng.choice(list(needs))
        calls.append(Call(id=f"c{i}", channel="", uniqueid="", caller_num="", dnis="",
                          state=CallState.WAITING, queue=queue, required=dict(needs[queue]),
                          entered_at=now - rng.random() * 600))
    newcomer = Call(id="new", channel="", uniqueid="", caller_num="", dnis="",
                    state=CallState.WAITING, queue="q1", required=dict(needs["q1"]),
                    entered_at=now)
    return calls, agents, newcomer


def main() -> None:
    rng, now = random.Random(1), 1e9
    for n_calls, n_agents, n_queues in SIZES:
        calls, agents, newcomer = centre(n_calls, n_agents, n_queues, rng, now)
        cache = KindCache()
        first = entry_ewt(newcomer, now, calls, agents, 240.0, 10.0, cache)  # fills the cache
        t0 = time.perf_counter()
        for _ in range(5):
            assert entry_ewt(newcomer, now, calls, agents, 240.0, 10.0, cache) == first
        entry_ms = (time.perf_counter() - t0) / 5 * 1000
        census, by_id = WaitingCensus(), {a.id: a for a in agents}
        for call in calls:
            census.put(call)
        t0 = time.perf_counter()
        for _ in range(5):
            assert counted_entry_ewt(newcomer, now, census, by_id, 240.0, 10.0, cache) == first
        counted_ms = (time.perf_counter() - t0) / 5 * 1000
        # As in a live centre: between two callers an agent pauses (after a ring-no-answer,
        # say) or comes back, which changes who is working.
        t0 = time.perf_counter()
        for i in range(10):
            agent = by_id[f"a{i}"]
            by_id[agent.id] = dataclasses.replace(agent, state=AgentState.NOT_READY)
            counted_entry_ewt(newcomer, now, census, by_id, 240.0, 10.0, cache)
            by_id[agent.id] = agent
        moved_ms = (time.perf_counter() - t0) / 10 * 1000
        t0 = time.perf_counter()
        assert call_ewt(newcomer, now, calls, agents, 240.0, 10.0) == first
        plain_ms = (time.perf_counter() - t0) * 1000
        ticks = []
        for n_asked in (3, 30):
            asked = {f"q{i}" for i in range(1, n_asked + 1)}
            callers = {c.id: c for c in calls if c.queue in asked}
            t_cold = time.perf_counter()
            waiting_placed(in_routing_order(calls), agents, now, lambda q: 240.0,
                           lambda q: 10.0, only=callers,
                           cache=cache)  # (the first for those kinds: their shares counted)
            t0 = time.perf_counter()
            sorted_ = waiting_placed(in_routing_order(calls), agents, now, lambda q: 240.0,
                                     lambda q: 10.0, only=callers, cache=cache)
            t1 = time.perf_counter()
            # as the engine's tick does it: the waiting calls in the census's order
            counted = waiting_placed(census.in_order(), agents, now, lambda q: 240.0,
                                     lambda q: 10.0, only=callers, cache=cache)
            t2 = time.perf_counter()
            assert counted == sorted_
            ticks.append(f"{(t2 - t1) * 1000:.0f} ms for the {len(callers)} callers of "
                         f"{n_asked} queues (sorting them all: {(t1 - t0) * 1000:.0f} ms; "
                         f"the first time: {(t0 - t_cold) * 1000:.0f} ms)")
        print(f"{n_calls} waiting / {n_agents} agents / {n_queues} queues: a new caller's EWT "
              f"{counted_ms:.2f} ms, {moved_ms:.2f} ms after an agent paused (walked "
              f"{entry_ms:.1f} ms, call_ewt {plain_ms:.0f} ms); a tick {'; '.join(ticks)}")

if __name__ == "__main__":
    main()
