"""`acd run` tunes the garbage collector once the service is up (acd/service/runtime.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator

import pytest

from acd.gcpauses import GC_PAUSES
from acd.service import runtime
from acd.service.runtime import (
    GEN0_THRESHOLD,
    collector_held,
    keep_collector,
    reset_runtime,
    tune_gc,
)
from acd.testing.harness import wait_for


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
async def tuned() -> AsyncIterator[None]:
    before = gc.get_threshold()
    try:
        tune_gc()
        yield
    finally:
        reset_runtime()
    # as it was: thresholds, nothing frozen, no upkeep
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert runtime._Collector.upkeep is None and not runtime._Collector.tuned


async def test_tune_gc_freezes_what_exists_and_collects_young_objects_less_often(
        tuned: None) -> None:
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == GEN0_THRESHOLD
    # Cycles made afterwards are still collected.
    node = weakref.ref(Node())
    collections = sum(GC_PAUSES.pauses[2].counts)
    assert gc.collect() >= 1 and node() is None
    # and timed from now on (acd/gcpauses.py)
    assert sum(GC_PAUSES.pauses[2].counts) == collections + 1
    # the upkeep runs, once however often tune_gc is called
    upkeep = runtime._Collector.upkeep
    tune_gc()
    assert upkeep is not None and runtime._Collector.upkeep is upkeep and not upkeep.done()


async def test_what_lives_on_is_frozen_and_frozen_cycles_are_freed_by_the_full_collection(
        tuned: None) -> None:
    kept = [Node() for _ in range(100)]
    frozen = gc.get_freeze_count()
    upkeep = asyncio.create_task(keep_collector(freeze_every_s=0.01, full_every_s=3600))
    try:
        await wait_for(lambda: gc.get_freeze_count() >= frozen + 100, 5.0, "the freeze")
    finally:
        upkeep.cancel()
    # a frozen cycle that dies stays until a full collection looks at it again
    node = weakref.ref(kept[0])
    del kept
    gc.collect()
    assert node() is not None
    upkeep = asyncio.create_task(keep_collector(freeze_every_s=0.01, full_every_s=0))
    try:
        await wait_for(lambda: node() is None, 5.0, "the frozen cycle to be freed")
    finally:
        upkeep.cancel()


async def test_no_collection_while_held_and_what_is_left_is_frozen(tuned: None) -> None:
    assert gc.isenabled()
    with collector_held():
        assert not gc.isenabled()
        with collector_held():  # nested (or overlapping): still held
            made = [Node() for _ in range(50)]
        assert not gc.isenabled()
        frozen = gc.get_freeze_count()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen + 50  # the block's result, frozen at its end
    assert made[0].me is made[0]


def test_held_in_an_untuned_process_freezes_nothing_and_keeps_the_collector_off_if_it_was(
) -> None:
    assert gc.get_freeze_count() == 0
    with collector_held():
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        with collector_held():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
