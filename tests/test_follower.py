"""The figures process's picture of a PBX (acd/service/follower.py), read from a real Redis
that another store writes: changes followed through the events stream, everything read again
when events were missed, and the steering offsets handed back."""

from __future__ import annotations

import copy
import weakref
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from acd.config import parse_config
from acd.core.model import AgentState, CallOutcome, CallState
from acd.service import backend as backend_module
from acd.service import follower
from acd.service.backend import ServiceBackend
from acd.service.follower import Follower
from acd.store import Store

from .test_e2e_callpath import config
from .test_store import T0, mk_agent, mk_call, waiting_call

CFG = parse_config({**config(), "pbx": {"host": "127.0.0.1", "port": 5038, "username": "acd",
                                          "secret": "not-used"}})


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """The routing process's store (writing, a short events stream) and the figures
    process's (reading)."""
    writer = await Store.open(redis_url, pbx="pbx1", events_maxlen=100)
    reader = await Store.open(redis_url, pbx="pbx1")
    yield writer, reader
    await writer.close()
    await reader.close()


async def test_follows_calls_and_agents_through_the_events(stores: tuple[Store, Store]) -> None:
    writer, reader = stores
    await writer.sync_agent(mk_agent("a1", AgentState.NOT_READY))
    await waiting_call(writer, "c1")
    f = Follower(CFG, reader)
    await f.catch_up()  # the first: everything
    assert f.full_reads == 1
    assert f.calls["c1"].state is CallState.WAITING
    assert f.agents["a1"].state is AgentState.NOT_READY
    held = f.calls  # what a refresh in progress holds is never changed under it

    await waiting_call(writer, "c2", entered_at=T0 + 1)
    assert await writer.set_agent_state("a1", AgentState.READY, T0 + 2) is not None
    assert await writer.create_call(mk_call("c3"))
    assert await writer.end_call("c1", CallOutcome.ABANDONED, T0 + 3, 0.0) is not None
    await f.catch_up()
    assert f.full_reads == 1  # followed, not read again
    assert sorted(f.calls) == ["c2", "c3"]
    assert f.calls["c3"].state is CallState.IVR
    assert f.agents["a1"].state is AgentState.READY
    assert sorted(held) == ["c1"]

    await f.catch_up()  # nothing new: nothing changes
    assert sorted(f.calls) == ["c2", "c3"] and f.full_reads == 1


async def test_reads_everything_again_when_events_were_trimmed_unread(
        stores: tuple[Store, Store]) -> None:
    writer, reader = stores
    await writer.sync_agent(mk_agent("a1", AgentState.NOT_READY))
    f = Follower(CFG, reader)
    await f.catch_up()
    await waiting_call(writer, "c8")  # its events are trimmed before they are read
    # Far more changes than the capped stream keeps (100), between two catch-ups.
    for n in range(300):
        state = AgentState.READY if n % 2 == 0 else AgentState.NOT_READY
        assert await writer.set_agent_state("a1", state, T0 + n) is not None
    await waiting_call(writer, "c9")
    await f.catch_up()
    assert f.full_reads == 2
    assert f.agents["a1"].state is AgentState.NOT_READY  # the 300th change
    assert f.calls["c9"].state is CallState.WAITING
    assert f.calls["c8"].state is CallState.WAITING  # seen only because everything was read
    await writer.set_agent_state("a1", AgentState.READY, T0 + 400)
    await f.catch_up()  # and follows again from there
    assert f.full_reads == 2 and f.agents["a1"].state is AgentState.READY


async def test_reads_everything_again_when_the_stream_was_deleted(
        stores: tuple[Store, Store], redis_url: str) -> None:
    writer, reader = stores
    await waiting_call(writer, "c1")
    f = Follower(CFG, reader)
    await f.catch_up()
    client = aioredis.from_url(redis_url)
    try:
        await client.delete(reader._k.events)
    finally:
        await client.aclose()
    await writer.end_call("c1", CallOutcome.ABANDONED, T0 + 1, 0.0)  # a new stream of one event
    await f.catch_up()
    assert f.full_reads == 2 and f.calls == {}


