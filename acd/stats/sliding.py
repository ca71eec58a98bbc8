"""The sliding windows (the last 15 and 60 minutes) of each queue, from its recent facts (the
members of the store's `queue_recent` zsets, acd/store/stats.py), kept up to date fact by
fact. Pure: the caller reads the facts and passes `now`.

Every figures refresh used to read and add up every fact of the last hour again: a centre
that runs all day holds a whole hour of calls there (five or so facts a call), so a refresh
cost O(calls an hour) of reads and CPU each second. `SlidingWindows` adds only the facts that
are new since the last update and takes off the ones that slid out: O(new + expired facts).

Float sums (waits, talk, wrap-up, EWT errors) are kept as integers, in units of 2**-60 s
(multiplying a float by a power of two is exact; below 2**-60 s nothing is kept): taking a
fact off gives back exactly what adding it gave, so the counts equal a recount from scratch
in any order (a float sum that is added to and taken from drifts), and the float handed out
is the exact sum, correctly rounded. A recount is what `fresh` does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from sortedcontainers import SortedList

from acd.core.survey import csat_points, nps_class
from acd.stats.raw import QueueCounts, SurveyCounts, wait_bucket

UNITS = 2**60  # per second, for the float sums
_SCALE = float(UNITS)
WAIT, TALK, WRAPUP, EWT_ABS, EWT_ERR = range(5)  # the float sums, in UNITS
_FLOAT_FIELDS = ("wait_sum_s", "talk_sum_s", "wrapup_sum_s", "ewt_abs_err_s", "ewt_err_s")

# Facts that only count one: kind -> QueueCounts field.
_COUNT_KINDS = {"v": "overflowed", "m": "voicemail", "x": "closed", "c": "callback_requested",
                "k": "callback_answered", "f": "callback_failed", "i": "transfers_in",
                "j": "transfers_in_answered", "l": "transfers_in_lost"}

Fact = tuple[str, str, float]  # (queue, member, score)


def _units(seconds: float) -> int:
    return round(seconds * _SCALE)


def _bump(histogram: dict[int, int], bucket: int, sign: int) -> None:
    n = histogram.get(bucket, 0) + sign
    if n:
        histogram[bucket] = n
    else:  # (a recount has no bucket for zero calls)
        del histogram[bucket]


def apply_fact(c: QueueCounts, units: list[int], member: str, sign: int = 1) -> None:
    """Add (sign 1) or take off (sign -1) one recent fact; its float amounts go to `units`
    (indexed WAIT, TALK, ...), not to `c`'s float fields."""
    kind, _, rest = member.partition("|")
    value = rest.rpartition("|")[2]
    if kind == "o":
        c.offered += sign
    elif kind in ("a", "b"):
        wait = float(value)
        if kind == "a":
            c.answered += sign
            _bump(c.answered_waits, wait_bucket(wait), sign)
            units[WAIT] += sign * _units(wait)
        else:
            c.abandoned += sign
            _bump(c.abandoned_waits, wait_bucket(wait), sign)
    elif kind == "t":
        c.timed_out += sign
    elif kind == "e":
        _apply_ewt(c, units, rest, sign)
    elif kind == "s":
        _apply_survey(c, rest, sign)
    elif kind in _COUNT_KINDS:
        name = _COUNT_KINDS[kind]
        setattr(c, name, getattr(c, name) + sign)
    elif kind in ("h", "y"):  # y: a conversation that ended in a transfer out
        c.handled += sign
        c.transferred += sign if kind == "y" else 0
        units[TALK] += sign * _units(float(value))
    elif kind == "w":
        units[WRAPUP] += sign * _units(float(value))
    elif kind == "r":
        c.repeats += sign
    # any other kind: written by a newer version, ignored


def _apply_ewt(c: QueueCounts, units: list[int], rest: str, sign: int) -> None:
    """One answered call's predicted and actual wait ("<id>|<predicted>|<actual>"), counted
    as answer.lua counts it."""
    _id, predicted, actual = rest.rsplit("|", 2)
    err = float(predicted) - float(actual)
    c.ewt_n += sign
    units[EWT_ABS] += sign * _units(abs(err))
    units[EWT_ERR] += sign * _units(err)
    c.ewt_w30 += sign * (abs(err) <= 30)
    c.ewt_w25 += sign * (abs(err) <= 0.25 * float(actual))


def _apply_survey(c: QueueCounts, rest: str, sign: int) -> None:
    """One survey answer ("<call>|<agent>|<question>|<value>"), counted as survey.lua counts
    it, for the queue and for its agent."""
    _call, agent_id, question, raw = rest.rsplit("|", 3)
    value = int(raw)
    by_agent = c.survey_by_agent.setdefault(agent_id, SurveyCounts())
    for counts in (c.survey, by_agent):
        if question == "csat":
            counts.csat_n += sign
            counts.csat_points += sign * csat_points(value)
        elif question == "nps":
            counts.nps_n += sign
            counts.nps_promoters += sign * (nps_class(value) == "promoter")
            counts.nps_detractors += sign * (nps_class(value) == "detractor")
    if by_agent == SurveyCounts():
        del c.survey_by_agent[agent_id]


def _counts_copy(c: QueueCounts, units: list[int]) -> QueueCounts:
    """A QueueCounts of its own (the figures keep what they were given), float sums set."""
    out = QueueCounts()
    out.add(c)  # (c's own float fields stay 0: its sums are in `units`)
    for name, amount in zip(_FLOAT_FIELDS, units, strict=True):
        setattr(out, name, amount / UNITS)
    return out


