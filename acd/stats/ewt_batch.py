"""The EWT of waiting calls by the model of acd/stats/ewt.py, fast enough to run every second
and on every arrival in a big centre. Pure.

`call_ewt` answers for one call by walking every waiting call and working out each one's kind
(queue + required skills, a frozenset per call): about 36 ms for one caller among 5,000
waiting calls and 500 agents, so 3 minutes for all of them. Here:
- who serves each kind of call (queue + required skills), and the share of one kind's calls
  another kind's agents take, come from the `KindCache` the engine keeps from pass to pass
  (acd/stats/kinds.py);
- `waiting_placed` walks the waiting calls in routing order once (the census gives them in
  that order), counting them by kind; at each call asked for it adds count x share over the
  kinds counted, the shares of its kind being one row from the agents' bit masks; and it
  reads the k-th free-up time of each kind's agents from one heap sequence;
- `entry_ewt` does one walk for a caller about to enter (the IVR's hand-over), counting the
  calls ahead by kind; `counted_entry_ewt` reads those counts from the `WaitingCensus` the
  engine keeps (acd/stats/census.py), with no walk.

The answers equal call_ewt's exactly: the shares are added as integers per denominator, and a
sum that lands near x.5 is made exact before it is rounded; tests/test_flow_units.py checks it
on random centres.
"""

from __future__ import annotations

import heapq
import math
import operator
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.policy import call_key
from acd.core.steps import ITEMS_PER_STEP, chunks, run_steps
from acd.stats.census import WaitingCensus
from acd.stats.ewt import busy_remaining_s, estimate_wait
from acd.stats.kinds import KindCache, Shares, share_row, share_weights


@dataclass(frozen=True, slots=True)
class Placed:
    """A waiting call's EWT (None: no estimate) and its 1-based place in its queue."""

    ewt_s: float | None
    position: int


def _half_up_sum(by_denominator: Mapping[int, int]) -> int:
    """The sum of numerators kept per denominator, rounded half up as ewt._ahead does. A float
    sum of shares (15 x 1/6) can fall just under x.5 and round the other way: near x.5 the sum
    is made exact (Fractions, ~1 us an addition, only then)."""
    total = math.fsum(num / den for den, num in by_denominator.items())
    if abs(total - math.floor(total) - 0.5) > 1e-6:
        return math.floor(total + 0.5)
    exact = sum((Fraction(num, den) for den, num in by_denominator.items()), Fraction(0))
    return math.floor(exact + Fraction(1, 2))


def entry_ewt(call: Call, now: float, calls: Sequence[Call], agents: Sequence[Agent],
              aht_s: float | None, wrapup_s: float, cache: KindCache) -> float | None:
    """call_ewt for a caller about to enter a queue (or any one call), in one walk over
    `calls`. The engine uses counted_entry_ewt; this walk is what the tests check the census
    against, and what bench/ewt_cost.py times it against."""
    def ahead() -> Iterable[tuple[int, int]]:
        key = call_key(call)
        return Counter(cache.of(other) for other in calls if other.state is CallState.WAITING
                       and other.id != call.id and call_key(other) < key).items()

    return _ewt_behind(call, now, ahead, Shares(agents, cache), aht_s, wrapup_s, cache)


def counted_entry_ewt(call: Call, now: float, census: WaitingCensus,
                      agents: Mapping[str, Agent], aht_s: float | None, wrapup_s: float,
                      cache: KindCache) -> float | None:
    """entry_ewt with the calls ahead counted by the census the engine keeps, not walked.
    `agents`: every agent by id."""
    def ahead() -> Iterable[tuple[int, int]]:
        return ((cache.index_of(kind), n)
                for kind, n in census.ahead(call.priority, call.entered_at, call.id))

    return _ewt_behind(call, now, ahead, Shares(list(agents.values()), cache, agents),
                       aht_s, wrapup_s, cache)


def _ewt_behind(call: Call, now: float, ahead: Callable[[], Iterable[tuple[int, int]]],
                pass_: Shares, aht_s: float | None, wrapup_s: float,
                cache: KindCache) -> float | None:
    """The call's EWT behind the calls `ahead()` gives as (kind, count) pairs (asked only if
    some agent could take the call)."""
    mine = cache.of(call)
    able = pass_.able(mine)
    if not able:
        return None
    # Each kind's share times its count, added up as integers per denominator: the same
    # exact sum as a Fraction per call (10,000 Fraction additions took 35 ms at the full
    # bench size) or per kind.
    by_denominator: dict[int, int] = {}
    for kind, n in ahead():
        num, den = pass_.share(mine, kind)
        if num:
            by_denominator[den] = by_denominator.get(den, 0) + num * n
    ahead_n = _half_up_sum(by_denominator)
    busy = [busy_remaining_s(a, now, aht_s, wrapup_s) for a in able
            if a.state is not AgentState.READY]
    return estimate_wait(1 + ahead_n, len(able), busy, aht_s)


