"""Business hours: weekly ranges, holidays, and DST change days in Europe/Berlin."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from acd.config import HoursConfig
from acd.core.hours import is_open, parse_range, validate_hours

WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hours(ranges: list[str], tz: str = "Europe/Berlin", **kw: Any) -> HoursConfig:
    return HoursConfig.model_validate({"timezone": tz, "weekly": {d: ranges for d in WEEK}, **kw})


def _t(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


OFFICE = ["08:00-18:00"]


@pytest.mark.parametrize(("ranges", "when", "expected"), [
    # a plain winter (CET, +01:00) and summer (CEST, +02:00) day
    (OFFICE, "2026-01-14T07:00:00+00:00", True),  # 08:00 local: start included
    (OFFICE, "2026-01-14T06:59:59+00:00", False),
    (OFFICE, "2026-01-14T16:59:59+00:00", True),
    (OFFICE, "2026-01-14T17:00:00+00:00", False),  # 18:00 local: end excluded
    (OFFICE, "2026-07-14T06:00:00+00:00", True),  # summer: 08:00 local is 06:00 UTC
    (OFFICE, "2026-07-14T05:59:59+00:00", False),
    # spring forward, Sun 2026-03-29: 02:00 CET becomes 03:00 CEST
    (OFFICE, "2026-03-29T06:00:00+00:00", True),  # 08:00 CEST
    (OFFICE, "2026-03-29T05:59:59+00:00", False),  # 07:59 CEST (a fixed +01:00 would say open)
    (OFFICE, "2026-03-29T15:59:59+00:00", True),
    (OFFICE, "2026-03-29T16:00:00+00:00", False),  # 18:00 CEST
    (["02:30-04:00"], "2026-03-29T00:59:59+00:00", False),  # 01:59:59 CET
    (["02:30-04:00"], "2026-03-29T01:00:00+00:00", True),  # 03:00 CEST, the gap skipped
    (["02:30-04:00"], "2026-03-29T02:00:00+00:00", False),  # 04:00 CEST
    # fall back, Sun 2026-10-25: 03:00 CEST becomes 02:00 CET, 02:xx happens twice
    (OFFICE, "2026-10-25T06:30:00+00:00", False),  # 07:30 CET (a fixed +02:00 would say open)
    (OFFICE, "2026-10-25T07:00:00+00:00", True),  # 08:00 CET
    (OFFICE, "2026-10-25T16:59:59+00:00", True),
    (OFFICE, "2026-10-25T17:00:00+00:00", False),
    (["02:00-02:30"], "2026-10-25T00:15:00+00:00", True),  # 02:15 CEST
    (["02:00-02:30"], "2026-10-25T01:15:00+00:00", True),  # 02:15 CET, the second time
    (["02:00-02:30"], "2026-10-25T00:45:00+00:00", False),  # 02:45 CEST
    # "23:59" runs to midnight; several ranges a day
    (["08:00-23:59"], "2026-01-14T23:59:30+01:00", True),
    (["08:00-23:59"], "2026-01-15T00:00:00+01:00", False),
    (["00:00-23:59"], "2026-01-15T00:00:00+01:00", True),
    (["08:00-24:00"], "2026-01-14T23:59:59+01:00", True),
    (["08:00-12:00", "13:00-17:00"], "2026-01-14T12:30:00+01:00", False),
    (["08:00-12:00", "13:00-17:00"], "2026-01-14T13:00:00+01:00", True),
    ([], "2026-01-14T12:00:00+01:00", False),
])
def test_is_open(ranges: list[str], when: str, expected: bool) -> None:
    assert is_open(_hours(ranges), _t(when)) is expected


@pytest.mark.parametrize(("when", "expected"), [
    ("2026-12-24T23:59:59+01:00", True),
    ("2026-12-25T00:00:00+01:00", False),  # the holiday starts at local midnight...
    ("2026-12-24T23:30:00+00:00", False),  # ...which is still the 24th in UTC
    ("2026-12-25T12:00:00+01:00", False),
    ("2026-12-26T00:00:00+01:00", True),
])
def test_holiday_is_closed_all_day(when: str, expected: bool) -> None:
    hours = _hours(["00:00-23:59"], holidays=["2026-12-25"])
    assert is_open(hours, _t(when)) is expected


def test_only_listed_days_open() -> None:
    hours = HoursConfig.model_validate({"timezone": "UTC", "weekly": {"mon": OFFICE}})
    assert is_open(hours, _t("2026-01-12T09:00:00+00:00"))  # a Monday
    assert not is_open(hours, _t("2026-01-13T09:00:00+00:00"))


@pytest.mark.parametrize(("text", "expected"), [
    ("08:00-18:00", (8 * 3600, 18 * 3600)),
    ("00:00-23:59", (0, 86400)),
    ("23:59-24:00", (86340, 86400)),
])
def test_parse_range(text: str, expected: tuple[int, int]) -> None:
    assert parse_range(text) == expected


@pytest.mark.parametrize(("data", "problems"), [
    ({"timezone": "Europe/Berlin", "weekly": {"mon": OFFICE}}, []),
    ({"timezone": "Europe/Berln", "weekly": {}}, ["timezone: unknown time zone 'Europe/Berln'"]),
    ({"timezone": "../etc", "weekly": {}}, ["timezone: unknown time zone '../etc'"]),
    ({"weekly": {"tue": ["18:00-08:00"]}},
     ["weekly.tue.0: '18:00-08:00': start 18:00 is not before end 08:00"]),
    ({"weekly": {"tue": ["08:00-08:00"]}},
     ["weekly.tue.0: '08:00-08:00': start 08:00 is not before end 08:00"]),
    ({"weekly": {"wed": ["08:00-12:00", "25:00-26:00"]}},
     ["weekly.wed.1: '25:00-26:00': 25:00 is not a time of day"]),
    ({"weekly": {"wed": ["08:60-09:00"]}},
     ["weekly.wed.0: '08:60-09:00': 08:60 is not a time of day"]),
    ({"weekly": {}, "holidays": ["2026-02-30"]}, ["holidays.0: '2026-02-30' is not a date"]),
])
def test_validate_hours(data: dict[str, Any], problems: list[str]) -> None:
    assert validate_hours(HoursConfig.model_validate(data)) == problems