@dataclass(slots=True)
class _Window:
    """One span of one queue: its facts in (now - span, now] by score, and their counts."""

    facts: SortedList = field(default_factory=SortedList)  # (score, member)
    counts: QueueCounts = field(default_factory=QueueCounts)
    units: list[int] = field(default_factory=lambda: [0] * len(_FLOAT_FIELDS))
    made: QueueCounts | None = None  # the last copy handed out, until the counts change

    def add(self, score: float, member: str) -> None:
        self.facts.add((score, member))
        apply_fact(self.counts, self.units, member)
        self.made = None

    def remove(self, score: float, member: str) -> None:
        self.facts.remove((score, member))
        apply_fact(self.counts, self.units, member, -1)
        self.made = None

    def expire(self, low: float) -> list[tuple[float, str]]:
        """Take off the facts at or before `low`; those that went."""
        facts = self.facts
        gone: list[tuple[float, str]] = []
        while facts and facts[0][0] <= low:
            gone.append(facts.pop(0))
            apply_fact(self.counts, self.units, gone[-1][1], -1)
        if gone:
            self.made = None
        return gone

    def result(self) -> QueueCounts:
        if self.made is None:
            self.made = _counts_copy(self.counts, self.units)
        return self.made


class SlidingWindows:
    """span -> queue -> counts of the facts with a score in (now - span, now].

    `update(now, facts)` moves the windows to `now` (`advance`) and adds the facts given
    (`add`; facts after `now` are left for a later update). A fact is a zset
    member with its score as the store holds it: a member seen again with another score was
    moved (a zset keeps one score per member) and is counted at its new time only; seen again
    with the same score, it is not counted twice. So the facts of overlapping reads may be
    given again, and a late fact (written after a read, with an earlier score) is counted when
    a later read overlaps its score.
    """

    def __init__(self, spans_s: Iterable[int], kinds: Collection[str] | None = None) -> None:
        """`kinds`: the kinds of fact kept (the letter before the first `|`); None: all (the
        others are not held: each fact kept costs ~180 bytes)."""
        self.kinds = None if kinds is None else frozenset(kinds)
        self.spans = tuple(sorted(set(spans_s)))
        if not self.spans or self.spans[0] <= 0:
            raise ValueError(f"window spans must be above 0 s: {self.spans}")
        self.now = float("-inf")
        self._scores: dict[str, dict[str, float]] = {}  # queue -> member -> score
        self._windows: dict[str, dict[int, _Window]] = {}

    @property
    def longest(self) -> int:
        return self.spans[-1]

    def __len__(self) -> int:
        """Facts held (those within the longest span)."""
        return sum(len(members) for members in self._scores.values())

    def update(self, now: float, facts: Iterable[Fact]) -> None:
        self.advance(now)
        self.add(facts)

    def advance(self, now: float) -> None:
        """Move the windows to `now`: the facts that slid out are taken off."""
        if now < self.now:
            raise ValueError(f"the windows cannot go back in time ({now} < {self.now})")
        self.now = now
        self._expire()

    def add(self, facts: Iterable[Fact]) -> None:
        """Facts as the store holds them (see the class)."""
        kinds = self.kinds
        for queue, member, score in facts:
            if kinds is None or member.partition("|")[0] in kinds:
                self._put(queue, member, score)

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the queues not in `keep` (removed from the config)."""
        kept = set(keep)
        for queue in [q for q in self._scores if q not in kept]:
            del self._scores[queue], self._windows[queue]

    def counts(self, span: int, queue: str) -> QueueCounts:
        """The counts of `queue` over (now - span, now]: an object of its own, not changed
        later (the same one until the queue's facts in that span change)."""
        windows = self._windows.get(queue)
        return windows[span].result() if windows is not None else QueueCounts()

    def all_counts(self, queues: Iterable[str]) -> dict[int, dict[str, QueueCounts]]:
        """span -> queue -> counts, for every span (queue_windows' shape)."""
        queues = list(queues)
        return {span: {q: self.counts(span, q) for q in queues} for span in self.spans}

    def _put(self, queue: str, member: str, score: float) -> None:
        scores = self._scores.get(queue)
        if scores is None:
            scores = self._scores[queue] = {}
            self._windows[queue] = {span: _Window() for span in self.spans}
        windows = self._windows[queue]
        known = scores.get(member)
        if known == score:
            return
        if known is not None:  # moved: out of the windows it was in
            del scores[member]
            for span, window in windows.items():
                if known > self.now - span:
                    window.remove(known, member)
        if score > self.now or score <= self.now - self.longest:
            return  # outside every window (a later update reads a future fact again)
        scores[member] = score
        for span, window in windows.items():
            if score > self.now - span:
                window.add(score, member)

    def _expire(self) -> None:
        for queue, windows in self._windows.items():
            for span, window in windows.items():
                gone = window.expire(self.now - span)
                if gone and span == self.longest:  # out of every window: forgotten
                    scores = self._scores[queue]
                    for score, member in gone:
                        if scores.get(member) == score:
                            del scores[member]


def fresh(spans_s: Iterable[int], now: float, facts: Iterable[Fact]
          ) -> dict[int, dict[str, QueueCounts]]:
    """The counts of these facts, recounted from scratch (span -> queue -> counts, for the
    queues that have facts)."""
    windows = SlidingWindows(spans_s)
    facts = list(facts)
    windows.update(now, facts)
    return windows.all_counts({q for q, _m, _s in facts})
