"""Leases in bulk: a stopping instance releases only its own; the lease check skips the calls
an instance renews itself."""

from __future__ import annotations

from acd.store import Store
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
