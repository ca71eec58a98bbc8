"""Today's counts with closed intervals cached: the same sums as reading every interval, and a
closed interval is read once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from acd.core.model import Call
from acd.service.daycache import DayCache
from acd.store import Store

MIDNIGHT = 1_795_305_600.0  # a UTC midnight (a multiple of 900 s)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    s = await Store.open(redis_url, pbx="day")
    yield s
    await s.close()


async def offer(store: Store, call_id: str, at: float) -> None:
    await store.create_call(Call(id=call_id, channel=f"PJSIP/t-{call_id}", uniqueid=call_id,
                                 caller_num="1", dnis="100", arrived_at=at))
    assert await store.enqueue(call_id, "q", 0, {}, at, at) is not None


async def test_same_sums_and_closed_intervals_read_once(store: Store) -> None:
    for i, at in enumerate([MIDNIGHT + 10, MIDNIGHT + 950, MIDNIGHT + 1900, MIDNIGHT + 2000]):
        await offer(store, f"c{i}", at)
    ranges: list[tuple[float, float]] = []
    original = store.queue_totals  # the day cache reads sums over a span of intervals

    async def spy(queues: list[str], start: float, end: float) -> Any:
        ranges.append((start, end))
        return await original(queues, start, end)

    store.queue_totals = spy  # type: ignore[method-assign]
    cache = DayCache()
    now = MIDNIGHT + 2100  # intervals 0 and 1 are closed, 2 is open
    queues, _, _ = await cache.today(store, ["q"], [], [], MIDNIGHT, now)
    assert queues["q"].offered == 4
    assert ranges == [(MIDNIGHT, MIDNIGHT + 1800), (MIDNIGHT + 1800, now + 1)]
    await offer(store, "c9", now + 5)  # a new fact in the open interval
    ranges.clear()
    queues, _, _ = await cache.today(store, ["q"], [], [], MIDNIGHT, now + 10)
    assert queues["q"].offered == 5
    assert ranges == [(MIDNIGHT + 1800, now + 11)]  # the closed ones were not read again
    # The next day starts from zero.
    queues, _, _ = await cache.today(store, ["q"], [], [], MIDNIGHT + 86400, MIDNIGHT + 86500)
    assert queues["q"].offered == 0
