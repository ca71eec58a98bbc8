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
Not done by the tests' services: freezing keeps whatever a test process holds alive.

tune_gc also starts timing every collection (acd/gcpauses.py): the figures process shows them
at `/metrics`, and the benchmark reports them per phase, so a stall can be told from a queue.
"""

from __future__ import annotations

import gc

from acd.gcpauses import GC_PAUSES

GEN0_THRESHOLD = 10_000


def tune_gc() -> None:
    """Call once the service has started (see the module's doc)."""
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
    GC_PAUSES.install()
