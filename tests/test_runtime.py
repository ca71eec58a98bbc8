"""`acd run` tunes the garbage collector once the service is up (acd/service/runtime.py)."""

from __future__ import annotations

import gc

from acd.gcpauses import GC_PAUSES
from acd.service.runtime import GEN0_THRESHOLD, tune_gc


def test_tune_gc_freezes_what_exists_and_collects_young_objects_less_often() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GEN0_THRESHOLD, before[1], before[2])
        # Cycles made afterwards are still collected.
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        collections = sum(GC_PAUSES.buckets[2])
        assert gc.collect() >= 1
        # and timed from now on (acd/gcpauses.py)
        assert sum(GC_PAUSES.buckets[2]) == collections + 1
    finally:
        GC_PAUSES.uninstall()
        gc.unfreeze()
        gc.set_threshold(*before)
