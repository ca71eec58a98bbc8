"""Leases in bulk: a stopping instance releases only its own; the lease check skips the calls
an instance renews itself."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from acd.store import Store, leases
from acd.store.leases import RENEW_BATCH
from tests.test_store import mk_call


async def test_release_leases_frees_only_our_own(redis_url: str) -> None:
    store = await Store.open(redis_url, pbx="p")
    try:
        ids = [f"c{i}" for i in range(300)]  # more than one batch
        for call_id in ids[:-1]:
            assert await store.acquire_lease(call_id, "me", 60_000)
        assert await store.acquire_lease(ids[-1], "other", 60_000)
        await store.release_leases(ids, "me")
        assert [await store.acquire_lease(c, "third", 60_000) for c in ids] == [
            *[True] * 299, False]
    finally:
        await store.close()


async def test_orphaned_calls_skips_the_known_ones(redis_url: str) -> None:
    store = await Store.open(redis_url, pbx="p")
    try:
        for call_id in ("a", "b", "c"):
            await store.create_call(mk_call(call_id))
        assert await store.acquire_lease("a", "me", 60_000)
        assert sorted(await store.orphaned_calls()) == ["b", "c"]
        assert await store.orphaned_calls(known={"b": None}) == ["c"]
    finally:
        await store.close()


async def test_renewal_in_short_batches_reports_the_lost_ones_of_every_batch(
        redis_url: str) -> None:
    """Renewed RENEW_BATCH keys per script (a long script holds every routing claim behind
    it in Redis): the calls lost are still named right, whichever batch they are in."""
    store = await Store.open(redis_url, pbx="p")
    try:
        ids = [f"r{i}" for i in range(2 * RENEW_BATCH + 50)]
        lost = {ids[0], ids[RENEW_BATCH + 1], ids[-1]}
        for call_id in ids:
            assert await store.acquire_lease(call_id, "other" if call_id in lost else "me",
                                             60_000)
        scripts = 0
        real = store._lua.renew_leases  # reaching in: count the scripts

        async def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal scripts
            scripts += 1
            assert len(kwargs["keys"]) <= RENEW_BATCH
            return await real(*args, **kwargs)

        store._lua = dataclasses.replace(store._lua, renew_leases=counting)
        assert sorted(await store.renew_leases(ids, "me", 60_000)) == sorted(lost)
        assert scripts == 3
    finally:
        await store.close()


async def test_orphaned_calls_are_found_across_scan_steps(redis_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The live calls are scanned SCAN_COUNT at a time (one reply of 10,000 held Redis):
    every orphan is found once, whichever step it comes in."""
    monkeypatch.setattr(leases, "SCAN_COUNT", 5)
    store = await Store.open(redis_url, pbx="p2")
    try:
        ids = [f"s{i:02}" for i in range(23)]
        for call_id in ids:
            await store.create_call(mk_call(call_id))
        for call_id in ids[::2]:
            assert await store.acquire_lease(call_id, "me", 60_000)
        assert await store.orphaned_calls(known={"s01": None}) == ids[3::2]
    finally:
        await store.close()


async def test_a_leased_create_takes_the_lease_and_the_call_together(redis_url: str) -> None:
    """The AsyncAGIStart every instance gets: the first takes the lease and creates the call in
    one round trip; another owner changes nothing; the owner again finds its call (a replay)."""
    store = await Store.open(redis_url, pbx="leased")
    try:
        call = mk_call("x1")
        assert await store.create_leased_call(call, "me", 60_000) == "created"
        assert await store.create_leased_call(call, "other", 60_000) == "leased"
        assert await store.create_leased_call(call, "me", 60_000) == "exists"
        assert await store.get_call("x1") == call
        events = [e for _, e in await store.read_events() if e["call"] == "x1"]
        assert [e["type"] for e in events] == ["call_created"]  # once
        assert not await store.acquire_lease("x1", "other", 60_000)  # the lease is mine
        # another owner's lease on a call not yet created: it is not created
        assert await store.acquire_lease("x2", "other", 60_000)
        assert await store.create_leased_call(mk_call("x2"), "me", 60_000) == "leased"
        assert await store.get_call("x2") is None
    finally:
        await store.close()
