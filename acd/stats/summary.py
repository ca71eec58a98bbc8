"""Per-queue totals from the store's event stream (pure): offered, answered, abandoned, service
level and ASA, with the formulas of METRICS.md. The live, windowed figures build on this."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

FORMULAS = ("ignore_abandoned", "abandoned_count_against", "short_abandons_excluded",
            "abandoned_within_t_positive")


@dataclass(slots=True)
class QueueTotals:
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    abandoned_within: int = 0
    timed_out: int = 0
    wait_sum_s: float = 0.0
    waits: list[float] = field(default_factory=list)

    def service_level(self, formula: str = "short_abandons_excluded") -> float | None:
        if formula == "ignore_abandoned":
            den = self.answered
            num = self.answered_within
        elif formula == "abandoned_count_against":
            den = self.answered + self.abandoned
            num = self.answered_within
        elif formula == "short_abandons_excluded":
            den = self.answered + self.abandoned - self.short_abandoned
            num = self.answered_within
        elif formula == "abandoned_within_t_positive":
            den = self.offered
            num = self.answered_within + self.abandoned_within
        else:
            raise ValueError(f"unknown service level formula {formula!r}; one of {FORMULAS}")
        return num / den if den else None

    @property
    def asa_s(self) -> float | None:
        return self.wait_sum_s / self.answered if self.answered else None

    @property
    def abandon_rate(self) -> float | None:
        return self.abandoned / self.offered if self.offered else None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def totals_by_queue(events: Iterable[Mapping[str, str]], thresholds: Mapping[str, float],
                    short_abandon_s: float) -> dict[str, QueueTotals]:
    """Fold store events (type, call, at, queue, entered_at, outcome, ...) into per-queue totals.

    A requeue after ring-no-answer is not a new offer; each call is answered or abandoned once
    (the store guarantees one call_answered / call_ended per call).
    """
    out: dict[str, QueueTotals] = {}
    for ev in events:
        kind = ev.get("type")
        queue = ev.get("queue", "")
        if not queue or kind not in ("call_queued", "call_answered", "call_ended"):
            continue
        t = out.setdefault(queue, QueueTotals())
        at, entered = _float(ev.get("at")), _float(ev.get("entered_at"))
        wait = at - entered if at is not None and entered is not None else 0.0
        threshold = thresholds.get(queue, 20.0)
        if kind == "call_queued":
            t.offered += 1
        elif kind == "call_answered":
            t.answered += 1
            t.wait_sum_s += wait
            t.waits.append(wait)
            t.answered_within += wait <= threshold
        elif ev.get("outcome") == "abandoned" and ev.get("from_state") in ("waiting", "ringing"):
            t.abandoned += 1
            t.short_abandoned += wait < short_abandon_s
            t.abandoned_within += wait <= threshold
        elif ev.get("outcome") == "timeout":
            t.timed_out += 1
    return out


def summary(totals: Mapping[str, QueueTotals], thresholds: Mapping[str, float],
            targets: Mapping[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, t in sorted(totals.items()):
        sl = t.service_level()
        out[name] = {
            "offered": t.offered, "answered": t.answered, "abandoned": t.abandoned,
            "short_abandoned": t.short_abandoned, "timed_out": t.timed_out,
            "service_level": {"value": None if sl is None else round(sl, 4),
                              "threshold_s": thresholds.get(name, 20.0),
                              "target": targets.get(name), "formula": "short_abandons_excluded"},
            "asa_s": None if t.asa_s is None else round(t.asa_s, 2),
            "abandon_rate": None if t.abandon_rate is None else round(t.abandon_rate, 4),
        }
    return out


def as_dict(t: QueueTotals) -> dict[str, Any]:
    return asdict(t)
