"""cancel_and_wait (acd/tasks.py): a task that loses a cancellation (as redis-py's client can)
is cancelled again, and one that never stops is left after a bound, not waited for for ever."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from acd.tasks import cancel_and_wait


async def test_a_lost_cancellation_is_sent_again() -> None:
    swallowed = 0

    async def loop_losing_one() -> None:  # as follow_offsets did, once its read lost one
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(loop_losing_one())
    await asyncio.sleep(0)
    assert await cancel_and_wait([task, None], again_s=0.01, give_up_s=5.0) == []
    assert task.cancelled() and swallowed == 1


async def test_a_task_that_never_stops_is_left_with_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    ended = asyncio.Event()

    async def stubborn() -> None:
        while not ended.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await ended.wait()

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="acd.tasks"):
        assert await cancel_and_wait([task], again_s=0.01, give_up_s=0.05) == [task]
    assert "task stubborn did not stop" in caplog.text and not task.done()
    ended.set()  # (the test's own end: it stops when asked nicely)
    await task


async def test_a_failed_task_is_reported_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise RuntimeError("broken")

    task = asyncio.create_task(fails(), name="fails")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="acd.tasks"):
        assert await cancel_and_wait([task]) == []
    assert "task fails had failed: RuntimeError('broken')" in caplog.text
