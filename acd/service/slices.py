"""Long pure work (a figures snapshot of a big centre) run in short slices on the event loop.

The work is a generator that yields between small steps (acd.stats.figures.snapshot_steps);
`run_sliced` runs steps until `slice_s` has passed, then lets the loop run everything else that
is ready (AMI frames, Redis replies, routing) before the next slice. So the work still takes
its CPU time, but routing never waits behind more than one slice of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import TypeVar

T = TypeVar("T")
SLICE_S = 0.001


class Sliced:
    """Runs step generators; `busy_s` adds up the time spent in their steps (not the pauses)."""

    def __init__(self, slice_s: float = SLICE_S) -> None:
        self.slice_s = slice_s
        self.busy_s = 0.0

    async def run(self, steps: Generator[None, None, T]) -> T:
        clock = time.perf_counter
        while True:
            started = clock()
            try:
                while clock() - started < self.slice_s:
                    next(steps)
            except StopIteration as done:
                self.busy_s += clock() - started
                result: T = done.value
                return result
            self.busy_s += clock() - started
            await asyncio.sleep(0)
