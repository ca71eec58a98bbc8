"""The EWT of every waiting call at once, by the model of acd/stats/ewt.py. Pure.

`call_ewt` answers for one call by walking every waiting call (O(n) each, O(n^2) for a queue
of n). The policies of acd/service/flow need every waiting caller's EWT every second, so this
module gives the same answers in one pass per kind of call (queue + required skills): walk the
waiting calls in routing order once, adding up for each kind the share of the calls ahead that
its agents take, and read the k-th free-up time of the kind's agents from one heap sequence.

For calls given in routing order the results equal call_ewt's exactly (same sums in the same
order); tests/test_flow_units.py checks it on random centres.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.routing import call_key, serves
from acd.stats.ewt import ABLE_STATES, CallKind, busy_remaining_s


@dataclass(frozen=True, slots=True)
class Placed:
    """A waiting call's EWT (None: no estimate) and its 1-based place in its queue."""

    ewt_s: float | None
    position: int


def _kind(call: Call) -> CallKind:
    return (call.queue, frozenset(call.required.items()))


def _free_ups(times: list[float], aht_s: float | None, count: int) -> list[float]:
    """The first `count` free-up times of agents whose first free-ups are `times`: each agent
    frees up again every `aht_s` after (with aht_s None only the first free-ups are known)."""
    if aht_s is None:
        return sorted(times)[:count]
    heap = list(times)
    heapq.heapify(heap)
    out = []
    for _ in range(count):
        first = heap[0]
        out.append(first)
        heapq.heapreplace(heap, first + aht_s)
    return out


def waiting_placed(calls: Sequence[Call], agents: Sequence[Agent], now: float,
                   aht_s: Callable[[str], float | None],
                   wrapup_s: Callable[[str], float],
                   only: Mapping[str, object] | None = None) -> dict[str, Placed]:
    """EWT and queue position of every waiting call (or only of those whose id is in `only`).
    `aht_s(queue)` and `wrapup_s(queue)`: the handle and wrap-up time used for the queue."""
    waiting = sorted((c for c in calls if c.state is CallState.WAITING), key=call_key)
    working = [a for a in agents if a.state in ABLE_STATES]
    wanted = [c for c in waiting if only is None or c.id in only]
    kinds: dict[CallKind, Call] = {}
    for c in wanted:
        kinds.setdefault(_kind(c), c)
    takers: dict[CallKind, set[str]] = {}

    def takers_of(kind: CallKind, sample: Call) -> set[str]:
        found = takers.get(kind)
        if found is None:
            found = takers[kind] = {a.id for a in working if serves(a, sample)}
        return found

    out: dict[str, Placed] = {}
    positions = _positions(waiting)
    for kind, sample in kinds.items():
        able = [a for a in working if serves(a, sample)]
        ours = {a.id for a in able}
        shares: dict[CallKind, float] = {}
        ahead: dict[str, int] = {}
        total = 0.0
        for other in waiting:
            okind = _kind(other)
            if okind == kind:
                ahead[other.id] = int(total + 0.5)
            if okind not in shares:
                mine = takers_of(okind, other) & ours
                shares[okind] = len(mine) / len(takers_of(okind, other)) if mine else 0.0
            total += shares[okind]
        members = [c for c in wanted if _kind(c) == kind]
        queue = sample.queue
        ewts = _kind_ewts(able, [1 + ahead[c.id] for c in members], now, aht_s(queue),
                          wrapup_s(queue))
        for c, ewt in zip(members, ewts, strict=True):
            out[c.id] = Placed(ewt, positions[c.id])
    return out


def _positions(waiting: Sequence[Call]) -> dict[str, int]:
    """1-based place of each waiting call among the waiting calls of its queue (routing
    order), as the snapshot's call views count it."""
    seen: dict[str, int] = {}
    out: dict[str, int] = {}
    for c in waiting:
        seen[c.queue] = seen.get(c.queue, 0) + 1
        out[c.id] = seen[c.queue]
    return out


def _kind_ewts(able: Sequence[Agent], positions: Sequence[int], now: float,
               aht_s: float | None, wrapup_s: float) -> list[float | None]:
    """estimate_wait for each position, with one free-up sequence for all of them."""
    if not able:
        return [None] * len(positions)
    busy = [busy_remaining_s(a, now, aht_s, wrapup_s) for a in able
            if a.state is not AgentState.READY]
    free_now = len(able) - len(busy)
    times = [0.0] * free_now + [max(0.0, r) for r in busy]
    sequence = _free_ups(times, aht_s, max(positions, default=0))
    out: list[float | None] = []
    for k in positions:
        if k <= free_now:
            out.append(0.0)
        elif k > len(sequence):
            out.append(None)  # beyond the known free-ups (no handle time yet)
        else:
            found = sequence[k - 1]
            out.append(None if math.isinf(found) else found)
    return out
