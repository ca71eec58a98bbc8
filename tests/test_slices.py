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


async def test_slices_wait_for_the_gate_and_then_run_anyway() -> None:
    """A slice runs only while the gate is open (routing idle); a gate that stays shut delays
    each slice by GATE_MAX_WAIT_S at most, so the work still ends."""
    from acd.service.slices import GATE_MAX_WAIT_S, Sliced

    open_at: list[float] = []
    ran_at: list[float] = []
    gate_open = False

    def gate() -> bool:
        return gate_open

    def steps() -> Generator[None, None, str]:
        for _ in range(3):
            ran_at.append(time.perf_counter())
            yield
        return "done"

    async def opener() -> None:
        nonlocal gate_open
        await asyncio.sleep(0.005)
        open_at.append(time.perf_counter())
        gate_open = True

    task = asyncio.create_task(opener())
    assert await Sliced(slice_s=0.0, gate=gate).run(steps()) == "done"
    await task
    assert ran_at and open_at and ran_at[0] >= open_at[0]  # nothing ran while shut
    t0 = time.perf_counter()
    assert await Sliced(slice_s=0.0, gate=lambda: False).run(work(3, 0.0)) == "done"
    assert time.perf_counter() - t0 >= 3 * GATE_MAX_WAIT_S * 0.9  # it ran, late


async def test_a_stop_while_waiting_for_the_gate_is_not_lost() -> None:
    from acd.service.slices import Sliced

    async def figures() -> None:
        while True:  # like the snapshot task: slices again and again
            await Sliced(slice_s=0.0, gate=lambda: False).run(work(1000, 0.0))

    task = asyncio.create_task(figures())
    await asyncio.sleep(0.01)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()
