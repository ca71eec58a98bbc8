"""Long pure work written as a step generator: it yields between small steps, so that a
service can run it in slices (acd/service/slices.py) and let routing and requests in between;
its return value is the result. `run_steps` runs one to its end at once."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import TypeVar, cast

T = TypeVar("T")

# How many items a step handles. A slice (slices.py) is 1 ms (0.25 ms in the figures process)
# and never cuts a step, so a step must stay near that, and must not grow with the centre. An
# agent's figures row (or its dump, or its JSON) is ~20 us; a plain pass over a call or an
# agent, ~1-3 us.
ROWS_PER_STEP = 8
ITEMS_PER_STEP = 128
QUEUES_PER_STEP = 32  # a queue's counts (histograms) added to a total: ~7 us


def run_steps(steps: Generator[None, None, T]) -> T:
    """Run a step generator to its end, without pauses."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return cast(T, done.value)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` a `size` at a time (the last one shorter): the work of a step."""
    for at in range(0, len(items), size):
        yield items[at:at + size]
