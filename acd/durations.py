"""A histogram of durations (how long the collector stopped the process, how late its event
loop ran), kept as counts that only grow: two copies taken apart give what happened between
them, and Prometheus gets it as a histogram."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

# Upper bounds (s) of the buckets; one more bucket holds everything longer.
BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
BOUNDS = (*(str(b) for b in BUCKETS_S), "+Inf")  # as Prometheus writes them (`le`)
_OVER_10_MS = bisect.bisect_left(BUCKETS_S, 0.01) + 1  # the first bucket above 10 ms


@dataclass
class Durations:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_S) + 1))
    total_s: float = 0.0
    longest_s: float = 0.0  # since the start (a copy's difference cannot tell it)

    def add(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS_S, seconds)] += 1
        self.total_s += seconds
        self.longest_s = max(self.longest_s, seconds)

    def copy(self) -> Durations:
        return Durations(list(self.counts), self.total_s, self.longest_s)

    def prometheus(self) -> tuple[list[tuple[str, float]], float]:
        """Cumulative buckets ending with +Inf, and the sum (s)."""
        out, seen = [], 0
        for bound, n in zip(BOUNDS, self.counts, strict=True):
            seen += n
            out.append((bound, float(seen)))
        return out, self.total_s

    @classmethod
    def from_prometheus(cls, buckets: dict[str, float], total_s: float) -> Durations:
        """The other way (a scrape's `le` -> cumulative count); the longest is not known."""
        cumulative = [int(buckets.get(b, 0)) for b in BOUNDS]
        counts = [n - (cumulative[i - 1] if i else 0) for i, n in enumerate(cumulative)]
        return cls(counts, total_s)

    def since(self, before: Durations) -> dict[str, Any]:
        """What happened since `before` (a copy): how many, their total, how many over 10 ms,
        and the longest as the upper bound of the highest bucket reached (the longest since
        the start for the last, open bucket)."""
        counts = [a - b for a, b in zip(self.counts, before.counts, strict=True)]
        reached = [i for i, n in enumerate(counts) if n]
        top = reached[-1] if reached else None
        return {
            "count": sum(counts),
            "total_ms": round((self.total_s - before.total_s) * 1000, 1),
            "longest_ms_at_most": (None if top is None else
                                   round(1000 * BUCKETS_S[top], 1) if top < len(BUCKETS_S)
                                   else round(1000 * self.longest_s, 1)),
            "over_10_ms": sum(counts[_OVER_10_MS:]),
        }
