"""How long CPython's cyclic garbage collector stops this process: every collection timed
through a `gc.callbacks` hook (installed by acd.service.runtime.tune_gc in a service process).

Shown at `/metrics` as `acd_gc_pause_seconds` (a histogram per generation) and reported per
phase by the benchmark: a stall of the whole process is then told apart from a queue.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any

from acd.durations import Durations

GENERATIONS = 3


@dataclass
class GcPauses:
    """How long the collector stopped this process, per generation, since `install`, and
    how many objects it freed (cyclic garbage)."""

    pauses: list[Durations] = field(
        default_factory=lambda: [Durations() for _ in range(GENERATIONS)])
    collected: list[int] = field(default_factory=lambda: [0] * GENERATIONS)
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
        generation = info["generation"]
        self.pauses[generation].add(now - self._started)
        self.collected[generation] += info["collected"]

    def copy(self) -> GcPauses:
        return GcPauses([p.copy() for p in self.pauses], list(self.collected))

    def since(self, before: GcPauses) -> dict[str, Any]:
        """What happened since `before` (a `copy`), per generation (Durations.since)."""
        out: dict[str, Any] = {}
        for gen in range(GENERATIONS):
            took = self.pauses[gen].since(before.pauses[gen])
            out[f"gen{gen}"] = {
                "collections": took["count"], "pause_ms_total": took["total_ms"],
                "longest_ms_at_most": took["longest_ms_at_most"],
                "over_10_ms": took["over_10_ms"],
                "garbage_collected": self.collected[gen] - before.collected[gen]}
        return out


GC_PAUSES = GcPauses()  # this process's
