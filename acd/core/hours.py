"""Business hours: weekly ranges and holidays, in the hours' own time zone.

Ranges are wall-clock "HH:MM-HH:MM", start included, end excluded, so "08:00-18:00" is closed at
18:00 sharp. An end of "23:59" (or "24:00") runs to midnight, so 23:59:30 is still open. A range
cannot cross midnight: split it over two days ("mon" 22:00-23:59, "tue" 00:00-02:00).
Holidays ("YYYY-MM-DD", local date) are closed all day. Local time comes from zoneinfo, so DST
days are right: the wall clock is compared, whatever the UTC offset of the day.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from acd.config import HoursConfig, Weekday

_DAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_END_OF_DAY = 24 * 3600


def _minutes(hhmm: str) -> int:
    """Minutes after midnight; raises ValueError for hours > 24 or minutes > 59."""
    h, m = (int(p) for p in hhmm.split(":"))
    if not (0 <= h <= 24 and 0 <= m <= 59) or (h == 24 and m):
        raise ValueError(f"{hhmm} is not a time of day")
    return h * 60 + m


def parse_range(text: str) -> tuple[int, int]:
    """(start, end) in seconds after local midnight, end exclusive; raises ValueError."""
    start_s, end_s = text.split("-")
    start, end = _minutes(start_s) * 60, _minutes(end_s) * 60
    if end_s in ("23:59", "24:00"):
        end = _END_OF_DAY  # the last minute counts as open
    if start >= end or start >= _END_OF_DAY:
        raise ValueError(f"start {start_s} is not before end {end_s}")
    return start, end


def is_open(hours: HoursConfig, now: float) -> bool:
    """Open at Unix time `now`? Raises ZoneInfoNotFoundError for an unknown time zone and
    ValueError for a bad range: check configs with `validate_hours` first."""
    local = datetime.fromtimestamp(now, ZoneInfo(hours.timezone))
    if local.date().isoformat() in hours.holidays:
        return False
    second = local.hour * 3600 + local.minute * 60 + local.second
    for text in hours.weekly.get(_DAYS[local.weekday()], []):
        start, end = parse_range(text)
        if start <= second < end:
            return True
    return False


def validate_hours(hours: HoursConfig) -> list[str]:
    """Problems, one line each, keyed below the hours entry (`weekly.mon.0: ...`)."""
    out: list[str] = []
    try:
        ZoneInfo(hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        out.append(f"timezone: unknown time zone {hours.timezone!r}")
    for day, ranges in hours.weekly.items():
        for i, text in enumerate(ranges):
            try:
                parse_range(text)
            except ValueError as exc:
                out.append(f"weekly.{day}.{i}: {text!r}: {exc}")
    for i, day_text in enumerate(hours.holidays):
        try:
            date.fromisoformat(day_text)
        except ValueError:
            out.append(f"holidays.{i}: {day_text!r} is not a date")
    return out
