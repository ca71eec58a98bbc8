"""Figures by call reason (issue 9), from the queue counts' per-reason part. Pure: `now` and
the counts are passed in.

The Lua scripts count every call under its reason (fields `r:<reason>:...` of the queue
interval hashes, parsed into `QueueCounts.by_reason`), in the same step as the queue counts:
offered at its first offer, answered (wait, SL histogram) at its first answer, abandoned or
timed out before that, handled when its last conversation ends, talk and wrap-up of every
conversation, `transferred` once per call at its first transfer, wrap-up codes of every
wrap-up, resolved / not resolved as the last agent said, repeats when the caller calls again,
survey answers (CSAT, NPS). A reason's figures are its counts added over every queue and PBX:
each call counts once however many queues it went through, and the reasons (with '(none)')
add up to the centre's totals.

A reason's service level uses the SLA of its default queue ([reasons.NAME].queue), else the
defaults (80/20, short abandons excluded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from acd.config import Config, SlaConfig
from acd.core.model import Call, CallState
from acd.core.reasons import NO_REASON, figures_name, label_of
from acd.stats.fig_window import ratio, window_figures
from acd.stats.raw import INTERVAL_S, QueueCounts
from acd.stats.reason_schema import (
    ReasonFigures,
    ReasonHistoryRow,
    ReasonTrend,
    ReasonTrendsOut,
    ReasonWindow,
)

WEEK_S = 7 * 86_400
_LIVE = (CallState.RINGING, CallState.CONNECTED)


def by_reason(per_queue: Iterable[QueueCounts],
              into: dict[str, QueueCounts] | None = None) -> dict[str, QueueCounts]:
    """reason -> its counts over the given queue counts (added to `into` when given)."""
    out: dict[str, QueueCounts] = {} if into is None else into
    for counts in per_queue:
        for reason, part in counts.by_reason.items():
            out.setdefault(reason, QueueCounts()).add(part)
    return out


def sla_of(cfg: Config, reason: str) -> SlaConfig:
    rcfg = cfg.reasons.get(reason)
    if rcfg is not None and rcfg.queue is not None and rcfg.queue in cfg.queues:
        return cfg.queues[rcfg.queue].sla
    return SlaConfig()


def reason_window(cfg: Config, reason: str, counts: QueueCounts) -> ReasonWindow:
    base = window_figures(counts, sla_of(cfg, reason), cfg.short_abandon_s)
    said = counts.resolved + counts.unresolved
    survey = counts.survey
    nps = None
    if survey.nps_n:
        nps = 100.0 * (survey.nps_promoters - survey.nps_detractors) / survey.nps_n
    return ReasonWindow(
        **base.model_dump(), resolved=counts.resolved, unresolved=counts.unresolved,
        resolved_rate=ratio(counts.resolved, said), codes=dict(sorted(counts.codes.items())),
        csat_answers=survey.csat_n, csat_index=ratio(survey.csat_points, survey.csat_n),
        nps_answers=survey.nps_n, nps=nps)


def names(cfg: Config, counted: Iterable[str]) -> list[str]:
    """Every configured reason, then '(none)', then any other reason that has counts."""
    order = [*cfg.reasons, NO_REASON]
    return order + sorted(r for r in set(counted) if r not in order)


@dataclass(slots=True)
class LiveByReason:
    """The live calls per reason: waiting, and ringing or connected."""

    waiting: dict[str, int] = field(default_factory=dict)
    connected: dict[str, int] = field(default_factory=dict)

    def count(self, calls: Iterable[Call]) -> None:
        waiting, connected = self.waiting, self.connected
        for call in calls:
            name = figures_name(call.reason)
            if call.state is CallState.WAITING:
                waiting[name] = waiting.get(name, 0) + 1
            elif call.state in _LIVE:
                connected[name] = connected.get(name, 0) + 1


def listed(cfg: Config, live: LiveByReason, today: Mapping[str, QueueCounts]) -> list[str]:
    """The reasons shown (`names` order)."""
    return names(cfg, [*today, *live.waiting, *live.connected])


def reason_row(cfg: Config, reason: str, live: LiveByReason,
               today: Mapping[str, QueueCounts]) -> ReasonFigures:
    return ReasonFigures(name=reason, label=label_of(cfg, reason),
                         waiting=live.waiting.get(reason, 0),
                         connected=live.connected.get(reason, 0),
                         today=reason_window(cfg, reason, today.get(reason) or QueueCounts()))


def history(cfg: Config, per_interval: Mapping[int, Mapping[str, QueueCounts]],
            reason: str | None,
            period_of: Callable[[int], tuple[float, float]] | None = None
            ) -> list[ReasonHistoryRow]:
    """Rows per interval (interval start -> reason -> counts), or per the period `period_of`
    puts each interval start in ([start, end), e.g. its local day): oldest first, then in
    `names` order; only `reason` when given. Periods with nothing counted are left out."""
    buckets: dict[tuple[float, float], dict[str, QueueCounts]] = {}
    for start, reasons in sorted(per_interval.items()):
        period = (float(start), float(start + INTERVAL_S)) if period_of is None \
            else period_of(start)
        mine = buckets.setdefault(period, {})
        for name, counts in reasons.items():
            if reason is None or name == reason:
                mine.setdefault(name, QueueCounts()).add(counts)
    rows: list[ReasonHistoryRow] = []
    for (begin, end), counted in sorted(buckets.items()):
        for name in names(cfg, counted):
            found = counted.get(name)
            if found is not None:
                rows.append(ReasonHistoryRow(reason=name, start=begin, end=end,
                                             figures=reason_window(cfg, name, found)))
    return rows


def trends(cfg: Config, now: float, offered: Mapping[int, Mapping[str, int]]
           ) -> ReasonTrendsOut:
    """This week (the 7 days to the end of the current 15-minute interval) against the 7 days
    before, by calls offered per reason (`offered`: interval start -> reason -> offered);
    the reasons that grew most first (by change, then growth, then name)."""
    end = (now // INTERVAL_S + 1) * INTERVAL_S
    split, begin = end - WEEK_S, end - 2 * WEEK_S
    this: dict[str, int] = {}
    last: dict[str, int] = {}
    for start, reasons in offered.items():
        into = this if split <= start < end else last if begin <= start < split else None
        if into is None:
            continue
        for name, n in reasons.items():
            into[name] = into.get(name, 0) + n
    rows = []
    for name in names(cfg, [*this, *last]):
        now_n, before = this.get(name, 0), last.get(name, 0)
        rows.append(ReasonTrend(name=name, label=label_of(cfg, name), this_week=now_n,
                                last_week=before, change=now_n - before,
                                growth=ratio(now_n - before, before)))
    rows.sort(key=lambda t: (-t.change, -(t.growth or 0.0), t.name))
    return ReasonTrendsOut(generated_at=now, this_week=[split, end], last_week=[begin, split],
                           reasons=rows)
