"""Time windows of the figures (pure: `now` is passed in, no clock is read).

- "today" starts at local midnight in the centre's time zone, found with zoneinfo so that days of
  23 or 25 hours (DST changes) and zones whose clocks jump at midnight are right;
- history is kept per 15-minute interval, aligned to the Unix epoch (raw.INTERVAL_S).
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from acd.stats.raw import INTERVAL_S


def local_midnight(now: float, tz: str) -> float:
    """The Unix time at which the local day containing `now` began in time zone `tz`.

    When local midnight does not exist (clocks jump from 00:00 to 01:00), the day begins at the
    first instant after the jump; when it happens twice (clocks fall back at midnight), the first
    one counts. Either way the result is the first instant whose local date is today's date.
    """
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(now, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    # A nonexistent 00:00 with fold=0 resolves through the offset in force before the jump,
    # which lands exactly on the jump: the first instant of the day.
    return midnight.timestamp()


def interval_start(t: float) -> float:
    """The start of the 15-minute interval holding `t` (floor to INTERVAL_S, epoch-aligned)."""
    return float(math.floor(t / INTERVAL_S) * INTERVAL_S)


def intervals(start: float, end: float) -> list[float]:
    """Starts of every 15-minute interval that overlaps [start, end), oldest first."""
    out: list[float] = []
    t = interval_start(start)
    while t < end:
        out.append(t)
        t += INTERVAL_S
    return out

