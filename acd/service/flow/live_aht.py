"""The handle time the caller-facing policies estimate waits with: measured over the last hour
per queue (talk + wrap-up of the calls handled, as the 60-minute AHT figure), else the queue's
`assumed_aht_s`. Read from the store's recent facts at most every REFRESH_S: only the facts
new since the last read (WindowCache), not the whole hour, which in a busy centre is many."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from acd.service.windowcache import WindowCache

if TYPE_CHECKING:
    from acd.service.engine import Engine

REFRESH_S = 15.0
SPAN_S = 3600


class LiveAht:
    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self._at = -math.inf
        self._measured: dict[str, float] = {}
        self._windows = WindowCache((SPAN_S,))

    async def refresh(self, now: float) -> None:
        if now - self._at < REFRESH_S:
            return
        self._at = now
        queues = list(self.e.cfg.queues)
        windows = await self._windows.windows(self.e.store, queues, now)
        self._measured = {q: (c.talk_sum_s + c.wrapup_sum_s) / c.handled
                          for q, c in windows.get(SPAN_S, {}).items() if c.handled}

    def forget(self) -> None:
        """Read again at the next refresh (after a config reload)."""
        self._at = -math.inf

    def aht_s(self, queue: str) -> float | None:
        measured = self._measured.get(queue)
        if measured is not None:
            return measured
        qcfg = self.e.cfg.queues.get(queue)
        return qcfg.assumed_aht_s if qcfg is not None else None

    def wrapup_s(self, queue: str) -> float:
        qcfg = self.e.cfg.queues.get(queue)
        return qcfg.wrapup_s if qcfg is not None else 0.0
