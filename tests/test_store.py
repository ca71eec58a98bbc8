"""The Redis store against a real redis-server: round trips, queue order, the atomic steps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from acd.core.model import (
    PRIORITY_VIP,
    Agent,
    AgentState,
    Call,
    CallOutcome,
    CallState,
)
from acd.store import Keys, Store

T0 = 1_700_000_000.123456


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    s = await Store.open(redis_url, pbx="pbx1")
    yield s
    await s.close()


def mk_call(call_id: str, **kw: object) -> Call:
    base = {"channel": f"PJSIP/trunk-{call_id}", "uniqueid": f"u-{call_id}",
            "caller_num": "5551000", "dnis": "800", "pbx": "pbx1", "arrived_at": T0}
    return Call(id=call_id, **{**base, **kw})  # type: ignore[arg-type]


def mk_agent(agent_id: str, state: AgentState = AgentState.READY, **kw: object) -> Agent:
    base = {"interface": f"PJSIP/{agent_id}", "skills": {"sales": 3}, "queues": ("sales",),
            "name": f"Agent {agent_id}", "state": state, "state_since": T0, "ready_since": T0}
    return Agent(id=agent_id, **{**base, **kw})  # type: ignore[arg-type]


async def waiting_call(store: Store, call_id: str, queue: str = "sales", priority: int = 0,
                       entered_at: float = T0) -> Call:
    assert await store.create_call(mk_call(call_id))
    call = await store.enqueue(call_id, queue, priority, {"sales": 1}, entered_at, entered_at)
    assert call is not None
    return call


async def event_types(store: Store) -> list[str]:
    return [fields["type"] for _, fields in await store.read_events()]


# --- keys and codec


def test_keys_carry_the_pbx_hash_tag() -> None:
    k = Keys("acd", "pbx1")
    assert k.call("abc") == "acd:{pbx1}:call:abc"
    every = [k.call("a"), k.live_calls, k.agent("b"), k.agents, k.queue("q"), k.events,
             k.vip_numbers, k.vip_accounts]
    assert all("{pbx1}" in key for key in every)
    assert len(set(every)) == len(every)


@pytest.mark.parametrize("pbx", ["", "a}b", "a{b", "a:b", "a b"])
def test_keys_reject_names_that_break_the_tag(pbx: str) -> None:
    with pytest.raises(ValueError):
        Keys("acd", pbx)


async def test_call_round_trip(store: Store) -> None:
    call = mk_call("c1", required={"sales": 2, "fr": 1}, ivr_path=["main", "1"], vip=True,
                   language="fr", account="ACME", priority=PRIORITY_VIP)
    assert await store.create_call(call)
    assert await store.get_call("c1") == call
    assert await store.get_call("nope") is None
    assert await store.load_live_calls() == [call]


async def test_create_call_is_idempotent(store: Store) -> None:
    assert await store.create_call(mk_call("c1"))
    assert not await store.create_call(mk_call("c1", caller_num="other"))
    got = await store.get_call("c1")
    assert got is not None and got.caller_num == "5551000"
    assert await event_types(store) == ["call_created"]


async def test_create_call_only_in_ivr(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.create_call(mk_call("c1", state=CallState.WAITING))


async def test_agent_round_trip(store: Store) -> None:
    agent = mk_agent("a1", calls_handled=4, reason="x")
    assert await store.sync_agent(agent) == agent
    assert await store.get_agent("a1") == agent
    assert await store.load_agents() == [agent]
    assert await store.get_agent("nope") is None


async def test_floats_round_trip_exactly(store: Store) -> None:
    t = 1_712_345_678.987654321
    await store.create_call(mk_call("c1", arrived_at=t))
    call = await store.enqueue("c1", "q", 0, {}, t + 0.1, t + 0.1)
    assert call is not None and call.arrived_at == t and call.entered_at == t + 0.1


async def test_update_call(store: Store) -> None:
    await store.create_call(mk_call("c1"))
    assert await store.update_call("c1", ivr_path=["main", "2"], language="de", vip=True)
    got = await store.get_call("c1")
    assert got is not None and got.ivr_path == ["main", "2"] and got.language == "de" and got.vip
    assert not await store.update_call("nope", language="de")
    with pytest.raises(ValueError):
        await store.update_call("c1", state="ended")
    with pytest.raises(TypeError):
        await store.update_call("c1", priority="high")


async def test_update_call_rescores_a_waiting_call(store: Store) -> None:
    await waiting_call(store, "c1", entered_at=T0)
    await waiting_call(store, "c2", entered_at=T0 + 1)
    assert await store.update_call("c2", priority=PRIORITY_VIP)
    assert await store.waiting_ids("sales") == ["c2", "c1"]
    assert await store.update_call("c2", queue="support")
    assert await store.waiting_ids("sales") == ["c1"]
    assert await store.waiting_ids("support") == ["c2"]


# --- queue order


async def test_enqueue_order_vip_first_then_fifo(store: Store) -> None:
    await waiting_call(store, "n1", entered_at=T0)
    await waiting_call(store, "v1", priority=PRIORITY_VIP, entered_at=T0 + 5)
    await waiting_call(store, "n2", entered_at=T0 + 0.002)
    await waiting_call(store, "v2", priority=PRIORITY_VIP, entered_at=T0 + 6)
    await waiting_call(store, "n0", entered_at=T0 - 30)
    assert await store.waiting_ids("sales") == ["v1", "v2", "n0", "n1", "n2"]


async def test_enqueue_only_from_ivr(store: Store) -> None:
    call = await waiting_call(store, "c1")
    assert call.state is CallState.WAITING and call.queue == "sales"
    assert call.required == {"sales": 1} and call.entered_at == T0
    assert await store.enqueue("c1", "other", 0, {}, T0, T0) is None
    assert await store.enqueue("nope", "sales", 0, {}, T0, T0) is None
    assert await store.waiting_ids("other") == []
    with pytest.raises(ValueError):
        await store.enqueue("c1", "sales", 10_000, {}, T0, T0)


# --- claim, answer, requeue


async def test_claim_happy_path(store: Store) -> None:
    await store.sync_agent(mk_agent("a1"))
    await waiting_call(store, "c1")
    res = await store.claim("c1", "a1", "leg1", T0 + 3)
    assert res.ok and res.reason == "ok"
    assert res.call is not None and res.agent is not None
    assert (res.call.state, res.call.agent_id, res.call.leg_id) == (CallState.RINGING, "a1", "leg1")
    assert (res.agent.state, res.agent.call_id, res.agent.leg_id) == (
        AgentState.RESERVED, "c1", "leg1")
    assert res.agent.state_since == T0 + 3
    assert await store.waiting_ids("sales") == []
    assert res.call == await store.get_call("c1")
    assert res.agent == await store.get_agent("a1")


async def test_a_lean_claim_answers_neither_hash_and_its_change_is_the_stores(
        store: Store) -> None:
    """Won: only 'ok' comes back, and the change applied to the caller's copies is exactly
    what Redis holds; the next step's hint knows the agent (no stale hint, no extra read).
    Refused: both hashes, as always (the caller's copies were wrong)."""
    await store.sync_agent(mk_agent("a1"))
    await store.sync_agent(mk_agent("a2", AgentState.NOT_READY))
    await waiting_call(store, "c1")
    call, agent = await store.get_call("c1"), await store.get_agent("a1")
    assert call is not None and agent is not None
    refused = store.prepare_claim("c1", "a2", "l0", T0 + 2, lean=True)
    assert refused is not None
    [lost] = await store.run_prepared([refused])
    assert not lost.ok and lost.agent is not None and lost.agent.state is AgentState.NOT_READY
    assert lost.call == call and not lost.lean
    prepared = store.prepare_claim("c1", "a1", "leg1", T0 + 3, lean=True)
    assert prepared is not None
    [won] = await store.run_prepared([prepared])
    assert won.ok and won.lean and won.call is None and won.agent is None and won.at == T0 + 3
    aside = Store(store._r, store._k)  # (reads that leave this store's hints alone)
    assert won.claimed(call, agent, "leg1") == (await aside.get_call("c1"),
                                                await aside.get_agent("a1"))
    assert await store.waiting_ids("sales") == []
    reads: list[str] = []
    hmget = store._r.hmget

    async def read(key: str, fields: list[str]) -> Any:
        reads.append(key)
        return await hmget(key, fields)

    store._r.hmget = read  # type: ignore[method-assign,assignment]
    assert await store.requeue("c1", "leg1", T0 + 9, AgentState.NOT_READY, "rona") is not None
    assert reads == []  # its keys from the hint the lean claim left: not read again first


async def test_claim_refusals(store: Store) -> None:
    await store.sync_agent(mk_agent("a1"))
    await store.sync_agent(mk_agent("a2", AgentState.NOT_READY))
    await store.create_call(mk_call("ivr"))
    await waiting_call(store, "c1")
    assert (await store.claim("nope", "a1", "l", T0)).reason == "no_such_call"
    assert (await store.claim("c1", "nope", "l", T0)).reason == "no_such_agent"
    assert (await store.claim("ivr", "a1", "l", T0)).reason == "call_not_waiting"
    refused = await store.claim("c1", "a2", "l", T0)
    assert not refused.ok and refused.reason == "agent_not_ready"
    assert refused.agent is not None and refused.agent.state is AgentState.NOT_READY
    assert await store.waiting_ids("sales") == ["c1"]
    assert await event_types(store) == ["agent_added", "agent_added", "call_created",
                                        "call_created", "call_queued"]


async def test_answer(store: Store) -> None:
    await store.sync_agent(mk_agent("a1"))
    await waiting_call(store, "c1")
    await store.claim("c1", "a1", "leg1", T0 + 1)
    assert await store.answer("c1", "other-leg", T0 + 2) is None
    answered = await store.answer("c1", "leg1", T0 + 2)
    assert answered is not None
    call, agent = answered
    assert call.state is CallState.CONNECTED and call.answered_at == T0 + 2
    assert call.outcome is CallOutcome.ANSWERED and call.wait_s(T0 + 99) == 2
    assert agent.state is AgentState.ON_CALL and agent.calls_handled == 1
    assert await store.answer("c1", "leg1", T0 + 3) is None  # a replay changes nothing


async def test_requeue_keeps_the_old_place(store: Store) -> None:
    await store.sync_agent(mk_agent("a1"))
    await waiting_call(store, "first", entered_at=T0)
    await waiting_call(store, "second", entered_at=T0 + 1)
    assert (await store.claim("first", "a1", "leg1", T0 + 2)).ok
    await waiting_call(store, "third", entered_at=T0 + 3)
    assert await store.requeue("first", "wrong-leg", T0 + 20) is None
    requeued = await store.requeue("first", "leg1", T0 + 20)
    assert requeued is not None
    call, agent = requeued
    assert call.state is CallState.WAITING and call.rona_count == 1
    assert call.entered_at == T0 and (call.agent_id, call.leg_id) == ("", "")
    assert agent is not None and agent.state is AgentState.NOT_READY and agent.reason == "rona"
    assert agent.call_id == "" and agent.state_since == T0 + 20
    assert await store.waiting_ids("sales") == ["first", "second", "third"]
    assert await store.requeue("first", "leg1", T0 + 21) is None  # replay


async def test_requeue_can_leave_the_agent_ready(store: Store) -> None:
    await store.sync_agent(mk_agent("a1"))
    await waiting_call(store, "c1")
    await store.claim("c1", "a1", "leg1", T0 + 1)
    requeued = await store.requeue("c1", "leg1", T0 + 9, AgentState.READY, "")
    assert requeued is not None and requeued[1] is not None
    assert requeued[1].state is AgentState.READY and requeued[1].ready_since == T0 + 9
    with pytest.raises(ValueError):
        await store.requeue("c1", "leg1", T0, AgentState.ON_CALL)


# --- end_call


async def test_end_call_waiting_is_idempotent(store: Store) -> None:
    await waiting_call(store, "c1")
    ended = await store.end_call("c1", CallOutcome.ABANDONED, T0 + 9, 5)
    assert ended is not None and ended.agent is None
    assert ended.call.state is CallState.ENDED and ended.call.ended_at == T0 + 9
    assert ended.call.outcome is CallOutcome.ABANDONED
    assert await store.end_call("c1", CallOutcome.LOST, T0 + 10, 5) is None
    assert await store.end_call("nope", CallOutcome.LOST, T0 + 10, 5) is None
    assert await store.waiting_ids("sales") == []
    assert await store.load_live_calls() == []
    assert (await event_types(store)).count("call_ended") == 1


async def test_end_call_keeps_the_hash_for_a_while(store: Store, redis_url: str) -> None:
    await store.create_call(mk_call("c1"))
    await store.end_call("c1", CallOutcome.IVR_HANGUP, T0, 0)
    client = aioredis.from_url(redis_url)
    ttl = await client.ttl(store.keys.call("c1"))
    await client.aclose()
    assert 0 < ttl <= 86_400


@pytest.mark.parametrize(("answered", "wrapup_s", "expected"), [
    (False, 10.0, AgentState.READY),
    (True, 10.0, AgentState.WRAP_UP),
    (True, 0.0, AgentState.READY),
])
async def test_end_call_frees_the_agent(store: Store, answered: bool, wrapup_s: float,
                                        expected: AgentState) -> None:
    await store.sync_agent(mk_agent("a1"))
    await waiting_call(store, "c1")
    await store.claim("c1", "a1", "leg1", T0 + 1)
    if answered:
        await store.answer("c1", "leg1", T0 + 2)
    ended = await store.end_call("c1", CallOutcome.ANSWERED, T0 + 50, wrapup_s)
    assert ended is not None and ended.agent is not None
    assert ended.agent.state is expected and ended.agent.state_since == T0 + 50
    assert ended.agent.call_id == "" and ended.call.agent_id == "a1"
    assert ended.agent.ready_since == (T0 + 50 if expected is AgentState.READY else T0)
    assert ended.agent == await store.get_agent("a1")


async def test_a_closed_store_opens_no_new_connection(redis_url: str) -> None:
    """A task that outlives its stop (a late command, a late blocking read) gets an error
    instead of a connection nothing would ever close."""
    from acd.store import Store, StoreError

    store = await Store.open(redis_url)
    assert await store.ping()
    await store.follow_events("$", block_ms=1)  # the blocking client exists too
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.get_agent("a1")
    with pytest.raises(StoreError, match="closed"):
        await store.follow_events("$", block_ms=1)
    assert not await store.ping()
