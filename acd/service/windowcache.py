"""The 15- and 60-minute windows of one store, kept between figures refreshes.

Each refresh reads only the facts written since the one before (with a margin for late ones)
and moves the windows on (acd/stats/sliding.py): O(new facts) per refresh instead of the whole
last hour, which in a centre that runs all day is most of a refresh's reads and CPU. The
price is memory: ~180 bytes per fact kept (52 MB for an hour of 60,000 calls, 290,000 facts).
"""

from __future__ import annotations

import asyncio

from acd.stats.raw import QueueCounts
from acd.stats.sliding import SlidingWindows
from acd.store import Store
from acd.store.stats import WINDOW_SPANS_S

# A fact's score is its writer's `now`, taken before the step reached Redis: a step that
# waited (a slow or briefly lost Redis) lands with a score a little in the past. Each read
# goes back this far before the last one; a member seen before is not counted twice.
LATE_S = 15.0
# Later than LATE_S is counted by reading each queue in full again every RECOUNT_S (bounded
# drift). The queues take turns, spread over RECOUNT_S: all at once, an hour of a busy
# centre's facts (~290,000 at the full bench size) was 1.3 s of the figures' loop every
# 15 minutes.
RECOUNT_S = 900.0


class WindowCache:
    def __init__(self, spans_s: tuple[int, ...] = WINDOW_SPANS_S) -> None:
        self.spans = spans_s
        self._windows: SlidingWindows | None = None
        self._queues: set[str] = set()  # queues whose last hour was read in full
        self._read_upto = 0.0
        self._recounted: dict[str, float] = {}  # queue -> when its turn to be read in full was
        self._lock = asyncio.Lock()  # (an API command's refresh may run beside the loop's)
        self.facts_read = 0  # all reads, for the tests and the bench

    async def windows(self, store: Store, queues: list[str], now: float
                      ) -> dict[int, dict[str, QueueCounts]]:
        """span -> queue -> counts over (now - span, now], as store.queue_windows gives."""
        async with self._lock:
            w = self._windows
            first = False  # (every queue is read in full now)
            if w is None or now < w.now - LATE_S:
                first = True
                w = self._windows = SlidingWindows(self.spans)
                self._queues.clear()
                self._recounted.clear()
            # (a refresh that took its `now` just before another's: the windows stay put)
            w.advance(max(now, w.now))
            upto = w.now
            due = {q for q in self._queues if upto - self._recounted[q] >= RECOUNT_S}
            w.forget(q for q in queues if q not in due)
            self._queues &= set(queues) - due
            new = [q for q in queues if q not in self._queues]
            known = [q for q in queues if q in self._queues]
            await self._read(store, w, new, upto - w.longest, upto)
            await self._read(store, w, known, self._read_upto - LATE_S, upto)
            self._queues.update(new)
            for i, queue in enumerate(new):
                # Read in full all together (a start): their next turns are spread over
                # RECOUNT_S, as if the last ones had been.
                self._recounted[queue] = upto - RECOUNT_S * i / len(new) if first else upto
            if len(self._recounted) > len(self._queues):  # (queues gone from the config)
                self._recounted = {q: self._recounted[q] for q in self._queues}
            self._read_upto = upto
            return w.all_counts(queues)

    async def _read(self, store: Store, w: SlidingWindows, queues: list[str], after: float,
                    upto: float) -> None:
        if not queues:
            return
        async for facts in store.recent_facts(queues, after, upto):
            w.add(facts)
            self.facts_read += len(facts)
