"""The handle time the caller-facing policies estimate waits with: measured over the last hour
per queue (talk + wrap-up of the calls handled, as the 60-minute AHT figure), else the queue's
`assumed_aht_s`. Read from the store's recent facts at most every REFRESH_S, in a task of its
own: a caller entering a queue (who asks for the estimate) never waits for the read, nor does
the engine behind it; the last read's figures serve meanwhile. Each read takes only the facts
new since the one before (WindowCache); a recount, every 15 minutes, is a whole hour of a
busy centre's facts (seconds at 300,000)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING

from acd.config import QueueConfig
from acd.service.runtime import collector_held
from acd.service.windowcache import WindowCache
from acd.store import BackendError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from acd.service.engine import Engine

REFRESH_S = 15.0
SPAN_S = 3600
AHT_FACTS = "hwy"  # handled (talk), wrap-up ended, transferred out (talk): acd/store/stats.py


class LiveAht:
    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self._at = -math.inf
        self._measured: dict[str, float] = {}
        # (only what the AHT adds up: talk, wrap-up; the rest is not held in memory)
        self._windows = WindowCache((SPAN_S,), kinds=AHT_FACTS)
        self._reading = False
        self.reads = 0  # reads done (for the tests)

    @property
    def reading(self) -> bool:
        return self._reading

    async def refresh(self, now: float) -> None:
        """Start a read if one is due (not waited for)."""
        if now - self._at < REFRESH_S or self._reading:
            return
        self._at = now
        self._reading = True
        self.e.spawn(self._read(now), "live-aht")

    async def _read(self, now: float) -> None:
        try:
            queues = list(self.e.cfg.queues)
            # (runtime.py: a recount reads an hour of facts, ~290,000 at the full bench size;
            # the young collections it set off scanned the routing process's heap, ~10 ms
            # each, dozens of times; what it leaves is frozen instead)
            with collector_held():
                windows = await self._windows.windows(self.e.store, queues, now)
            self._measured = {q: (c.talk_sum_s + c.wrapup_sum_s) / c.handled
                              for q, c in windows.get(SPAN_S, {}).items() if c.handled}
            self.reads += 1
        except BackendError as exc:  # Redis away: the next due refresh tries again
            log.warning("live AHT not read: %s", exc)
        finally:
            self._reading = False

    def forget(self) -> None:
        """Read again at the next refresh (after a config reload)."""
        self._at = -math.inf

    def frozen(self) -> tuple[Callable[[str], float | None], Callable[[str], float]]:
        """aht_s and wrapup_s as they are now, whatever is read or reloaded later (for a tick
        worked out in slices): the figures and the config are replaced, never changed."""
        return partial(_aht_s, self._measured, self.e.cfg.queues), \
            partial(_wrapup_s, self.e.cfg.queues)

    def aht_s(self, queue: str) -> float | None:
        return _aht_s(self._measured, self.e.cfg.queues, queue)

    def wrapup_s(self, queue: str) -> float:
        return _wrapup_s(self.e.cfg.queues, queue)


def _aht_s(measured: Mapping[str, float], queues: Mapping[str, QueueConfig],
           queue: str) -> float | None:
    found = measured.get(queue)
    if found is not None:
        return found
    qcfg = queues.get(queue)
    return qcfg.assumed_aht_s if qcfg is not None else None


def _wrapup_s(queues: Mapping[str, QueueConfig], queue: str) -> float:
    qcfg = queues.get(queue)
    return qcfg.wrapup_s if qcfg is not None else 0.0
