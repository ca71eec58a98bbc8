"""Window figures: exactness against a scripted scenario, and edge-case tables (pure).

The expected numbers are written by hand from the scenario, never computed by the code under
test; equality is exact (==): every ratio is a quotient of whole numbers or of exactly
representable sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.config import SlaConfig, SlaFormula
from acd.stats.fig_window import centre_window_figures, window_figures
from acd.stats.raw import WAIT_CAP_S, QueueCounts, wait_bucket

T0 = 1_717_000_000.0  # any fixed instant: the clock is the scenario's own


@dataclass
class Scenario:
    """A tiny call log with a controllable clock; counts are built per window by entry time."""

    now: float = T0
    calls: list[tuple[float, str, float, float, float]] = field(default_factory=list)
    # (entered_at, outcome, wait_s, talk_s or -1 while talking, wrapup_s)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def answered(self, wait_s: float, talk_s: float = -1.0, wrapup_s: float = 0.0) -> None:
        self.calls.append((self.now, "answered", wait_s, talk_s, wrapup_s))

    def abandoned(self, wait_s: float) -> None:
        self.calls.append((self.now, "abandoned", wait_s, -1.0, 0.0))

    def timed_out(self, wait_s: float) -> None:
        self.calls.append((self.now, "timeout", wait_s, -1.0, 0.0))

    def overflowed(self, wait_s: float) -> None:
        self.calls.append((self.now, "overflow", wait_s, -1.0, 0.0))

    def counts(self, span_s: float) -> QueueCounts:
        c = QueueCounts()
        for entered, outcome, wait, talk, wrapup in self.calls:
            if entered <= self.now - span_s:
                continue
            c.offered += 1
            if outcome == "answered":
                c.answered += 1
                c.wait_sum_s += wait
                b = wait_bucket(wait)
                c.answered_waits[b] = c.answered_waits.get(b, 0) + 1
                if talk >= 0:
                    c.handled += 1
                    c.talk_sum_s += talk
                    c.wrapup_sum_s += wrapup
            elif outcome == "abandoned":
                c.abandoned += 1
                b = wait_bucket(wait)
                c.abandoned_waits[b] = c.abandoned_waits.get(b, 0) + 1
            elif outcome == "timeout":
                c.timed_out += 1
            else:
                c.overflowed += 1
        return c


def scenario() -> tuple[QueueCounts, QueueCounts, QueueCounts]:
    """(15m, 60m, today) counts of one queue."""
    s = Scenario()
    # 07:00-ish, today only
    s.answered(100.0, talk_s=300.0, wrapup_s=30.0)
    s.abandoned(7200.0)  # capped bucket
    s.answered(5000.0)  # capped bucket, still talking
    s.advance(3 * 3600)
    # 50 minutes before now: in 60m and today
    s.answered(30.0, talk_s=50.0, wrapup_s=10.0)  # bucket 30
    s.answered(0.5, talk_s=70.5, wrapup_s=0.0)  # bucket 1
    s.abandoned(4.0)  # short
    s.overflowed(60.0)
    s.advance(40 * 60)
    # last 10 minutes: in every window
    s.answered(3.25, talk_s=100.0, wrapup_s=10.0)  # bucket 4
    s.answered(10.0, talk_s=200.0, wrapup_s=20.0)  # bucket 10
    s.answered(20.0)  # bucket 20: within 20 exactly; still talking
    s.answered(20.5)  # bucket 21: late for 20, within 30; still talking
    s.abandoned(2.0)  # short
    s.abandoned(5.0)  # short: wait <= short_abandon_s
    s.abandoned(5.5)  # bucket 6: not short
    s.abandoned(40.0)
    s.timed_out(900.0)
    s.advance(10 * 60)
    return s.counts(900), s.counts(3600), s.counts(86_400)


# window -> formula -> threshold -> SL, worked out by hand (see the comments in scenario()):
# 15m: answered 4 (within 10/20/30: 2/3/4), abandoned 4 (short 2; within 10/20/30: 3/3/3), offered 9
# 60m: answered 6 (3/4/6), abandoned 5 (short 3; 4/4/4), offered 13
# today: answered 8 (3/4/6), abandoned 6 (short 3; 4/4/4, the capped one never within), offered 16
EXPECTED_SL: dict[str, dict[str, dict[int, float]]] = {
    "15m": {
        "ignore_abandoned": {10: 2 / 4, 20: 3 / 4, 30: 4 / 4},
        "abandoned_count_against": {10: 2 / 8, 20: 3 / 8, 30: 4 / 8},
        "short_abandons_excluded": {10: 2 / 6, 20: 3 / 6, 30: 4 / 6},
        "abandoned_within_t_positive": {10: 5 / 9, 20: 6 / 9, 30: 7 / 9},
    },
    "60m": {
        "ignore_abandoned": {10: 3 / 6, 20: 4 / 6, 30: 6 / 6},
        "abandoned_count_against": {10: 3 / 11, 20: 4 / 11, 30: 6 / 11},
        "short_abandons_excluded": {10: 3 / 8, 20: 4 / 8, 30: 6 / 8},
        "abandoned_within_t_positive": {10: 7 / 13, 20: 8 / 13, 30: 10 / 13},
    },
    "today": {
        "ignore_abandoned": {10: 3 / 8, 20: 4 / 8, 30: 6 / 8},
        "abandoned_count_against": {10: 3 / 14, 20: 4 / 14, 30: 6 / 14},
        "short_abandons_excluded": {10: 3 / 11, 20: 4 / 11, 30: 6 / 11},
        "abandoned_within_t_positive": {10: 7 / 16, 20: 8 / 16, 30: 10 / 16},
    },
}
EXPECTED_OTHER = {
    # offered, answered, answered_within(20), abandoned, short, timed_out, overflowed, handled,
    # ASA, abandon rate, AHT
    "15m": (9, 4, 3, 4, 2, 1, 0, 2, 53.75 / 4, 4 / 9, (300.0 + 30.0) / 2),
    "60m": (13, 6, 4, 5, 3, 1, 1, 4, 84.25 / 6, 5 / 13, (420.5 + 40.0) / 4),
    "today": (16, 8, 4, 6, 3, 1, 1, 5, 5184.25 / 8, 6 / 16, (720.5 + 70.0) / 5),
}
WINDOW_INDEX = {"15m": 0, "60m": 1, "today": 2}


@pytest.mark.parametrize("window", ["15m", "60m", "today"])
@pytest.mark.parametrize("formula", ["ignore_abandoned", "abandoned_count_against",
                                     "short_abandons_excluded", "abandoned_within_t_positive"])
@pytest.mark.parametrize("main", [10, 20, 30])
def test_service_level_is_exact(window: str, formula: SlaFormula, main: int) -> None:
    counts = scenario()[WINDOW_INDEX[window]]
    extra = [t for t in (10, 20, 30) if t != main]
    sla = SlaConfig(target_pct=80, threshold_s=main, extra_thresholds_s=extra, formula=formula)
    figs = window_figures(counts, sla, short_abandon_s=5)
    want = EXPECTED_SL[window][formula]
    assert figs.service_level.value == want[main]
    assert figs.service_level.by_threshold == {"10": want[10], "20": want[20], "30": want[30]}
    assert figs.service_level.threshold_s == main
    assert figs.service_level.formula == formula
    assert figs.service_level.target == 0.8


@pytest.mark.parametrize("window", ["15m", "60m", "today"])
def test_counts_asa_abandon_rate_aht_are_exact(window: str) -> None:
    counts = scenario()[WINDOW_INDEX[window]]
    figs = window_figures(counts, SlaConfig(threshold_s=20), short_abandon_s=5)
    (offered, answered, within20, abandoned, short, timed_out, overflowed, handled, asa,
     abandon_rate, aht) = EXPECTED_OTHER[window]
    assert (figs.offered, figs.answered, figs.answered_within, figs.abandoned,
            figs.short_abandoned, figs.timed_out, figs.overflowed, figs.handled) == (
        offered, answered, within20, abandoned, short, timed_out, overflowed, handled)
    assert figs.asa_s == asa
    assert figs.abandon_rate == abandon_rate
    assert figs.aht_s == aht


def test_by_threshold_keys_follow_the_config() -> None:
    sla = SlaConfig(threshold_s=20, extra_thresholds_s=[60, 10, 20])
    figs = window_figures(scenario()[0], sla, short_abandon_s=5)
    assert list(figs.service_level.by_threshold) == ["10", "20", "60"]


@pytest.mark.parametrize("short_abandon_s, short", [(0, 0), (1, 0), (2, 1), (4, 1), (5, 2),
                                                   (6, 3), (600, 4)])
def test_short_abandon_is_wait_at_most_short_abandon_s(short_abandon_s: int, short: int) -> None:
    figs = window_figures(scenario()[0], SlaConfig(), short_abandon_s=short_abandon_s)
    assert figs.short_abandoned == short
    assert figs.service_level.value == 3 / (4 + 4 - short)


def counts_of(answered: Sequence[float] = (), abandoned: Sequence[float] = (),
              offered: int | None = None) -> QueueCounts:
    c = QueueCounts(answered=len(answered), abandoned=len(abandoned),
                    wait_sum_s=sum(answered))
    c.offered = offered if offered is not None else c.answered + c.abandoned
    for w in answered:
        c.answered_waits[wait_bucket(w)] = c.answered_waits.get(wait_bucket(w), 0) + 1
    for w in abandoned:
        c.abandoned_waits[wait_bucket(w)] = c.abandoned_waits.get(wait_bucket(w), 0) + 1
    return c


FORMULAS: list[SlaFormula] = ["ignore_abandoned", "abandoned_count_against",
                              "short_abandons_excluded", "abandoned_within_t_positive"]


@pytest.mark.parametrize("name, counts, threshold_s, want", [
    # formula order: ignore, against, short excluded, within T positive
    ("no calls", QueueCounts(), 20, (None, None, None, None)),
    ("offered, none ended yet", counts_of(offered=3), 20, (None, None, None, 0.0)),
    ("all abandoned, late", counts_of(abandoned=[30.0, 60.0]), 20, (None, 0.0, 0.0, 0.0)),
    ("all abandoned, short", counts_of(abandoned=[1.0, 5.0]), 20, (None, 0.0, None, 1.0)),
    ("all abandoned, within T", counts_of(abandoned=[10.0, 60.0]), 20, (None, 0.0, 0.0, 0.5)),
    ("all answered within", counts_of(answered=[0.0, 20.0]), 20, (1.0, 1.0, 1.0, 1.0)),
    ("answered at the cap", counts_of(answered=[3599.5, WAIT_CAP_S, 7200.0, 10.0]), 3600,
     (0.25, 0.25, 0.25, 0.25)),
    ("abandoned at the cap", counts_of(answered=[1.0], abandoned=[3600.0, 9000.0]), 3600,
     (1.0, 1 / 3, 1 / 3, 1 / 3)),
])
def test_edge_cases(name: str, counts: QueueCounts, threshold_s: int,
                    want: tuple[float | None, ...]) -> None:
    got = tuple(window_figures(counts, SlaConfig(threshold_s=threshold_s, formula=f), 5)
                .service_level.value for f in FORMULAS)
    assert got == want, name


def test_no_calls_gives_nulls_and_zeros() -> None:
    figs = window_figures(QueueCounts(), SlaConfig(extra_thresholds_s=[10]), 5)
    assert figs.asa_s is None and figs.abandon_rate is None and figs.aht_s is None
    assert figs.service_level.value is None
    assert figs.service_level.by_threshold == {"10": None, "20": None}
    assert (figs.offered, figs.answered, figs.answered_within, figs.handled) == (0, 0, 0, 0)


def test_histogram_cap_bucket_is_late_for_every_threshold() -> None:
    counts = counts_of(answered=[7200.0, 5.0])
    assert wait_bucket(7200.0) == WAIT_CAP_S
    for t in (20, 3599, 3600):
        figs = window_figures(counts, SlaConfig(threshold_s=t, formula="ignore_abandoned"), 5)
        assert figs.answered_within == 1
        assert figs.service_level.value == 0.5
    assert window_figures(counts, SlaConfig(), 5).asa_s == 7205.0 / 2


def test_inputs_are_not_changed() -> None:
    counts = scenario()[2]
    before = (dict(counts.answered_waits), dict(counts.abandoned_waits), counts.offered)
    window_figures(counts, SlaConfig(), 5)
    centre_window_figures([(counts, SlaConfig()), (counts, SlaConfig(threshold_s=10))], 5)
    assert (counts.answered_waits, counts.abandoned_waits, counts.offered) == before


def test_centre_counts_each_call_against_its_own_queue_threshold() -> None:
    sales = counts_of(answered=[5.0, 15.0, 25.0], abandoned=[2.0, 30.0])  # 20 s: 2 within
    support = counts_of(answered=[5.0, 15.0], abandoned=[40.0], offered=5)  # 10 s: 1 within
    parts = [(sales, SlaConfig(threshold_s=20, target_pct=80)),
             (support, SlaConfig(threshold_s=10, target_pct=90))]
    figs = centre_window_figures(parts, short_abandon_s=5)
    assert (figs.offered, figs.answered, figs.abandoned, figs.short_abandoned) == (10, 5, 3, 1)
    assert figs.answered_within == 3
    sl = figs.service_level
    assert sl.formula == "short_abandons_excluded"
    assert sl.value == 3 / (5 + 3 - 1)
    assert sl.threshold_s == 0  # queues differ
    assert sl.target == (80 * 5 + 90 * 5) / 10 / 100
    assert sl.by_threshold == {}
    assert figs.asa_s == (45.0 + 20.0) / 5


def test_centre_uses_the_common_formula_and_threshold() -> None:
    a = counts_of(answered=[5.0, 25.0], abandoned=[10.0])
    b = counts_of(answered=[30.0], abandoned=[1.0], offered=3)
    sla = SlaConfig(threshold_s=20, target_pct=85, formula="abandoned_within_t_positive")
    figs = centre_window_figures([(a, sla), (b, sla)], short_abandon_s=5)
    assert figs.service_level.formula == "abandoned_within_t_positive"
    assert figs.service_level.value == (1 + 1 + 0 + 1) / (3 + 3)
    assert figs.service_level.threshold_s == 20
    assert figs.service_level.target == 0.85


waits = st.lists(st.floats(min_value=0, max_value=2 * WAIT_CAP_S, allow_nan=False), max_size=30)


@settings(max_examples=200, deadline=None)
@given(answered=waits, abandoned=waits, extra=st.integers(min_value=0, max_value=10),
       formula=st.sampled_from(FORMULAS), short_abandon_s=st.integers(min_value=0, max_value=600))
def test_service_level_properties(answered: list[float], abandoned: list[float], extra: int,
                                  formula: SlaFormula, short_abandon_s: int) -> None:
    counts = counts_of(answered, abandoned, offered=len(answered) + len(abandoned) + extra)
    sla = SlaConfig(threshold_s=20, extra_thresholds_s=[1, 10, 60, 600, 3600], formula=formula)
    figs = window_figures(counts, sla, short_abandon_s)
    values = [v for v in figs.service_level.by_threshold.values() if v is not None]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values == sorted(values)  # a longer threshold never lowers the service level
    assert figs.service_level.value == figs.service_level.by_threshold["20"]
    # one queue alone: the centre shows the same figures
    centre = centre_window_figures([(counts, sla)], short_abandon_s)
    assert centre.service_level.value == figs.service_level.value
    assert centre.model_dump(exclude={"service_level"}) == figs.model_dump(
        exclude={"service_level"})
