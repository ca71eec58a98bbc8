"""Recording file names and pause bookkeeping. Pure: the clock and the zone are passed in."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from acd.config import RecordingConfig

# A value that lands in a path: no separators, no "..", nothing a shell or Asterisk would read
# as syntax (the MixMonitor docs warn against caller-controlled strings in its arguments).
_UNSAFE = re.compile(r"[^A-Za-z0-9+._-]+|\.{2,}")


def _safe(value: str) -> str:
    return _UNSAFE.sub("_", value).strip("._")[:64] or "none"


def file_name(rec: RecordingConfig, fields: dict[str, str], timezone: str, now: float) -> str:
    """The file MixMonitor writes: the template with safe field values, and the format's
    extension. `fields`: call_id, uniqueid, queue, agent, caller_num, pbx."""
    local = datetime.fromtimestamp(now, ZoneInfo(timezone))
    values = {k: _safe(v) for k, v in fields.items()}
    values.update(date=local.strftime("%Y%m%d"), time=local.strftime("%H%M%S"))
    name = re.sub(r"/{2,}", "/", rec.file_template.format_map(values))
    return f"{name}.{rec.format}"


def is_paused(pauses: list[list[float]]) -> bool:
    return bool(pauses) and len(pauses[-1]) == 1


def paused(pauses: list[list[float]], now: float) -> list[list[float]]:
    """The pauses with one more opened at `now` (ValueError if one is open)."""
    if is_paused(pauses):
        raise ValueError("the recording is paused already")
    return [*pauses, [now]]


def resumed(pauses: list[list[float]], now: float) -> list[list[float]]:
    """The pauses with the open one closed at `now` (ValueError if none is open)."""
    if not is_paused(pauses):
        raise ValueError("the recording is not paused")
    return [*pauses[:-1], [pauses[-1][0], max(now, pauses[-1][0])]]