def in_routing_order(calls: Iterable[Call]) -> list[Call]:
    """The waiting calls among `calls` in routing order (call_key without a queue's rules),
    as the engine's WaitingCensus.in_order keeps them without sorting."""
    return sorted((c for c in calls if c.state is CallState.WAITING), key=call_key)


def waiting_placed(waiting: Sequence[Call], agents: Sequence[Agent], now: float,
                   aht_s: Callable[[str], float | None],
                   wrapup_s: Callable[[str], float],
                   only: Mapping[str, object] | None = None,
                   cache: KindCache | None = None) -> dict[str, Placed]:
    """EWT and queue position of every waiting call (or only of those whose id is in `only`).
    `waiting`: the waiting calls in routing order (WaitingCensus.in_order, or
    in_routing_order). `aht_s(queue)` and `wrapup_s(queue)`: the handle and wrap-up time
    used for the queue."""
    return run_steps(placed_steps(waiting, agents, now, aht_s, wrapup_s, only, cache))


def placed_steps(waiting: Sequence[Call], agents: Sequence[Agent], now: float,
                 aht_s: Callable[[str], float | None],
                 wrapup_s: Callable[[str], float],
                 only: Mapping[str, object] | None = None,
                 cache: KindCache | None = None,
                 places: Iterable[str] = ()) -> Generator[None, None, dict[str, Placed]]:
    """waiting_placed in small steps, and with `places` (calls whose place alone is wanted, as
    places_only gives it) in the same walk: a generator that stops every few hundred calls,
    every kind and every caller's sum, and returns the answer. At 10,000 waiting, 166 of them
    asked for, the whole pass is ~0.15 s (the first after a reload ~0.2 s); the engine runs the
    steps a slice of time at a time and goes on with the calls between them
    (acd/service/flow).

    The engine may change things between the steps. The working agents are read at the first
    step and kept; what the cache knows of the config is asked for later, and if the cache
    was told of a new config meanwhile (KindCache.generation) the pass ends with StalePass
    rather than mix two configs or teach the cache the old one. `waiting`, `agents`, `only`,
    `aht_s` and `wrapup_s` must stay as given (the engine's calls and agents are replaced,
    never changed in place)."""
    picture = _Picture(agents, cache if cache is not None else KindCache())
    yield
    kinds: list[int] = []
    groups: dict[int, list[int]] = {}  # kind -> indexes (in `waiting`) of the calls asked for
    if only is None or only:
        yield from _asked_into(waiting, only, picture.cache, kinds, groups)
    asked = sorted(i for members in groups.values() for i in members)
    positions: dict[str, int] = {}
    yield from _positions_into(waiting, positions)
    columns = []  # the kinds that can be ahead of a call asked for, with their takers
    for kind in set(kinds[:asked[-1]]) if asked else ():
        columns.append(picture.column(kind))
        yield
    ours: dict[int, int] = {}
    able: dict[int, list[Agent]] = {}
    for kind in groups:
        ours[kind], able[kind] = picture.takers(kind)
        yield
    ahead: dict[int, int] = {}
    yield from _shares_ahead(kinds, asked, ours, columns, ahead)
    out: dict[str, Placed] = {}
    for kind, members in groups.items():
        queue = waiting[members[0]].queue
        ewts = _kind_ewts(able[kind], [1 + ahead[i] for i in members], now,
                          aht_s(queue), wrapup_s(queue))
        for i, ewt in zip(members, ewts, strict=True):
            out[waiting[i].id] = Placed(ewt, positions[waiting[i].id])
        yield
    for call_id in places:
        if call_id not in out and call_id in positions:
            out[call_id] = Placed(None, positions[call_id])
    return out


class _Picture:
    """One pass's Shares (the working agents of its first step), as long as the config is the
    one of that moment."""

    def __init__(self, agents: Sequence[Agent], cache: KindCache) -> None:
        self.shares, self.cache = Shares(agents, cache), cache
        self.generation = cache.generation

    def _fresh(self) -> None:
        if self.cache.generation != self.generation:
            raise StalePass("the agents changed (a reload) during the pass")

    def column(self, kind: int) -> tuple[int, int, int]:
        """The kind, who could ever take it (a bit mask) and how many of them work: a column
        of share_row and share_weights."""
        self._fresh()
        mask = self.cache.takers_mask(kind, self.shares.agents)
        return kind, mask, (self.shares.working_mask & mask).bit_count()

    def takers(self, kind: int) -> tuple[int, list[Agent]]:
        """The working agents serving `kind`, as a bit mask and as agents."""
        self._fresh()
        return self.shares.takers_mask(kind), self.shares.able(kind)


