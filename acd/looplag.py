"""How late this process's event loop runs: a task sleeps INTERVAL_S again and again and
records how much later than asked it woke (started by acd.service.runtime.start_runtime in
a service process). Every callback, request and AMI frame waits that long too.

Shown at `/metrics` as `acd_event_loop_lag_seconds` (a histogram) and read by the benchmark
around its API phases: the figures process's own share of the API's tail.
"""

from __future__ import annotations

import asyncio
from typing import Self

from acd.durations import Durations

INTERVAL_S = 0.01


class LoopLag:
    """`record` is called with every sample (the benchmark's probe keeps them all too)."""

    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.lag = Durations()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Self:
        """In the running loop; once (a second call while it runs does nothing)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")
        return self

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.record(max(0.0, loop.time() - asked))

    def record(self, lag_s: float) -> None:
        self.lag.add(lag_s)


LOOP_LAG = LoopLag()  # this process's
