"""Local midnight across DST changes, and the 15-minute intervals (pure)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from acd.stats.timewin import interval_start, intervals, local_midnight


def at(iso: str, tz: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=ZoneInfo(tz)).timestamp()


@pytest.mark.parametrize("now, tz, midnight, day_h", [
    ("2024-06-05T10:00", "UTC", "2024-06-05T00:00+00:00", 24),
    ("2024-06-05T00:00", "UTC", "2024-06-05T00:00+00:00", 24),
    ("2024-06-05T23:59:59", "Europe/Paris", "2024-06-05T00:00+02:00", 24),
    # spring forward at 02:00: a 23-hour day
    ("2024-03-31T15:00", "Europe/Paris", "2024-03-31T00:00+01:00", 23),
    # fall back at 03:00: a 25-hour day
    ("2024-10-27T15:00", "Europe/Paris", "2024-10-27T00:00+02:00", 25),
    # clocks jump from 00:00 to 01:00: the day begins at 01:00
    ("2024-09-08T12:00", "America/Santiago", "2024-09-08T01:00-03:00", 23),
    ("2024-03-10T12:00", "America/Havana", "2024-03-10T01:00-04:00", 23),
    # clocks fall back from 00:00 to 23:00: the day before has 25 hours
    ("2024-04-06T22:00", "America/Santiago", "2024-04-06T00:00-03:00", 25),
    ("2024-04-07T12:00", "America/Santiago", "2024-04-07T00:00-04:00", 24),
    ("2024-06-05T03:00", "Pacific/Kiritimati", "2024-06-05T00:00+14:00", 24),
])
def test_local_midnight(now: str, tz: str, midnight: str, day_h: int) -> None:
    got = local_midnight(at(now, tz), tz)
    assert got == datetime.fromisoformat(midnight).timestamp()
    # the next day begins day_h hours later
    assert local_midnight(got + day_h * 3600 + 1, tz) == got + day_h * 3600
    assert local_midnight(got + day_h * 3600 - 1, tz) == got


def test_second_pass_of_a_repeated_hour_is_still_the_same_day() -> None:
    # Paris, 2024-10-27: 02:30 happens twice; both belong to the day that began at 00:00+02:00
    first = datetime(2024, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Paris"), fold=0).timestamp()
    second = datetime(2024, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Paris"), fold=1).timestamp()
    assert second - first == 3600
    want = datetime.fromisoformat("2024-10-27T00:00+02:00").timestamp()
    assert local_midnight(first, "Europe/Paris") == local_midnight(second, "Europe/Paris") == want


@pytest.mark.parametrize("t, start", [(0.0, 0.0), (899.999, 0.0), (900.0, 900.0),
                                      (1_717_000_123.5, 1_716_999_300.0), (-1.0, -900.0)])
def test_interval_start(t: float, start: float) -> None:
    assert interval_start(t) == start


def test_intervals_cover_the_span() -> None:
    assert intervals(900.0, 900.0) == []
    assert intervals(900.0, 901.0) == [900.0]
    assert intervals(1000.0, 2700.0) == [900.0, 1800.0]
    assert intervals(1000.0, 2701.0) == [900.0, 1800.0, 2700.0]
    day = intervals(0.0, 86_400.0)
    assert len(day) == 96 and day[-1] == 85_500.0
