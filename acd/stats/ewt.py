"""Estimated wait time (EWT): what the service predicts for a caller, and announces. Pure.

The model ("next free agent"): a caller at position k (1-based, k - 1 callers ahead of it that
the same agents will take first) is answered when an agent frees up for the k-th time. Each able
agent frees up for the first time after its expected remaining time (0 for a ready agent) and
then once every `aht_s` (it takes the next caller and handles it for the average handle time).
So EWT(k) is the k-th smallest value of { r_i + j * aht_s : agent i, j = 0, 1, 2, ... }.

- it is 0 while a ready agent is free for the caller (k <= ready agents);
- it never decreases when k grows (the k-th smallest of a fixed multiset), and never increases
  when an agent is added or a remaining time shrinks;
- with one agent and all others gone it is r + (k - 1) * aht_s, with many agents it tends to
  (k / agents) * aht_s, the familiar "position x AHT / agents" rule;
- unknown parts give None ("no estimate") instead of a guess: no able agent logged in, or no
  handle time known yet (aht_s None) for a caller beyond the agents' first free-up. A remaining
  time of math.inf marks an agent whose free-up time is unknown.

`busy_remaining_s` turns an agent's state into its expected remaining time; `call_ewt` puts it
together for one (real or hypothetical) waiting call, sharing agents fairly between the queues
that compete for them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from fractions import Fraction

from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.routing import call_key, serves

# Agents that take calls, now or as soon as their current call is over.
ABLE_STATES = frozenset({AgentState.READY, AgentState.RESERVED, AgentState.ON_CALL,
                         AgentState.WRAP_UP})


def estimate_wait(position: int, able_agents: int, busy_remaining_s: Sequence[float],
                  aht_s: float | None) -> float | None:
    """EWT in seconds of the caller at `position` (1-based), by the model above.

    `able_agents` counts the logged-in agents that will take this caller (ready or busy);
    `busy_remaining_s` holds one expected remaining time per busy one among them (so at most
    `able_agents` entries; the others are free now). None when no estimate can be made.
    """
    if position < 1:
        raise ValueError(f"position is 1-based, got {position}")
    if len(busy_remaining_s) > able_agents:
        raise ValueError(f"{len(busy_remaining_s)} busy agents but only {able_agents} able")
    if aht_s is not None and (aht_s < 0 or math.isnan(aht_s)):
        raise ValueError(f"average handle time must be >= 0, got {aht_s}")
    if able_agents <= 0:
        return None
    free_now = able_agents - len(busy_remaining_s)
    if position <= free_now:
        return 0.0
    times = [0.0] * free_now + [max(0.0, r) for r in busy_remaining_s]
    if aht_s is None:
        if position > able_agents:
            return None
        times.sort()
        found = times[position - 1]
    else:
        heapq.heapify(times)
        found = _after_takes(times, position - 1, aht_s)
    return None if math.isinf(found) else found


def _after_takes(heap: list[float], takes: int, aht_s: float) -> float:
    """The earliest free-up time once `takes` callers are taken: each taken by the agent
    free first, free again `aht_s` later (the heap changed in place).

    One take at a time, a heap operation each; but while every time is within one handle
    time of the earliest (`max <= min + aht_s`), the next len(heap) takes take each of them
    once, whatever their order, and leave each plus aht_s: one pass, the same float additions
    (so the same figure to the last bit). At the full bench size, a queue's next caller had
    ~750 callers ahead of ~200 agents: 751,000 heap operations a figures snapshot."""
    if aht_s == 0:
        return heap[0]  # (each take puts the earliest time back as it was)
    n = len(heap)
    while takes:
        if takes >= n and max(heap) <= heap[0] + aht_s:
            heap[:] = [t + aht_s for t in heap]  # (still a heap: adding keeps the order)
            takes -= n
        else:
            step = min(takes, n)
            for _ in range(step):
                heapq.heapreplace(heap, heap[0] + aht_s)
            takes -= step
    return heap[0]


def busy_remaining_s(agent: Agent, now: float, aht_s: float | None, wrapup_s: float) -> float:
    """Expected seconds until an able agent is free for the next caller (math.inf: unknown).

    ready: 0; wrap-up: what is left of `wrapup_s`; on a call: what is left of the handle time,
    and at least the wrap-up; reserved (phone ringing): a whole handle time. (The same rules
    for many agents at once: busy_remaining_many, which must change with them; a test holds
    the two together.)
    """
    elapsed = max(0.0, now - agent.state_since)
    if agent.state is AgentState.READY:
        return 0.0
    if agent.state is AgentState.WRAP_UP:
        return max(0.0, wrapup_s - elapsed)
    if aht_s is None:
        return math.inf
    if agent.state is AgentState.ON_CALL:
        return max(aht_s - elapsed, wrapup_s)
    return aht_s


def busy_remaining_many(on_call_s: Sequence[float], wrap_up_s: Sequence[float], reserved: int,
                        aht_s: float | None, wrapup_s: float) -> list[float]:
    """busy_remaining_s of many agents at once, given how long each agent on a call and each
    in wrap-up has been in that state (not negative) and how many are reserved: the same
    rules, in another order (which estimate_wait does not depend on), for a list of serving
    agents shared by many queues (ewt_queues.py), one pass a state instead of a call an
    agent."""
    done = [max(0.0, wrapup_s - e) for e in wrap_up_s]
    if aht_s is None:
        return done + [math.inf] * (len(on_call_s) + reserved)
    return done + [max(aht_s - e, wrapup_s) for e in on_call_s] + [aht_s] * reserved


CallKind = tuple[str, frozenset[tuple[str, int]]]  # queue, required skills
TakersCache = dict[CallKind, list[str]]  # kind -> ids of the working agents that serve it


def _kind(call: Call) -> CallKind:
    return (call.queue, frozenset(call.required.items()))


def _ahead(call: Call, calls: Sequence[Call], able: Sequence[Agent], agents: Sequence[Agent],
           cache: TakersCache) -> int:
    """Waiting calls that `able` (the agents able to take `call`) will take before it.

    Calls ahead are those before it in routing order (priority, then queue entry). One that
    other agents can take as well counts for the share of its possible agents that are ours:
    with fair sharing, that is how many of them our agents are expected to take. The shares are
    added exactly (fractions) and rounded half up, so the result never depends on the order of
    the calls (ewt_queues.py reaches the same figure by another route).
    """
    key = call_key(call)
    ahead: dict[CallKind, list[Call]] = {}  # kind -> the calls of that kind ahead
    for other in calls:
        if other.state is not CallState.WAITING or other.id == call.id or call_key(other) >= key:
            continue
        ahead.setdefault(_kind(other), []).append(other)
    ours = {a.id for a in able}
    working: list[Agent] | None = None
    total = Fraction(0)
    for kind, of_kind in ahead.items():
        takers = cache.get(kind)
        if takers is None:
            if working is None:
                working = [a for a in agents if a.state in ABLE_STATES]
            takers = cache[kind] = [a.id for a in working if serves(a, of_kind[0])]
        mine = sum(1 for t in takers if t in ours)
        if mine:
            total += Fraction(len(of_kind) * mine, len(takers))
    return math.floor(total + Fraction(1, 2))


def call_ewt(call: Call, now: float, calls: Sequence[Call], agents: Sequence[Agent],
             aht_s: float | None, wrapup_s: float, *,
             cache: TakersCache | None = None) -> float | None:
    """EWT of a waiting call (or of a hypothetical one about to enter: entered_at = now).

    `cache` may be shared by calls made with the same `agents` (as one snapshot does), so who
    serves which kind of call is worked out once.
    """
    able = [a for a in agents if a.state in ABLE_STATES and serves(a, call)]
    if not able:
        return None
    position = 1 + _ahead(call, calls, able, agents, {} if cache is None else cache)
    busy = [busy_remaining_s(a, now, aht_s, wrapup_s) for a in able
            if a.state is not AgentState.READY]
    return estimate_wait(position, len(able), busy, aht_s)
