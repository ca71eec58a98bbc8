"""Events carry their writer's origin tag (`by`), and an instance reads only the other
instances' changes back from the stream (acd/service/leases.follow_store)."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio as aioredis

from acd.core.events import StoreChanged
from acd.core.model import AgentState
from acd.service.leases import follow_store
from acd.store import Store
from acd.store.keys import Keys
from acd.testing.harness import wait_for
from tests.test_store import T0, mk_agent


async def test_events_carry_the_origin_of_their_store(redis_url: str) -> None:
    mine = await Store.open(redis_url, pbx="p", origin="inst-a")
    other = await Store.open(redis_url, pbx="p", origin="inst-b")
    plain = await Store.open(redis_url, pbx="p")
    try:
        await mine.sync_agent(mk_agent("a1", AgentState.LOGGED_OUT))
        await other.set_agent_state("a1", AgentState.READY, T0)
        await plain.set_agent_state("a1", AgentState.NOT_READY, T0 + 1, "lunch")
        events = [f for _, f in await plain.read_events()]
        assert [(f["type"], f.get("by")) for f in events] == [
            ("agent_added", "inst-a"), ("agent_state_changed", "inst-b"),
            ("agent_state_changed", None)]
        assert list(events[1])[-1] == "by"  # after the fields of its type
    finally:
        for s in (mine, other, plain):
            await s.close()


def test_an_origin_tag_has_no_spaces() -> None:
    with pytest.raises(ValueError, match="no spaces"):
        Store(aioredis.Redis(), Keys("acd", "p"), origin="a b")


async def test_an_instance_follows_only_the_others_changes(redis_url: str) -> None:
    mine = await Store.open(redis_url, pbx="p", origin="inst-a")
    other = await Store.open(redis_url, pbx="p", origin="inst-b")
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    engine = SimpleNamespace(store=mine, inbox=inbox)
    follower = asyncio.create_task(follow_store(engine))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.1)  # it reads from "$": what is written from now on
        await mine.sync_agent(mk_agent("a1", AgentState.LOGGED_OUT))
        await other.set_agent_state("a1", AgentState.READY, T0)
        await mine.set_agent_state("a1", AgentState.NOT_READY, T0 + 1, "lunch")
        await other.set_agent_state("a1", AgentState.READY, T0 + 2)
        await wait_for(lambda: inbox.qsize() >= 2, 5.0, "the other instance's two changes")
        await asyncio.sleep(0.2)  # nothing more comes
        seen: list[StoreChanged] = [inbox.get_nowait() for _ in range(inbox.qsize())]
        assert [(e.fields["state"], e.fields["by"]) for e in seen] == [
            ("ready", "inst-b"), ("ready", "inst-b")]
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        await mine.close()
        await other.close()


async def test_a_read_passes_over_its_own_events_and_still_moves_on(redis_url: str) -> None:
    mine = await Store.open(redis_url, pbx="p", origin="inst-a")
    other = await Store.open(redis_url, pbx="p", origin="inst-b")
    try:
        await mine.sync_agent(mk_agent("a1", AgentState.LOGGED_OUT))
        await other.set_agent_state("a1", AgentState.READY, T0)
        await mine.set_agent_state("a1", AgentState.NOT_READY, T0 + 1, "lunch")
        every = await mine.read_events()
        read = await mine.follow_events("0", block_ms=1, skip_by="inst-a")
        assert read.seen == 3
        assert read.last_id == every[-1][0]  # the skipped last one too: the next read's start
        assert [(f["type"], f["by"]) for _, f in read.events] == [
            ("agent_state_changed", "inst-b")]
        assert read.events[0][0] == every[1][0]
        again = await mine.follow_events(read.last_id, block_ms=1, skip_by="inst-a")
        assert again == (read.last_id, 0, [])
        plain = await mine.follow_events("0", block_ms=1)  # no skip_by: every event
        assert len(plain.events) == 3
    finally:
        await mine.close()
        await other.close()
