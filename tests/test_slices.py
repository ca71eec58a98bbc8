"""Long pure work runs in slices (acd/service/slices.py): other tasks run in between."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator


def work(steps: int, step_s: float) -> Generator[None, None, str]:
    for _ in range(steps):
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < step_s:
            pass
        yield
    return "done"


async def test_other_tasks_run_between_slices() -> None:
    from acd.service.slices import Sliced

    ticks: list[float] = []

    async def other() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0)

    task = asyncio.create_task(other())
    sliced = Sliced(slice_s=0.004)
    t0 = time.perf_counter()
    try:
        assert await sliced.run(work(40, 0.001)) == "done"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # 40 ms of work in slices of 4 ms (each a step over): the other task ran in between
    assert len([t for t in ticks if t > t0]) >= 5
    assert 0.040 <= sliced.busy_s < time.perf_counter() - t0 + 0.001


async def test_a_failing_step_raises_to_the_caller() -> None:
    from acd.service.slices import Sliced

    def broken() -> Generator[None, None, str]:
        yield
        raise ValueError("bad figures")

    try:
        await Sliced().run(broken())
    except ValueError as exc:
        assert str(exc) == "bad figures"
    else:
        raise AssertionError("no error")