async def test_offsets_and_handle_times_go_to_the_routing_process_through_the_store(
        stores: tuple[Store, Store], redis_url: str) -> None:
    writer, reader = stores
    assert await writer.read_offsets() is None
    f = Follower(CFG, reader)
    f.set_offsets({"sales": 4.5})
    assert await writer.read_offsets() is None  # published at the next catch-up
    await f.catch_up()
    assert await writer.read_offsets() == {"sales": 4.5}
    # the queues' handle times travel the same way (acd/service/flow/live_aht.py)
    assert await writer.read_handle_times() is None
    f.set_handle_times({"sales": 181.5})
    await f.catch_up()
    assert await writer.read_handle_times() == {"sales": 181.5}
    client = aioredis.from_url(redis_url)
    try:
        await client.set(reader._k.offsets, b"not json")
        assert await writer.read_offsets() is None  # unreadable: ignored, not a crash
        await client.set(reader._k.offsets, b'{"sales": "x", "support": 2}')
        assert await writer.read_offsets() == {"support": 2.0}
    finally:
        await client.aclose()


async def test_status_is_what_the_routing_process_says(stores: tuple[Store, Store]) -> None:
    _, reader = stores
    said = (False, "AMI not attached: connecting")
    f = Follower(CFG, reader, status=lambda: said)
    assert f.attached() == said


async def test_follows_more_events_than_one_read_takes(stores: tuple[Store, Store],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream is read EVENTS_PER_READ entries at a time (a long XRANGE holds Redis and
    the routing claims behind it): every change is still followed, none read twice."""
    writer, reader = stores
    f = Follower(CFG, reader)
    await f.catch_up()
    monkeypatch.setattr(follower, "EVENTS_PER_READ", 3)
    for i in range(10):
        await waiting_call(writer, f"m{i}", entered_at=T0 + i)
    await f.catch_up()
    assert f.full_reads == 1  # followed in 4 reads, not read again
    assert sorted(f.calls) == sorted(f"m{i}" for i in range(10))
    assert all(c.state is CallState.WAITING for c in f.calls.values())


async def test_replaced_snapshots_are_freed_only_once_nobody_holds_them(
        stores: tuple[Store, Store]) -> None:
    """The figures free a replaced snapshot (and what a full read replaced) in slices
    (acd/service/dismantle.py): one a reader still holds is left as it is."""
    writer, reader = stores
    await writer.sync_agent(mk_agent("a1", AgentState.READY))
    await waiting_call(writer, "c1")
    f = Follower(CFG, reader)
    backend = ServiceBackend({}, cfg=CFG, sources={"pbx1": f})
    await backend.refresh()
    held = backend.snapshot()  # a reader (an SSE stream, say) still has the first one
    as_it_was = copy.deepcopy(dict(held))
    await backend.refresh()
    assert backend.snapshot() is not held
    await backend.free_retired()
    assert dict(held) == as_it_was and held["calls"] and held["agents"]

    second = weakref.ref(backend.snapshot())
    f._full_at = None  # the next catch-up reads everything again
    await backend.refresh()
    assert f.retired  # the calls and agents the full read replaced
    await backend.free_retired()
    assert f.retired == [] and second() is None
    del held
    await backend.free_retired()  # now nobody holds the first either
    assert backend._retired == []
    assert backend.snapshot()["calls"][0]["id"] == "c1"  # the current one is whole


async def test_what_nobody_frees_is_not_kept_without_end(stores: tuple[Store, Store]) -> None:
    """Refreshes asked for directly (no backend loop freeing what they replace) and full
    reads keep a few of what they replaced, not all."""
    writer, reader = stores
    await waiting_call(writer, "c1")
    f = Follower(CFG, reader)
    backend = ServiceBackend({}, cfg=CFG, sources={"pbx1": f})
    for _ in range(3 * backend_module.MAX_RETIRED):
        f._full_at = None
        await backend.refresh()
    assert 0 < len(backend._retired) <= backend_module.MAX_RETIRED
    assert 0 < len(f.retired) <= follower.MAX_RETIRED
