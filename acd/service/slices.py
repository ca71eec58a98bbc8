"""Long pure work (a figures snapshot of a big centre) run in short slices on the event loop.

The work is a generator that yields between small steps (acd.stats.figures.snapshot_steps);
`run_sliced` runs steps until `slice_s` has passed, then lets the loop run everything else that
is ready (AMI frames, Redis replies, routing) before the next slice. So the work still takes
its CPU time, but routing never waits behind more than one slice of it; with a `gate` (the
engines idle), a slice runs only when routing has nothing to do (or has not been idle for
GATE_MAX_WAIT_S).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator
from typing import TypeVar, cast

T = TypeVar("T")
SLICE_S = 0.001
# How long a slice waits for routing to be idle (`gate`) before it runs anyway: under a
# sustained load the figures still get one slice per this long.
GATE_MAX_WAIT_S = 0.02
GATE_POLL_S = 0.001


class Sliced:
    """Runs step generators; `busy_s` adds up the time spent in their steps (not the pauses)."""

    def __init__(self, slice_s: float = SLICE_S,
                 gate: Callable[[], bool] | None = None) -> None:
        """`gate`: true when a slice may run (e.g. every engine idle); a slice waits for it
        at most GATE_MAX_WAIT_S: routing goes first, a slice only fills the loop's idle
        time."""
        self.slice_s = slice_s
        self.busy_s = 0.0
        self._gate = gate

    async def run(self, steps: Generator[None, None, T]) -> T:
        clock = time.perf_counter
        while True:
            if self._gate is not None and not self._gate():
                # Polled, not awaited with wait_for: Python 3.11's wait_for swallows a
                # cancellation that comes as the awaited thing completes, and the figures
                # task then never stopped (seen as a hung test teardown).
                give_up = clock() + GATE_MAX_WAIT_S
                while not self._gate() and clock() < give_up:
                    await asyncio.sleep(GATE_POLL_S)
            done, result = self.run_slice(steps)
            if done:
                return cast(T, result)
            await asyncio.sleep(0)

    def run_slice(self, steps: Generator[None, None, T]) -> tuple[bool, T | None]:
        """One slice of the steps, now, in this call: (True, their result) if they end in it,
        else (False, None)."""
        clock = time.perf_counter
        started = clock()
        try:
            next(steps)  # at least one step a slice, however short the slice
            while clock() - started < self.slice_s:
                next(steps)
        except StopIteration as done:
            return True, done.value
        finally:
            self.busy_s += clock() - started
        return False, None
