"""The EWT of the next caller of every queue at once (the snapshot's `ewt_s`). Pure.

The figure is exactly `ewt.call_ewt` of each queue's probe call (a caller entering now with the
queue's own skills), but call_ewt costs O(calls + agents) per queue: 1,000 queues x (10,000
calls + 5,000 agents) is 15 M steps per snapshot. The sum call_ewt makes per queue P,

    ahead(P) = sum over kinds k of waiting calls ahead:  n_k * |takers(k) & able(P)| / |takers(k)|

is rearranged as a sum over P's able agents of one weight per agent,

    weight(a) = sum over kinds k that agent a takes:  n_k / |takers(k)|

so every queue costs only its own agents: O(calls + sum of agents serving each queue). The
probe's place in routing order is the same for every queue (priority 0, entering now), so the
calls ahead and their kinds are counted once. Floats are exact enough except when a total lies
within rounding error of x.5; then that queue's total is summed again in fractions, as
call_ewt does, so both give the same figure.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from acd.core.model import PRIORITY_NORMAL, Agent, AgentState, Call, CallState
from acd.core.routing import call_key, serves
from acd.core.steps import ITEMS_PER_STEP
from acd.stats.ewt import ABLE_STATES, CallKind, busy_remaining_many, estimate_wait
from acd.stats.fig_agents import PROBE_ID

QueueParams = tuple[Mapping[str, int], float | None, float]  # skills, aht_s, wrapup_s
_TIE = 1e-7  # relative distance to x.5 under which a float total is summed again exactly


def probe_ewts(params: Mapping[str, QueueParams], now: float, calls: Sequence[Call],
               agents: Sequence[Agent], serving: Mapping[str, Sequence[Agent]]
               ) -> Generator[None, None, dict[str, float | None]]:
    """queue -> EWT of a caller entering it now (None: no estimate), for every queue of
    `params`; `serving` holds each of them's serving agents in the order of `agents`
    (QueueMembership.by_queue). A generator: it yields between steps, so that the caller
    can let other work run; its return value is the result."""
    key = (-PRIORITY_NORMAL, now, PROBE_ID)  # call_key of every queue's probe call
    counts: dict[CallKind, int] = {}
    sample: dict[CallKind, Call] = {}
    for i, c in enumerate(calls):
        if c.state is CallState.WAITING and c.id != PROBE_ID and call_key(c) < key:
            kind = (c.queue, frozenset(c.required.items()))
            counts[kind] = counts.get(kind, 0) + 1
            sample.setdefault(kind, c)
        if i % ITEMS_PER_STEP == ITEMS_PER_STEP - 1:
            yield
    takers_of: dict[CallKind, list[str]] = {}
    weight: dict[str, float] = {}
    working: list[Agent] | None = None
    own = {q: frozenset(p[0].items()) for q, p in params.items()}
    for kind, n in counts.items():
        queue, required = kind
        if queue in serving and own.get(queue) == required:
            takers = [a.id for a in serving[queue] if a.state in ABLE_STATES]
        else:  # a call with skills of its own, or of a queue no longer configured
            if working is None:
                working = [a for a in agents if a.state in ABLE_STATES]
            takers = [a.id for a in working if serves(a, sample[kind])]
        takers_of[kind] = takers
        if takers:
            share = n / len(takers)
            for t in takers:
                weight[t] = weight.get(t, 0.0) + share
        yield
    out: dict[str, float | None] = {}
    # What depends only on the agents, once per list of serving agents (by_queue shares
    # equal lists), and their busy times once per list and handle time: at the full bench
    # size these were 213,000 busy_remaining_s calls a snapshot, half its EWT time.
    of_group: dict[int, _Group] = {}
    for queue, (_skills, aht_s, wrapup_s) in params.items():
        group = serving.get(queue, ())
        known = of_group.get(id(group))
        if known is None:
            known = of_group[id(group)] = _group_of(group, now, weight, counts, takers_of)
        out[queue] = known.probe_ewt(aht_s, wrapup_s)
        yield
    return out


@dataclass(frozen=True, slots=True)
class _Group:
    """A list of serving agents as a queue's probe sees it: how many are able and ready, the
    calls ahead of the probe, and how long the busy ones have been in their state."""

    able: int
    ready: int
    ahead: int
    on_call: list[float]  # seconds since each agent on a call began it
    wrap_up: list[float]  # the same of each agent in wrap-up
    reserved: int  # agents whose phone rings
    # busy times by (handle time, wrap-up time): estimate_wait never changes them
    _busy: dict[tuple[float | None, float], list[float]] = field(default_factory=dict)

    def probe_ewt(self, aht_s: float | None, wrapup_s: float) -> float | None:
        """ewt.estimate_wait of the probe of a queue these agents serve."""
        if not self.able:
            return None
        if 1 + self.ahead <= self.ready and (aht_s is None or aht_s >= 0):
            return 0.0  # (estimate_wait's own answer: an agent is free for the probe)
        busy = self._busy.get((aht_s, wrapup_s))
        if busy is None:
            busy = self._busy[aht_s, wrapup_s] = busy_remaining_many(
                self.on_call, self.wrap_up, self.reserved, aht_s, wrapup_s)
        return estimate_wait(1 + self.ahead, self.able, busy, aht_s)


def _group_of(group: Sequence[Agent], now: float, weight: Mapping[str, float],
              counts: Mapping[CallKind, int], takers_of: Mapping[CallKind, list[str]]
              ) -> _Group:
    able = [a for a in group if a.state in ABLE_STATES]
    ready = sum(1 for a in able if a.state is AgentState.READY)
    on_call = [max(0.0, now - a.state_since) for a in able if a.state is AgentState.ON_CALL]
    wrap_up = [max(0.0, now - a.state_since) for a in able if a.state is AgentState.WRAP_UP]
    reserved = len(able) - ready - len(on_call) - len(wrap_up)
    return _Group(len(able), ready, _ahead(able, weight, counts, takers_of), on_call, wrap_up,
                  reserved)


def _ahead(able: Sequence[Agent], weight: Mapping[str, float],
           counts: Mapping[CallKind, int], takers_of: Mapping[CallKind, list[str]]) -> int:
    """The calls ahead of a queue's probe, its able agents given (see the module's doc)."""
    if not able:
        return 0
    ours = {a.id for a in able}
    total = sum(weight.get(i, 0.0) for i in ours)
    if abs(total - math.floor(total) - 0.5) <= _TIE * max(1.0, total):
        return _exact_ahead(counts, takers_of, ours)
    return math.floor(total + 0.5)


def _exact_ahead(counts: Mapping[CallKind, int], takers_of: Mapping[CallKind, list[str]],
                 ours: set[str]) -> int:
    """ewt._ahead's sum in fractions, rounded half up (for a total too close to x.5)."""
    total = Fraction(0)
    for kind, n in counts.items():
        takers = takers_of[kind]
        mine = sum(1 for t in takers if t in ours)
        if mine:
            total += Fraction(n * mine, len(takers))
    return math.floor(total + Fraction(1, 2))
