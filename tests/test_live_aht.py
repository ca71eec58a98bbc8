"""The handle time the waits are estimated with (acd/service/flow/live_aht.py): measured over
the last hour by the figures, and handed to the routing engine at each refresh: directly in
one process, through the store when the figures run in a process of their own."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from acd.store import Keys
from acd.testing.harness import Harness, wait_for
from tests.flowkit import centre, lab

__all__ = ["lab"]


async def handled(redis_url: str, queue: str, at: float, talks: list[float],
                  wrapup_s: float) -> None:
    """Calls of `queue` that ended at `at`, as end_call.lua and the wrap-up leave them (the
    figures have read before: facts more than 15 s older than their last read would wait for
    the recount, acd/service/windowcache.py)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        key = Keys(pbx="lab").queue_recent(queue)
        for i, talk in enumerate(talks):
            await client.zadd(key, {f"h|done{i}|{talk!r}": at,
                                    f"w|a2|{at + i}|{wrapup_s!r}": at + i / 1000})
    finally:
        await client.aclose()


async def test_the_figures_hand_the_measured_handle_time_to_the_engine(lab: Any,
                                                                        redis_url: str) -> None:
    h: Harness = await lab(centre(support={"assumed_aht_s": 120, "wrapup_s": 0.2}))
    aht = h.engine.flow.aht
    assert aht.aht_s("support") == 120  # nothing measured yet: the assumed time
    aht_s, _wrapup_s = aht.frozen()
    await handled(redis_url, "support", h.engine.now() - 2, [100.0, 200.0], 30.0)
    backend = h.service.backend
    assert backend is not None
    snapshot = await backend.refresh()
    assert aht.aht_s("support") == 180.0  # (100 + 30 + 200 + 30) / 2
    assert aht.aht_s("sales") == h.cfg.queues["sales"].assumed_aht_s  # none handled there
    assert aht_s("support") == 120  # a tick's pass keeps the times it began with
    # the same hour as the figures show
    assert next(q for q in snapshot.queues if q.name == "support").windows["60m"].aht_s == 180


async def test_from_a_figures_process_the_handle_time_comes_through_the_store(
        redis_url: str) -> None:
    cfg = centre(support={"assumed_aht_s": 120, "wrapup_s": 0.2})
    cfg["http"] = {"port": 0, "own_process": True, "snapshot_interval_s": 0.2}
    h = await Harness.start(cfg, redis_url)
    try:
        assert h.service.figures is not None
        aht = h.engine.flow.aht
        assert aht.aht_s("support") == 120
        await handled(redis_url, "support", h.engine.now() - 2, [100.0, 200.0], 30.0)
        await wait_for(lambda: aht.aht_s("support") == 180.0, 30,
                       "the figures process's handle time in the routing engine")
        assert aht.aht_s("sales") == h.cfg.queues["sales"].assumed_aht_s
    finally:
        await h.stop()
