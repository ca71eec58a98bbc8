"""How long CPython's cyclic garbage collector stops this process: every collection timed
through a `gc.callbacks` hook (installed by acd.service.runtime.tune_gc in a service process).

Shown at `/metrics` as `acd_gc_pause_seconds` (a histogram per generation) and reported per
phase by the benchmark: a stall of the whole process is then told apart from a queue.
"""

from __future__ import annotations

import bisect
import gc
import time
from dataclasses import dataclass, field
from typing import Any

GENERATIONS = 3
# Upper bounds (s) of the pause histogram's buckets; the last bucket is everything longer.
PAUSE_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass
class GcPauses:
    """How long the collector stopped this process, per generation, since `install`: a
    histogram (counts per bucket of PAUSE_BUCKETS_S, not cumulative, and one more for
    longer), the sum and the longest. Counts only grow, so two copies taken apart give
    what happened between them (`since`)."""

    buckets: list[list[int]] = field(
        default_factory=lambda: [[0] * (len(PAUSE_BUCKETS_S) + 1) for _ in range(GENERATIONS)])
    total_s: list[float] = field(default_factory=lambda: [0.0] * GENERATIONS)
    longest_s: list[float] = field(default_factory=lambda: [0.0] * GENERATIONS)
    collected: list[int] = field(default_factory=lambda: [0] * GENERATIONS)  # garbage freed
    _started: float = 0.0

    def install(self) -> None:
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def uninstall(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
            return
        generation, took = info["generation"], now - self._started
        self.buckets[generation][bisect.bisect_left(PAUSE_BUCKETS_S, took)] += 1
        self.total_s[generation] += took
        self.longest_s[generation] = max(self.longest_s[generation], took)
        self.collected[generation] += info["collected"]

    def histogram(self, generation: int) -> tuple[list[tuple[str, float]], float]:
        """One generation as Prometheus wants it: cumulative buckets ending with +Inf, and
        the sum (s)."""
        counts = self.buckets[generation]
        out, seen = [], 0
        for bound, n in zip((*(str(b) for b in PAUSE_BUCKETS_S), "+Inf"), counts, strict=True):
            seen += n
            out.append((bound, float(seen)))
        return out, self.total_s[generation]

    def copy(self) -> GcPauses:
        return GcPauses([list(b) for b in self.buckets], list(self.total_s),
                        list(self.longest_s), list(self.collected))

    def since(self, before: GcPauses) -> dict[str, Any]:
        """What happened since `before` (a `copy`), per generation: collections, their
        total and the histogram; `longest_ms` is the upper bound of the longest bucket
        reached (the exact longest is known only since install)."""
        out: dict[str, Any] = {}
        for gen in range(GENERATIONS):
            counts = [a - b for a, b in zip(self.buckets[gen], before.buckets[gen], strict=True)]
            reached = [i for i, n in enumerate(counts) if n]
            top = reached[-1] if reached else None
            out[f"gen{gen}"] = {
                "collections": sum(counts),
                "pause_ms_total": round((self.total_s[gen] - before.total_s[gen]) * 1000, 1),
                "longest_ms_at_most": (None if top is None else
                                       round(1000 * PAUSE_BUCKETS_S[top], 1)
                                       if top < len(PAUSE_BUCKETS_S) else
                                       round(1000 * self.longest_s[gen], 1)),
                "over_10_ms": sum(counts[bisect.bisect_left(PAUSE_BUCKETS_S, 0.01) + 1:]),
                "garbage_collected": self.collected[gen] - before.collected[gen],
            }
        return out


GC_PAUSES = GcPauses()  # this process's
