"""The handle time the waits are estimated with (acd/service/flow/live_aht.py): measured over
the last hour from the store's recent facts, read in a task of its own so that no caller (and
no other event behind it) waits for a read."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from acd.service.flow.live_aht import REFRESH_S
from acd.store import Keys
from acd.testing.harness import Harness, wait_for
from tests.flowkit import centre, lab

__all__ = ["lab"]


async def handled(redis_url: str, queue: str, at: float, talks: list[float],
                  wrapup_s: float) -> None:
    """Calls of `queue` that ended at `at`, as end_call.lua and the wrap-up leave them."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        key = Keys(pbx="lab").queue_recent(queue)
        for i, talk in enumerate(talks):
            await client.zadd(key, {f"h|done{i}|{talk!r}": at,
                                    f"w|a2|{at + i}|{wrapup_s!r}": at + i / 1000})
    finally:
        await client.aclose()


async def test_the_measured_handle_time_is_read_aside_and_then_used(lab: Any,
                                                                    redis_url: str) -> None:
    h: Harness = await lab(centre(support={"assumed_aht_s": 120, "wrapup_s": 0.2}))
    aht = h.engine.flow.aht
    assert aht.aht_s("support") == 120  # nothing measured yet: the assumed time
    now = h.engine.now()
    await handled(redis_url, "support", now - 60, [100.0, 200.0], 30.0)
    reads = aht.reads
    # The read runs without the collector (an hour of facts set off young collections that
    # scanned the routing process's heap): it is back once the read is done.
    store, collecting = h.engine.store, []
    recent_facts = store.recent_facts

    async def watched(*args: Any) -> AsyncIterator[Any]:
        async for lot in recent_facts(*args):
            collecting.append(gc.isenabled())
            yield lot
    store.recent_facts = watched  # type: ignore[method-assign]
    assert gc.isenabled()
    await aht.refresh(now + REFRESH_S + 1)
    assert aht.reads == reads  # not waited for: the read runs in its own task
    await wait_for(lambda: aht.reads == reads + 1, 10, "the live AHT read")
    assert collecting and not any(collecting) and gc.isenabled()
    assert aht.aht_s("support") == 180.0  # (100 + 30 + 200 + 30) / 2
    assert aht.aht_s("sales") == h.cfg.queues["sales"].assumed_aht_s  # none handled there
    # Due again only REFRESH_S later; a second call meanwhile starts nothing.
    await aht.refresh(now + REFRESH_S + 2)
    assert aht.reads == reads + 1 and not aht.reading
