"""Interpreter settings for a long-running service process (`acd run`, the benchmark).

CPython's cyclic garbage collector stops the whole process while it scans: with the default
thresholds a busy service ran a young collection every few milliseconds and, now and then, a
full one over every live object (135 ms seen with 1,000 waiting calls on the benchmark box),
and every routing decision waiting behind it was that much later. So, once the service is up:
- `gc.freeze()` moves everything that exists then (modules, config, the pydantic schemas) out
  of the collector's sight for good: it is never garbage, and no full collection scans it again;
- the youngest generation is collected after 10,000 allocations instead of 700: each young
  collection costs a little more, there are far fewer, and fewer objects reach the old
  generations whose scans are the long pauses. Cycles are still collected.
- after that, what lives on is frozen again every FREEZE_EVERY_S (`keep_collector`, started
  by tune_gc): the calls and agents a big centre holds are replaced, never changed, so the
  new ones kept reaching the oldest generation, and its full collections scanned them all
  (tens of ms at 10,000 calls, up to 380 ms in the simulated PBX). A frozen object is still
  freed when its last reference goes; only a cycle that dies frozen waits, for the full
  collection made every FULL_COLLECTION_EVERY_S (the service makes next to none: the
  benchmark counts what each collection frees);
- a figures snapshot is made with the collector held (`collector_held`): the hundreds of
  thousands of objects of a snapshot in the making were scanned by every young collection
  (86-250 ms each at the full size) and are garbage, freed by their references, once it is
  made; what it leaves (the new snapshot) is frozen.
Not done by the tests' services: freezing keeps whatever a test process holds alive.

start_runtime (tune_gc, and the loop-lag probe) also times every collection (acd/gcpauses.py)
and samples the event loop's lag (acd/looplag.py): `/metrics` shows both, and the benchmark
reports them per phase, so a stall can be told from a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Iterator

from acd.gcpauses import GC_PAUSES
from acd.looplag import LOOP_LAG

log = logging.getLogger("acd.runtime")

GEN0_THRESHOLD = 10_000
FREEZE_EVERY_S = 5.0
FULL_COLLECTION_EVERY_S = 3600.0


class _Collector:
    """This process's state of the policy (one per process, as the collector is)."""

    tuned = False
    threshold: tuple[int, int, int] | None = None  # as it was before tune_gc
    held = 0  # collector_held blocks running
    was_enabled = True
    upkeep: asyncio.Task[None] | None = None


def tune_gc() -> None:
    """Call once the service has started, in its event loop (see the module's doc); the
    freezing every FREEZE_EVERY_S runs in that loop."""
    gc.collect()
    gc.freeze()
    if _Collector.threshold is None:
        _Collector.threshold = gc.get_threshold()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
    GC_PAUSES.install()
    _Collector.tuned = True
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # (no event loop: bench.snapshot; nothing lives on to freeze)
        return
    if _Collector.upkeep is None or _Collector.upkeep.done():
        _Collector.upkeep = loop.create_task(keep_collector(), name="gc-upkeep")


def start_runtime() -> None:
    """A service process, once it is up, in its event loop: the collector tuned (tune_gc)
    and the event loop's lag measured (acd/looplag.py)."""
    tune_gc()
    LOOP_LAG.start()


def reset_runtime() -> None:
    """Undo start_runtime and tune_gc (the tests, and the bench's services one after
    another, share one process)."""
    LOOP_LAG.cancel()
    if _Collector.upkeep is not None:
        _Collector.upkeep.cancel()
        _Collector.upkeep = None
    GC_PAUSES.uninstall()
    gc.unfreeze()
    if _Collector.threshold is not None:
        gc.set_threshold(*_Collector.threshold)
        _Collector.threshold = None
    _Collector.tuned = False


async def keep_collector(freeze_every_s: float = FREEZE_EVERY_S,
                         full_every_s: float = FULL_COLLECTION_EVERY_S) -> None:
    """Freeze what lives every `freeze_every_s`; every `full_every_s`, a full collection of
    everything (frozen cycles that died meanwhile are freed). Runs until cancelled."""
    last_full = time.monotonic()
    while True:
        await asyncio.sleep(freeze_every_s)
        if _Collector.held:
            continue  # (the snapshot being made is frozen when it is done)
        if time.monotonic() - last_full >= full_every_s:
            started = time.perf_counter()
            gc.unfreeze()
            freed = gc.collect()
            last_full = time.monotonic()
            log.debug("full collection: %d objects freed in %.0f ms", freed,
                      1000 * (time.perf_counter() - started))
        gc.freeze()


@contextlib.contextmanager
def collector_held() -> Iterator[None]:
    """No collection while the block runs; in a tuned process, what it leaves alive is frozen
    at its end (see the module's doc). Blocks may nest or overlap (a refresh asked for by a
    command beside the periodic one): the collector comes back when the last one ends."""
    if _Collector.held == 0:
        _Collector.was_enabled = gc.isenabled()
        gc.disable()
    _Collector.held += 1
    try:
        yield
    finally:
        _Collector.held -= 1
        if _Collector.held == 0:
            if _Collector.tuned:
                gc.freeze()
            if _Collector.was_enabled:
                gc.enable()