def _asked_into(waiting: Sequence[Call], only: Mapping[str, object] | None, cache: KindCache,
                kinds: list[int], groups: dict[int, list[int]]) -> Iterator[None]:
    """Each waiting call's kind into `kinds`, and the indexes of the calls asked for by kind
    into `groups`, ITEMS_PER_STEP calls a step (a kind's index never changes: KindCache.of)."""
    for part in chunks(waiting, ITEMS_PER_STEP):
        kinds.extend(cache.of(c) for c in part)
        yield
    for start in range(0, len(waiting), ITEMS_PER_STEP):
        for i in range(start, min(start + ITEMS_PER_STEP, len(waiting))):
            if only is None or waiting[i].id in only:
                groups.setdefault(kinds[i], []).append(i)
        yield


class StalePass(Exception):
    """placed_steps was overtaken by a new config: its answer would mix two."""


def _shares_ahead(kinds: Sequence[int], asked: Sequence[int], ours: Mapping[int, int],
                  columns: Sequence[tuple[int, int, int]], out: dict[int, int]
                  ) -> Iterator[None]:
    """For each call asked for (`asked`: its index in `kinds`, the waiting calls' kinds in
    routing order, ascending), into `out`: the calls ahead of it its agents are expected to
    take, rounded half up. `ours`: each asked kind's working takers (a bit mask);
    `columns`: the kinds ahead (_Picture.column). Stops after each row and each sum.

    One walk, counting the calls by kind, a column each; at each call asked for, the counts
    times its kind's row of shares (floats, in C: ~30 us for 1,000 kinds, where a sum per
    denominator in Python was ~1 ms). A float sum that lands near x.5 is made exact from the
    integer shares (as _half_up_sum does). So the walk costs the calls plus the callers asked
    for x the kinds waiting, not the calls x the kinds asked for: with every 60th of 10,000
    callers asked for (an announcement a minute), a walk adding each call's shares to the sums
    of the ~160 kinds asked took 1-2 s."""
    column_of = {kind: j for j, (kind, _mask, _size) in enumerate(columns)}
    counts = [0] * len(columns)
    rows: dict[int, list[float]] = {}  # asked kind -> the share of each column it takes
    start = 0
    for i in asked:
        for kind in kinds[start:i]:
            counts[column_of[kind]] += 1
        start = i  # (the call asked for is ahead of the next ones)
        mine = kinds[i]
        row = rows.get(mine)
        if row is None:
            row = rows[mine] = share_weights(ours[mine], columns)
            yield
        total = sum(map(operator.mul, counts, row))
        if abs(total - math.floor(total) - 0.5) > 1e-6:
            out[i] = math.floor(total + 0.5)
        else:  # (rare: integers per denominator, then exact)
            sums: dict[int, int] = {}
            for j, (num, den) in share_row(ours[mine], columns).items():
                if counts[j]:
                    sums[den] = sums.get(den, 0) + counts[j] * num
            out[i] = _half_up_sum(sums)
        yield


def places_only(waiting: Sequence[Call], only: Mapping[str, object]) -> dict[str, Placed]:
    """The place of each call in `only` among the waiting calls of its queue, without an EWT
    (`waiting`: the waiting calls in routing order, as WaitingCensus.in_order gives them): what
    an announcement of the position alone needs, for ~20 ms at 10,000 waiting."""
    positions = _positions(waiting)
    return {call_id: Placed(None, positions[call_id]) for call_id in only
            if call_id in positions}


def _positions(waiting: Sequence[Call]) -> dict[str, int]:
    """1-based place of each waiting call among the waiting calls of its queue (routing
    order), as the snapshot's call views count it."""
    out: dict[str, int] = {}
    run_steps(_positions_into(waiting, out))
    return out


def _positions_into(waiting: Sequence[Call], out: dict[str, int]) -> Generator[None, None, None]:
    """_positions into `out`, ITEMS_PER_STEP calls a step."""
    seen: dict[str, int] = {}
    for part in chunks(waiting, ITEMS_PER_STEP):
        for c in part:
            seen[c.queue] = seen.get(c.queue, 0) + 1
            out[c.id] = seen[c.queue]
        yield


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
