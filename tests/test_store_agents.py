"""The Redis store against a real redis-server: agents, VIPs, the events stream, the scripts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import resources

import pytest
import redis.asyncio as aioredis

from acd.core.model import AgentState, CallOutcome
from acd.store import Store, StoreError
from acd.store.base import Scripts
from tests.test_store import T0, event_types, mk_agent, mk_call, waiting_call


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    s = await Store.open(redis_url, pbx="pbx1")
    yield s
    await s.close()


# --- agents


async def test_sync_agent_keeps_the_live_state(store: Store) -> None:
    await store.sync_agent(mk_agent("a1", AgentState.LOGGED_OUT))
    await store.set_agent_state("a1", AgentState.READY, T0 + 5)
    synced = await store.sync_agent(mk_agent("a1", AgentState.LOGGED_OUT, skills={"fr": 5},
                                             queues=("fr", "sales"), interface="PJSIP/9"))
    assert synced.state is AgentState.READY and synced.ready_since == T0 + 5
    assert (synced.skills, synced.queues, synced.interface) == (
        {"fr": 5}, ("fr", "sales"), "PJSIP/9")
    await store.sync_agent(synced)  # unchanged config: no event
    assert await event_types(store) == ["agent_added", "agent_state_changed", "agent_updated"]


async def test_remove_agent_only_when_idle(store: Store) -> None:
    await store.sync_agent(mk_agent("a1"))
    await waiting_call(store, "c1")
    await store.claim("c1", "a1", "leg1", T0)
    assert not await store.remove_agent("a1")
    assert await store.get_agent("a1") is not None
    await store.end_call("c1", CallOutcome.ABANDONED, T0 + 1, 0)
    assert await store.remove_agent("a1")
    assert await store.get_agent("a1") is None and await store.load_agents() == []
    assert await store.remove_agent("a1")  # already gone


async def test_set_agent_state_compare_and_set(store: Store) -> None:
    await store.sync_agent(mk_agent("a1", AgentState.LOGGED_OUT, ready_since=0.0))
    only_from_ready = frozenset({AgentState.READY})
    assert await store.set_agent_state("a1", AgentState.NOT_READY, T0, "lunch",
                                       expect=only_from_ready) is None
    ready = await store.set_agent_state("a1", AgentState.READY, T0 + 1,
                                        expect=frozenset({AgentState.LOGGED_OUT}))
    assert ready is not None and ready.state is AgentState.READY
    assert ready.ready_since == T0 + 1 and ready.state_since == T0 + 1
    again = await store.set_agent_state("a1", AgentState.READY, T0 + 2)
    assert again == ready  # same state: nothing changes, idle time kept
    paused = await store.set_agent_state("a1", AgentState.NOT_READY, T0 + 3, "lunch",
                                          expect=only_from_ready)
    assert paused is not None and paused.reason == "lunch" and paused.ready_since == T0 + 1
    assert await store.set_agent_state("nope", AgentState.READY, T0) is None
    with pytest.raises(ValueError):
        await store.set_agent_state("a1", AgentState.RESERVED, T0)


async def test_set_agent_state_leaves_busy_agents_to_the_call_steps(store: Store) -> None:
    await store.sync_agent(mk_agent("a1"))
    await waiting_call(store, "c1")
    await store.claim("c1", "a1", "leg1", T0)
    assert await store.set_agent_state("a1", AgentState.NOT_READY, T0 + 1) is None
    busy = frozenset({AgentState.RESERVED, AgentState.ON_CALL})
    assert await store.set_agent_state("a1", AgentState.READY, T0 + 1, expect=busy) is None
    await store.answer("c1", "leg1", T0 + 2)
    assert await store.set_agent_state("a1", AgentState.LOGGED_OUT, T0 + 3) is None
    got = await store.get_agent("a1")
    assert got is not None and got.state is AgentState.ON_CALL and got.call_id == "c1"


async def test_set_agent_state_repairs_a_stale_busy_agent(store: Store, redis_url: str) -> None:
    await store.sync_agent(mk_agent("a1"))
    await waiting_call(store, "c1")
    await store.claim("c1", "a1", "leg1", T0)
    client = aioredis.from_url(redis_url)
    await client.delete(store.keys.call("c1"))  # the call is lost (flushed, evicted, ...)
    await client.aclose()
    repaired = await store.set_agent_state("a1", AgentState.READY, T0 + 9)
    assert repaired is not None and repaired.state is AgentState.READY
    assert (repaired.call_id, repaired.leg_id, repaired.ready_since) == ("", "", T0 + 9)


# --- lookups and events


async def test_vips(store: Store) -> None:
    assert not await store.is_vip("555", "ACME")
    await store.add_vips(["555"], ["ACME"])
    await store.add_vips([], [])
    assert await store.is_vip("555", "")
    assert await store.is_vip("", "ACME")
    assert not await store.is_vip("556", "OTHER")
    assert not await store.is_vip("", "")


async def test_events_one_per_change(store: Store) -> None:
    await store.sync_agent(mk_agent("a1"))
    await waiting_call(store, "c1")
    await store.claim("c1", "a1", "leg1", T0 + 1)
    await store.answer("c1", "leg1", T0 + 2)
    await store.end_call("c1", CallOutcome.ANSWERED, T0 + 60, 10)
    await store.set_agent_state("a1", AgentState.READY, T0 + 70, expect=frozenset(
        {AgentState.WRAP_UP}))
    events = await store.read_events()
    assert [f["type"] for _, f in events] == [
        "agent_added", "call_created", "call_queued", "call_claimed", "call_answered",
        "call_ended", "agent_state_changed", "call_wrapped"]
    by_type = {f["type"]: f for _, f in events}
    assert by_type["call_answered"] == {
        "type": "call_answered", "call": "c1", "agent": "a1", "at": repr(T0 + 2),
        "queue": "sales", "leg_id": "leg1", "entered_at": repr(T0), "transferred": "0"}
    # the wrap-up of c1 ended without a code: "none" (issue 9)
    assert by_type["call_wrapped"]["codes"] == '["none"]'
    assert by_type["call_wrapped"]["call"] == "c1" and by_type["call_wrapped"]["final"] == "1"
    assert by_type["call_ended"]["outcome"] == "answered"
    assert by_type["call_ended"]["agent_state"] == "wrap_up"
    # Reading on from an id gives only what came after it.
    assert [e[0] for e in await store.read_events(events[4][0])] == [e[0] for e in events[5:]]
    assert [e[0] for e in await store.read_events(count=2)] == [e[0] for e in events[:2]]


async def test_events_stream_is_capped(redis_url: str) -> None:
    s = await Store.open(redis_url, pbx="cap", events_maxlen=10)
    for i in range(300):
        await s.create_call(mk_call(f"c{i}"))
    assert len(await s.read_events(count=1000)) < 300
    await s.close()


async def test_pbxs_do_not_see_each_other(store: Store, redis_url: str) -> None:
    other = await Store.open(redis_url, pbx="pbx2")
    await store.create_call(mk_call("c1"))
    assert await other.get_call("c1") is None and await other.load_live_calls() == []
    assert await other.read_events() == []
    await other.close()


async def test_ping_and_open_failure(store: Store, tmp_path: object) -> None:
    assert await store.ping()
    with pytest.raises(StoreError, match="does not answer"):
        await Store.open(f"unix://{tmp_path}/missing.sock")


def test_every_script_has_a_keys_and_argv_header() -> None:
    scripts = [p for p in (resources.files("acd.store") / "lua").iterdir()
               if p.name.endswith(".lua") and not p.name.startswith("_")]
    # every script file is registered, and every registered script has its file
    assert sorted(p.name[:-4] for p in scripts) == sorted(Scripts.__dataclass_fields__)
    for script in scripts:
        header = [ln for ln in script.read_text().splitlines() if ln.startswith("--")]
        assert any("KEYS[1]" in ln for ln in header), script.name
        assert any("ARGV[1]" in ln for ln in header), script.name
