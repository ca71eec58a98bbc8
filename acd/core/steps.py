"""Long pure work written as a step generator: it yields between small steps, so that a
service can run it in slices (acd/service/slices.py) and let routing and requests in between;
its return value is the result. `run_steps` runs one to its end at once."""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar, cast

T = TypeVar("T")


def run_steps(steps: Generator[None, None, T]) -> T:
    """Run a step generator to its end, without pauses."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return cast(T, done.value)
