"""Raw counts, as the store keeps them in Redis: the contract between the store's stats reader
(acd/store/stats.py) and the pure figures (acd/stats/figures.py).

Waits are kept as per-second histograms (bucket = ceil(wait in seconds), capped at WAIT_CAP_S),
so "answered within T" is exact for any whole-second threshold T, including thresholds added to
the config later: nothing is pre-aggregated against a threshold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

WAIT_CAP_S = 3600  # waits above this share the last bucket
INTERVAL_S = 900  # history interval: 15 minutes, aligned to the Unix epoch


def wait_bucket(wait_s: float) -> int:
    """The histogram bucket of a wait: ceil(seconds), so wait <= T  <=>  bucket <= T."""
    whole = int(wait_s)
    bucket = whole if whole == wait_s else whole + 1
    return max(0, min(bucket, WAIT_CAP_S))


@dataclass(slots=True)
class SurveyCounts:
    """Post-call survey answers (acd/core/survey.py): CSAT as 0..100 points, NPS by class."""

    csat_n: int = 0
    csat_points: int = 0  # sum of the answers on the 0..100 scale
    nps_n: int = 0
    nps_promoters: int = 0
    nps_detractors: int = 0

    def add(self, other: SurveyCounts) -> None:
        self.csat_n += other.csat_n
        self.csat_points += other.csat_points
        self.nps_n += other.nps_n
        self.nps_promoters += other.nps_promoters
        self.nps_detractors += other.nps_detractors


SURVEY_FIELDS = ("csat_n", "csat_points", "nps_n", "nps_promoters", "nps_detractors")


def add_survey_by_agent(into: dict[str, SurveyCounts], other: dict[str, SurveyCounts]) -> None:
    for agent_id, counts in other.items():
        into.setdefault(agent_id, SurveyCounts()).add(counts)


@dataclass(slots=True)
class QueueCounts:
    """What happened in one queue over some span of time (a window or one interval)."""

    offered: int = 0  # entered the queue (a requeue after RONA is not a new offer)
    answered: int = 0
    abandoned: int = 0  # hung up while waiting or ringing
    timed_out: int = 0  # max wait reached, handed to the PBX's queue
    overflowed: int = 0  # left for another queue (admission overflow)
    voicemail: int = 0  # refused by the queue's admission: sent to a mailbox
    closed: int = 0  # refused by the queue's admission: closed message, hung up
    callback_requested: int = 0  # left the line for a callback (keeps its place)
    callback_answered: int = 0  # callbacks the customer answered (also in `answered`)
    callback_failed: int = 0  # callbacks never answered after every attempt
    answered_waits: dict[int, int] = field(default_factory=dict)  # bucket -> calls
    abandoned_waits: dict[int, int] = field(default_factory=dict)  # bucket -> calls
    wait_sum_s: float = 0.0  # of answered calls: for ASA
    handled: int = 0  # answered calls that ended (talk known)
    talk_sum_s: float = 0.0
    wrapup_sum_s: float = 0.0  # wrap-up after calls of this queue
    repeats: int = 0  # answered calls whose caller called again within repeat_window_h
    # EWT accuracy, over answered calls that had an estimate at queue entry.
    ewt_n: int = 0
    ewt_abs_err_s: float = 0.0  # sum of |predicted - actual|
    ewt_err_s: float = 0.0  # sum of predicted - actual (> 0: waits over-estimated)
    ewt_w30: int = 0  # |error| <= 30 s
    ewt_w25: int = 0  # |error| <= 25 % of the actual wait
    survey: SurveyCounts = field(default_factory=SurveyCounts)
    # The same answers by agent: from the recent facts only (the sliding windows); per interval
    # they are in the agents' own counts (AgentCounts.survey).
    survey_by_agent: dict[str, SurveyCounts] = field(default_factory=dict)
    # issue 9: transfers, wrap-up codes; and the same counts split by call reason
    transferred: int = 0  # conversations of this queue that ended in a transfer (out)
    transfers_in: int = 0  # calls transferred to this queue (never offered a second time)
    transfers_in_answered: int = 0  # ... answered here
    transfers_in_lost: int = 0  # ... abandoned or timed out here
    resolved: int = 0  # calls whose last agent said "resolved"
    unresolved: int = 0  # ... said "not resolved"
    codes: dict[str, int] = field(default_factory=dict)  # wrap-up code -> wrap-ups
    by_reason: dict[str, QueueCounts] = field(default_factory=dict)  # reason -> its counts

    def add(self, other: QueueCounts) -> None:
        self.offered += other.offered
        self.answered += other.answered
        self.abandoned += other.abandoned
        self.timed_out += other.timed_out
        self.overflowed += other.overflowed
        self.voicemail += other.voicemail
        self.closed += other.closed
        self.callback_requested += other.callback_requested
        self.callback_answered += other.callback_answered
        self.callback_failed += other.callback_failed
        for mine, theirs in ((self.answered_waits, other.answered_waits),
                             (self.abandoned_waits, other.abandoned_waits)):
            for bucket, n in theirs.items():
                mine[bucket] = mine.get(bucket, 0) + n
        self.wait_sum_s += other.wait_sum_s
        self.handled += other.handled
        self.talk_sum_s += other.talk_sum_s
        self.wrapup_sum_s += other.wrapup_sum_s
        self.repeats += other.repeats
        self.ewt_n += other.ewt_n
        self.ewt_abs_err_s += other.ewt_abs_err_s
        self.ewt_err_s += other.ewt_err_s
        self.ewt_w30 += other.ewt_w30
        self.ewt_w25 += other.ewt_w25
        self.survey.add(other.survey)
        add_survey_by_agent(self.survey_by_agent, other.survey_by_agent)
        for name in _EXTRA_INTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for code, n in other.codes.items():
            self.codes[code] = self.codes.get(code, 0) + n
        for reason, counts in other.by_reason.items():
            self.by_reason.setdefault(reason, QueueCounts()).add(counts)


_EXTRA_INTS = ("transferred", "transfers_in", "transfers_in_answered", "transfers_in_lost",
               "resolved", "unresolved")


def summed(parts: Iterable[QueueCounts]) -> QueueCounts:
    """The counts of several spans (intervals, PBXs) added up, as a new object."""
    total = QueueCounts()
    for counts in parts:
        total.add(counts)
    return total


def handle_times(hour: Mapping[str, QueueCounts]) -> dict[str, float]:
    """Each queue's handle time (talk + wrap-up per call handled, the AHT figure) over a
    window's counts by queue; the queues with no call handled are left out."""
    return {q: (c.talk_sum_s + c.wrapup_sum_s) / c.handled for q, c in hour.items()
            if c.handled}


