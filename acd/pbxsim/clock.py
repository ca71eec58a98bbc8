"""Clocks: every timed behaviour of the simulator goes through one of these.

``RealClock`` uses the asyncio loop; ``ManualClock`` only moves when a test calls
:meth:`ManualClock.advance`, firing due timers in order, synchronously.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def wall(self) -> float:
        """Unix time in seconds (drives ${EPOCH} and Uniqueids)."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...


class RealClock:
    """Loop time, optionally sped up (``speed`` 2.0 = twice as fast as real time)."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._t0 = time.monotonic()
        self._w0 = time.time()

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def wall(self) -> float:
        return self._w0 + self.now()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, delay) / self.speed, callback)


class _ManualTimer:
    __slots__ = ("callback", "due", "seq")

    def __init__(self, due: float, seq: int, callback: Callable[[], None] | None) -> None:
        self.due = due
        self.seq = seq
        self.callback = callback  # None once cancelled

    def cancel(self) -> None:
        # As asyncio's handles do: what the callback holds is let go at once, not when the
        # timer would have been due.
        self.callback = None

    def __lt__(self, other: _ManualTimer) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


class ManualClock:
    """Deterministic clock for tests: time only moves in :meth:`advance`."""

    def __init__(self, wall_start: float = 1_800_000_000.0) -> None:
        self._now = 0.0
        self._wall0 = wall_start
        self._heap: list[_ManualTimer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._wall0 + self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _ManualTimer(self._now + max(0.0, delay), next(self._seq), callback)
        heapq.heappush(self._heap, timer)
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer due on the way, in order."""
        self.advance_to(self._now + seconds)

    def advance_to(self, target: float) -> None:
        while self._heap and self._heap[0].due <= target:
            timer = heapq.heappop(self._heap)
            if timer.callback is None:  # cancelled
                continue
            self._now = max(self._now, timer.due)
            timer.callback()
        self._now = max(self._now, target)

    def next_due(self) -> float | None:
        live = [t.due for t in self._heap if t.callback is not None]
        return min(live) if live else None
