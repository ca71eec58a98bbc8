"""The figures' 15/60-minute windows kept between refreshes (acd/service/windowcache.py), with
a real Redis: each refresh reads only the new facts, and its counts equal a recount of the
store (store.queue_windows) every time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from acd.core.model import Call, CallOutcome
from acd.service.windowcache import LATE_S, RECOUNT_S, WindowCache
from acd.store import Store, stats_ttl

B = 1_699_999_200.0


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    s = await Store.open(redis_url, pbx="wincache", stats_ttl_s=stats_ttl(35))
    yield s
    await s.close()


async def offered(s: Store, call_id: str, queue: str, at: float) -> None:
    assert await s.create_call(Call(call_id, f"PJSIP/t-{call_id}", call_id, "555", "800",
                                    arrived_at=at))
    assert await s.enqueue(call_id, queue, 0, {}, at, at) is not None


async def same_as_recount(cache: WindowCache, s: Store, queues: list[str], now: float) -> None:
    got = await cache.windows(s, queues, now)
    assert got == await s.queue_windows(queues, now), now


async def test_each_refresh_reads_only_new_facts_and_equals_a_recount(store: Store) -> None:
    cache = WindowCache()
    queues = ["sales", "support"]
    for i in range(40):
        await offered(store, f"c{i}", queues[i % 2], B + i)
    await same_as_recount(cache, store, queues, B + 100)
    assert cache.facts_read == 40  # the first refresh reads the hour
    await offered(store, "late", "sales", B + 100 - LATE_S / 2)  # written after that read
    await offered(store, "new", "support", B + 150)
    await store.end_call("c1", CallOutcome.ABANDONED, B + 160, 0)
    await same_as_recount(cache, store, queues, B + 200)
    # the three new facts, not the hour again (the late one too: its score is in the margin)
    assert cache.facts_read == 43
    assert (await cache.windows(store, queues, B + 200))[900]["sales"].offered == 21
    # A fact written later than LATE_S after its time is missed by the reads of new facts...
    await offered(store, "later", "sales", B + 150)
    got = await cache.windows(store, queues, B + 300)
    recount = await store.queue_windows(queues, B + 300)
    assert got[900]["sales"].offered == recount[900]["sales"].offered - 1
    assert got[900]["support"] == recount[900]["support"]
    # ... and counted when its queue is read in full again. The queues take turns, spread
    # over RECOUNT_S from the first read (B + 100): support's comes at B + 550, sales's at
    # B + 1000; each refresh reads the queues whose turn has come, not the whole hour.
    before = cache.facts_read
    await cache.windows(store, queues, B + 560)
    assert cache.facts_read - before == await facts_of(store, "support", B + 560)
    # the windows slide: at B + 939 the first offers (B + 0..38) are out of the 15 minutes
    for now in (B + 901.0, B + 939.0):
        got = await cache.windows(store, queues, now)
        recount = await store.queue_windows(queues, now)
        assert got[900]["sales"].offered == recount[900]["sales"].offered - 1, now
        assert got[3600]["support"] == recount[3600]["support"], now
    before = cache.facts_read
    await same_as_recount(cache, store, queues, B + 100 + RECOUNT_S)  # sales's turn
    assert cache.facts_read - before == await facts_of(store, "sales", B + 100 + RECOUNT_S)
    for now in (B + 1200.0, B + 3610.0, B + 3700.0):  # (each queue again every RECOUNT_S)
        await same_as_recount(cache, store, queues, now)


async def facts_of(s: Store, queue: str, now: float) -> int:
    """The queue's recent facts in the hour before `now` (what reading it in full reads)."""
    return sum([len(lot) async for lot in s.recent_facts([queue], now - 3600, now)])


async def test_a_queue_added_later_has_its_hour_read(store: Store) -> None:
    cache = WindowCache()
    await offered(store, "a1", "sales", B)
    await offered(store, "b1", "billing", B + 1)
    await same_as_recount(cache, store, ["sales"], B + 10)
    # billing joins the config: its facts from before are read in full
    await same_as_recount(cache, store, ["sales", "billing"], B + 20)
    got = await cache.windows(store, ["billing"], B + 30)
    assert list(got[900]) == ["billing"] and got[900]["billing"].offered == 1


async def test_a_clock_gone_back_or_a_long_time_recounts(store: Store) -> None:
    cache = WindowCache()
    await offered(store, "a1", "sales", B)
    await same_as_recount(cache, store, ["sales"], B + 100)
    before = cache.facts_read
    await same_as_recount(cache, store, ["sales"], B + 100 - 2 * LATE_S)  # back: recount
    assert cache.facts_read == before + 1
    await same_as_recount(cache, store, ["sales"], B + 100 - 2 * LATE_S + RECOUNT_S + 1)
    assert cache.facts_read == before + 2  # long since the last recount: read in full again
