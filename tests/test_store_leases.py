"""Leases: a call's lease names its instance, and is anyone's once that instance's key has
lapsed; in bulk, a stopping instance releases only its own; the lease check skips the calls
an instance renews itself."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import pytest

from acd.core.model import CallOutcome
from acd.store import Store, leases
from acd.store.leases import RENEW_BATCH
from tests.test_store import mk_call


async def test_release_leases_frees_only_our_own(redis_url: str) -> None:
    store = await Store.open(redis_url, pbx="p")
    try:
        ids = [f"c{i}" for i in range(300)]  # more than one batch
        for owner in ("me", "other", "third"):
            await store.mark_alive(owner, 60_000)
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
        await store.mark_alive("me", 60_000)
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
        await store.mark_alive("me", 60_000)
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
        for owner in ("me", "other"):
            await store.mark_alive(owner, 60_000)
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


async def until_lapsed(store: Store, instance: str) -> None:
    deadline = time.monotonic() + 10
    while instance not in await store.lapsed_instances("asker"):
        assert time.monotonic() < deadline, f"{instance}'s key never lapsed"
        await asyncio.sleep(0.01)


async def test_a_lapsed_instance_s_leases_are_anyone_s(redis_url: str) -> None:
    """One key per instance, not one per call: while it lives, its calls are its own; once
    its key lapses (it died), they are orphans, and the first to take one has it."""
    store = await Store.open(redis_url, pbx="lapse")
    try:
        assert not await store.mark_alive("short", 200)  # new: nothing to check yet
        assert await store.mark_alive("short", 200)  # alive
        await store.mark_alive("other", 60_000)
        for call_id in ("d1", "d2", "d3"):
            await store.create_call(mk_call(call_id))
            assert await store.acquire_lease(call_id, "short", 60_000)
        assert await store.create_leased_call(mk_call("d4"), "short", 60_000) == "created"
        assert not await store.acquire_lease("d1", "other", 60_000)  # "short" is alive
        assert await store.lapsed_instances("other") == []
        assert await store.orphaned_calls(known={"other-call": None}) == []
        await until_lapsed(store, "short")
        assert await store.lapsed_instances("other") == ["short"]
        assert await store.orphaned_calls() == ["d1", "d2", "d3", "d4"]
        assert await store.acquire_lease("d1", "other", 60_000)
        assert await store.create_leased_call(mk_call("d4"), "other", 60_000) == "exists"
        assert await store.orphaned_calls() == ["d2", "d3"]
        # the lapsed instance, back: it had lapsed, and the calls taken are not its own
        assert not await store.mark_alive("short", 60_000)
        assert sorted(await store.renew_leases(["d1", "d2", "d3", "d4"], "short", 60_000)
                      ) == ["d1", "d4"]
        assert await store.orphaned_calls() == []
        assert await store.lapsed_instances("other") == []
    finally:
        await store.close()


async def test_a_retired_instance_is_lapsed_at_once_and_forgotten_when_told(
        redis_url: str) -> None:
    store = await Store.open(redis_url, pbx="retire")
    try:
        await store.mark_alive("leaving", 60_000)
        await store.mark_alive("staying", 60_000)
        await store.create_call(mk_call("r1"))
        assert await store.acquire_lease("r1", "leaving", 60_000)
        await store.retire("leaving")
        assert await store.lapsed_instances("staying") == ["leaving"]
        assert await store.lapsed_instances("leaving") == []  # (the asker is never listed)
        assert await store.orphaned_calls() == ["r1"]
        await store.forget_instances(["leaving"])
        assert await store.lapsed_instances("staying") == []
        assert await store.mark_alive("staying", 60_000)  # still alive, still known
        assert await store.lapsed_instances("x") == []
    finally:
        await store.close()


async def test_ending_a_call_deletes_its_lease(redis_url: str) -> None:
    store = await Store.open(redis_url, pbx="ends")
    try:
        await store.mark_alive("me", 60_000)
        await store.mark_alive("other", 60_000)
        assert await store.create_leased_call(mk_call("e1"), "me", 60_000) == "created"
        assert not await store.acquire_lease("e1", "other", 60_000)
        assert await store.end_call("e1", CallOutcome.ABANDONED, 1_000.0, 0.0) is not None
        assert await store.acquire_lease("e1", "other", 60_000)  # nobody's any more
    finally:
        await store.close()
