"""Sliding windows kept up to date fact by fact (acd/stats/sliding.py) against a recount from
scratch of what the store holds, and the counting of each kind of fact."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.stats.raw import QueueCounts, SurveyCounts
from acd.stats.sliding import SlidingWindows, fresh

SPANS = (900, 3600)
T0 = 1_800_000_000.0

_members = st.sampled_from([
    "o|c1", "o|c2", "a|c1|12.5", "a|c3|0.3", "b|c4|7.25", "t|c5", "h|c1|301.123456",
    "w|a1|123.0|45.5", "r|c9", "v|c6", "m|c7", "x|c8", "c|c2", "k|c2", "f|c3", "i|c4",
    "j|c4", "l|c5", "y|c6|20.1", "e|c1|30.0|12.5", "e|c3|0.0|0.3",
    "s|c1|a1|csat|5", "s|c2|a1|nps|10", "s|c3|a2|nps|3", "s|c4|a2|csat|1", "z|new|kind",
])
_queues = st.sampled_from(["q1", "q2", "q3"])


@st.composite
def _histories(draw: st.DrawFn) -> list[tuple[float, list[tuple[str, str, float]]]]:
    """Steps of (now, facts written since the step before): each written at or before its
    step's now, some late (their score up to 20 s before the step before)."""
    steps = []
    now = T0
    for _ in range(draw(st.integers(1, 12))):
        now += draw(st.sampled_from([0.0, 0.5, 7.0, 60.0, 899.5, 900.0, 1800.0, 3600.0]))
        facts = [(draw(_queues), draw(_members), now - draw(st.floats(0, 30)))
                 for _ in range(draw(st.integers(0, 8)))]
        steps.append((now, facts))
    return steps


@settings(max_examples=300, deadline=None)
@given(_histories())
def test_kept_up_to_date_equals_a_recount_of_the_store(
        steps: list[tuple[float, list[tuple[str, str, float]]]]) -> None:
    windows = SlidingWindows(SPANS)
    zsets: dict[tuple[str, str], float] = {}  # as Redis keeps them: one score per member
    for now, written in steps:
        for queue, member, score in written:
            zsets[(queue, member)] = score
        # what a reader gets back: everything now held (overlapping the last read)
        windows.update(now, [(q, m, s) for (q, m), s in zsets.items() if s <= now])
        expected = fresh(SPANS, now, [(q, m, s) for (q, m), s in zsets.items() if s <= now])
        for span in SPANS:
            for queue in ("q1", "q2", "q3"):
                assert windows.counts(span, queue) == expected.get(span, {}).get(
                    queue, QueueCounts()), (span, queue)
    assert len(windows) == sum(1 for s in zsets.values() if steps[-1][0] - 3600 < s <= steps[-1][0])


def test_each_kind_of_fact_counts_as_the_scripts_count_it() -> None:
    now = T0
    facts = [("q", m, now - 10) for m in (
        "o|c1", "a|c1|12.5", "b|c2|0.5", "t|c3", "h|c1|60.25", "w|a1|100.0|30.5", "r|c4",
        "v|c5", "y|c6|20.0", "e|c1|50.0|12.5", "s|c1|a1|csat|5", "s|c1|a1|nps|9",
        "s|c2|a2|nps|3", "future|ignored")]
    got = fresh(SPANS, now, facts)[900]["q"]
    assert got == QueueCounts(
        offered=1, answered=1, answered_waits={13: 1}, wait_sum_s=12.5, abandoned=1,
        abandoned_waits={1: 1}, timed_out=1, handled=2, talk_sum_s=80.25, wrapup_sum_s=30.5,
        repeats=1, overflowed=1, transferred=1, ewt_n=1, ewt_abs_err_s=37.5, ewt_err_s=37.5,
        ewt_w30=0, ewt_w25=0,
        survey=SurveyCounts(csat_n=1, csat_points=100, nps_n=2, nps_promoters=1,
                            nps_detractors=1),
        survey_by_agent={"a1": SurveyCounts(1, 100, 1, 1, 0), "a2": SurveyCounts(0, 0, 1, 0, 1)})


def test_a_fact_slides_out_at_exactly_its_span() -> None:
    windows = SlidingWindows(SPANS)
    windows.update(T0 + 1, [("q", "o|c1", T0), ("q", "a|c1|3.0", T0 + 1), ("q", "t|c2", T0 + 2)])
    assert windows.counts(900, "q").timed_out == 0  # after now: left for a later read
    windows.advance(T0 + 900)  # (T0 + 900 - 900, ...]: the offer at T0 is out
    assert windows.counts(900, "q") == QueueCounts(answered=1, answered_waits={3: 1},
                                                   wait_sum_s=3.0)
    assert windows.counts(3600, "q").offered == 1
    windows.advance(T0 + 3601)
    assert windows.counts(3600, "q") == QueueCounts() and len(windows) == 0


def test_a_moved_member_counts_once_at_its_new_time() -> None:
    windows = SlidingWindows(SPANS)
    windows.update(T0 + 1000, [("q", "o|c1", T0)])  # in the hour, not in the 15 minutes
    assert (windows.counts(900, "q").offered, windows.counts(3600, "q").offered) == (0, 1)
    windows.update(T0 + 1000, [("q", "o|c1", T0 + 999)])  # offered again: ZADD moved it
    assert (windows.counts(900, "q").offered, windows.counts(3600, "q").offered) == (1, 1)


def test_a_handed_out_count_is_not_changed_later() -> None:
    windows = SlidingWindows(SPANS)
    windows.update(T0, [("q", "o|c1", T0)])
    first = windows.counts(900, "q")
    assert windows.counts(900, "q") is first  # nothing changed: the same object
    windows.update(T0 + 1, [("q", "o|c2", T0 + 1)])
    assert first.offered == 1 and windows.counts(900, "q").offered == 2


def test_time_does_not_go_back_and_spans_are_positive() -> None:
    windows = SlidingWindows(SPANS)
    windows.advance(T0)
    with pytest.raises(ValueError, match="back in time"):
        windows.advance(T0 - 1)
    with pytest.raises(ValueError, match="above 0 s"):
        SlidingWindows((0, 900))


def test_only_the_kinds_asked_for_are_kept() -> None:
    facts = [("q", "o|c1", T0), ("q", "h|c1|60.5", T0), ("q", "w|a1|1.0|9.5", T0),
             ("q", "a|c1|3.0", T0)]
    windows = SlidingWindows(SPANS, kinds="hw")
    windows.update(T0, facts)
    assert len(windows) == 2
    assert windows.counts(3600, "q") == QueueCounts(handled=1, talk_sum_s=60.5,
                                                    wrapup_sum_s=9.5)
