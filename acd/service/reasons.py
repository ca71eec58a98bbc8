"""Figures by call reason on the service's side (issue 9; definitions: acd/stats/reasons.py).

- live + today: made with every figures snapshot from the same counts (no extra Redis read);
- history per 15-minute interval or per local day: read from the queue interval hashes;
- trends (this week against last week): 14 days of intervals, each closed interval read once
  and kept (a closed interval never changes), so a refresh reads only the open one.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from acd.config import Config
from acd.core.model import Call
from acd.core.steps import ITEMS_PER_STEP, QUEUES_PER_STEP, ROWS_PER_STEP, chunks, run_steps
from acd.stats import reasons
from acd.stats.fig_merge import add_intervals
from acd.stats.raw import INTERVAL_S, QueueCounts
from acd.stats.reason_schema import HistoryStep
from acd.stats.timewin import local_midnight

if TYPE_CHECKING:
    from acd.service.live import LiveSource

CLOSED_AFTER_S = 60.0  # as the day cache: an interval this long past its end takes no writes


def live_and_today(cfg: Config, now: float, calls: Sequence[Call],
                   today: Mapping[str, QueueCounts]) -> dict[str, Any]:
    """The ReasonsOut shape: `today` is queue -> counts since midnight (every PBX)."""
    return run_steps(live_and_today_steps(cfg, now, calls, today))


def live_and_today_steps(cfg: Config, now: float, calls: Sequence[Call],
                         today: Mapping[str, QueueCounts]) -> Generator[None, None, dict[str, Any]]:
    """live_and_today in steps of the sliced refresh (acd/service/slices.py): at once, it
    was one step of ~20 ms at 10,000 calls and 1,000 queues (session 11's trace)."""
    live = reasons.LiveByReason()
    for some in chunks(calls, ITEMS_PER_STEP):
        live.count(some)
        yield
    counted: dict[str, QueueCounts] = {}
    for queues in chunks(list(today.values()), QUEUES_PER_STEP):
        reasons.by_reason(queues, into=counted)
        yield
    rows: list[dict[str, Any]] = []
    for names in chunks(reasons.listed(cfg, live, counted), ROWS_PER_STEP):
        rows += [reasons.reason_row(cfg, name, live, counted).model_dump(mode="json")
                 for name in names]
        yield
    # (ReasonsOut(generated_at=now, reasons=...).model_dump(mode="json"), a row a time)
    return {"generated_at": now, "reasons": rows}


def day_period(tz: str) -> Any:
    """interval start -> its local day [midnight, next midnight)."""
    zone = ZoneInfo(tz)

    def period(start: int) -> tuple[float, float]:
        begin = local_midnight(float(start), tz)
        day = datetime.fromtimestamp(begin, zone).date() + timedelta(days=1)
        end = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
        return begin, local_midnight(end, tz)

    return period


class ReasonReads:
    def __init__(self) -> None:
        self._offered: dict[tuple[str, int], dict[str, int]] = {}  # closed intervals

    async def history(self, cfg: Config, engines: Mapping[str, LiveSource], reason: str | None,
                      start: float, end: float, step: HistoryStep) -> list[dict[str, Any]]:
        queues = list(cfg.queues)
        parts = [await e.store.queue_intervals(queues, start, end) for e in engines.values()]
        per_interval = _reasons_by_interval(add_intervals(parts))
        period = day_period(cfg.timezone) if step == "day" else None
        rows = reasons.history(cfg, per_interval, reason, period)
        return [row.model_dump(mode="json") for row in rows]

    async def trends(self, cfg: Config, engines: Mapping[str, LiveSource],
                     now: float) -> dict[str, Any]:
        end = (now // INTERVAL_S + 1) * INTERVAL_S
        begin = end - 2 * reasons.WEEK_S
        starts = range(int(begin), int(end), INTERVAL_S)
        offered: dict[int, dict[str, int]] = {}
        for name, engine in engines.items():
            missing = [s for s in starts if (name, s) not in self._offered]
            if missing:
                read = await engine.store.queue_intervals(list(cfg.queues), min(missing),
                                                          max(missing) + INTERVAL_S)
                for start, by in _reasons_by_interval(read).items():
                    counts = {r: c.offered for r, c in by.items() if c.offered}
                    if start + INTERVAL_S + CLOSED_AFTER_S <= now:
                        self._offered[(name, start)] = counts
                    _add(offered, start, counts)
            for s in starts:
                if s not in missing:
                    _add(offered, s, self._offered[(name, s)])
        for key in [k for k in self._offered if k[1] < begin]:
            del self._offered[key]
        return reasons.trends(cfg, now, offered).model_dump(mode="json")


def _reasons_by_interval(per_queue: Mapping[str, Mapping[int, QueueCounts]]
                         ) -> dict[int, dict[str, QueueCounts]]:
    """queue -> interval -> counts  ==>  interval -> reason -> counts (over every queue)."""
    out: dict[int, list[QueueCounts]] = {}
    for by_start in per_queue.values():
        for start, counts in by_start.items():
            out.setdefault(start, []).append(counts)
    return {start: reasons.by_reason(parts) for start, parts in out.items()}


def _add(into: dict[int, dict[str, int]], start: int, counts: Mapping[str, int]) -> None:
    mine = into.setdefault(start, {})
    for reason, n in counts.items():
        mine[reason] = mine.get(reason, 0) + n