@dataclass(slots=True)
class AgentCounts:
    """One agent's time and calls over some span (today, or one interval)."""

    handled: int = 0
    talk_s: float = 0.0
    wrapup_s: float = 0.0
    ready_s: float = 0.0  # idle, ready for a call
    not_ready_s: float = 0.0
    ringing_s: float = 0.0  # reserved, phone ringing
    repeats: int = 0  # of the calls it answered, those whose caller called again soon
    survey: SurveyCounts = field(default_factory=SurveyCounts)  # answers about its calls

    def add(self, other: AgentCounts) -> None:
        self.handled += other.handled
        self.talk_s += other.talk_s
        self.wrapup_s += other.wrapup_s
        self.ready_s += other.ready_s
        self.not_ready_s += other.not_ready_s
        self.ringing_s += other.ringing_s
        self.repeats += other.repeats
        self.survey.add(other.survey)


@dataclass(slots=True)
class FunnelCounts:
    """IVR funnel of one flow: how many callers reached each node, and where they left."""

    reached: dict[str, int] = field(default_factory=dict)  # node -> callers
    left: dict[str, dict[str, int]] = field(default_factory=dict)  # node -> exit -> callers
    # CRM lookups of a lookup node: node -> outcome (hit, miss, cache, timeout, error,
    # skipped) -> lookups
    lookups: dict[str, dict[str, int]] = field(default_factory=dict)
    # exit is one of: "queue" (handed to an agent queue), "hangup", "closed", "fallback"
