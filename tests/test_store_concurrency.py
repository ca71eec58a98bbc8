"""Races between two store instances on one Redis, and random operation sequences.

Two `Store` objects stand for two service instances: each has its own connection pool, so
`asyncio.gather` really interleaves their scripts on the server.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.core.model import Agent, AgentState, Call, CallOutcome, CallState
from acd.store import Store

T0 = 1_700_000_000.0
QUEUES = ("q0", "q1")
CALLS = tuple(f"c{i}" for i in range(4))
AGENTS = tuple(f"a{i}" for i in range(3))
IDLE_STATES = (AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP, AgentState.LOGGED_OUT)
_pbx_numbers = itertools.count()


async def open_pair(url: str) -> tuple[Store, Store]:
    # A fresh PBX name is a fresh key space: no flush needed between hypothesis examples.
    pbx = f"race{next(_pbx_numbers)}"
    return await Store.open(url, pbx=pbx), await Store.open(url, pbx=pbx)


@pytest.fixture
async def pair(redis_url: str) -> AsyncIterator[tuple[Store, Store]]:
    s1, s2 = await open_pair(redis_url)
    yield s1, s2
    await asyncio.gather(s1.close(), s2.close())


def agent(agent_id: str) -> Agent:
    return Agent(id=agent_id, interface=f"PJSIP/{agent_id}", state=AgentState.READY)


async def add_waiting(store: Store, call_id: str, queue: str = "q0", at: float = T0) -> None:
    assert await store.create_call(Call(call_id, f"PJSIP/t-{call_id}", call_id, "555", "800"))
    assert await store.enqueue(call_id, queue, 0, {}, at, at) is not None


async def test_one_agent_many_calls_exactly_one_claim(pair: tuple[Store, Store]) -> None:
    s1, s2 = pair
    await s1.sync_agent(agent("a1"))
    calls = [f"c{i}" for i in range(30)]
    for i, call_id in enumerate(calls):
        await add_waiting(s1, call_id, at=T0 + i)
    results = await asyncio.gather(*(
        (s1, s2)[i % 2].claim(call_id, "a1", f"leg-{call_id}", T0 + 100)
        for i, call_id in enumerate(calls)))
    winners = [r for r in results if r.ok]
    assert len(winners) == 1
    assert {r.reason for r in results if not r.ok} == {"agent_not_ready"}
    won = winners[0].call
    assert won is not None
    got = await s2.get_agent("a1")
    assert got is not None and got.state is AgentState.RESERVED and got.call_id == won.id
    assert await s1.waiting_ids("q0") == [c for c in calls if c != won.id]


async def test_one_call_many_agents_exactly_one_claim(pair: tuple[Store, Store]) -> None:
    s1, s2 = pair
    agents = [f"a{i}" for i in range(30)]
    for agent_id in agents:
        await s1.sync_agent(agent(agent_id))
    await add_waiting(s1, "c1")
    results = await asyncio.gather(*(
        (s1, s2)[i % 2].claim("c1", agent_id, f"leg-{agent_id}", T0 + 1)
        for i, agent_id in enumerate(agents)))
    assert sum(r.ok for r in results) == 1
    assert {r.reason for r in results if not r.ok} == {"call_not_waiting"}
    states = [a.state for a in await s2.load_agents()]
    assert states.count(AgentState.RESERVED) == 1 and states.count(AgentState.READY) == 29


async def test_concurrent_end_call_counts_once(pair: tuple[Store, Store]) -> None:
    s1, s2 = pair
    await s1.sync_agent(agent("a1"))
    await add_waiting(s1, "c1")
    await s1.claim("c1", "a1", "leg", T0 + 1)
    await s1.answer("c1", "leg", T0 + 2)
    ends = await asyncio.gather(*(
        (s1, s2)[i % 2].end_call("c1", CallOutcome.ANSWERED, T0 + 9, 5) for i in range(10)))
    assert sum(e is not None for e in ends) == 1
    events = [f["type"] for _, f in await s1.read_events()]
    assert events.count("call_ended") == 1


async def test_requeue_races_a_new_claim(pair: tuple[Store, Store]) -> None:
    s1, s2 = pair
    for agent_id in ("a1", "a2"):
        await s1.sync_agent(agent(agent_id))
    await add_waiting(s1, "c1")
    await s1.claim("c1", "a1", "leg1", T0 + 1)
    requeued, claimed = await asyncio.gather(
        s1.requeue("c1", "leg1", T0 + 20), s2.claim("c1", "a2", "leg2", T0 + 20))
    assert requeued is not None
    # The claim either came first (refused) or after the requeue (won); never both rings.
    await check_invariants(s1)
    final = await s1.get_call("c1")
    assert final is not None and claimed.ok == (final.state is CallState.RINGING)


# --- random sequences


def op_strategy() -> st.SearchStrategy[tuple[Any, ...]]:
    calls, agents = st.sampled_from(CALLS), st.sampled_from(AGENTS)
    queues, prios = st.sampled_from(QUEUES), st.sampled_from([0, 10])
    idle = st.sampled_from(IDLE_STATES)
    return st.one_of(
        st.tuples(st.just("create"), calls),
        st.tuples(st.just("enqueue"), calls, queues, prios),
        st.tuples(st.just("claim"), calls, agents),
        st.tuples(st.just("claim"), calls, agents),
        st.tuples(st.just("answer"), calls, st.booleans()),
        st.tuples(st.just("requeue"), calls, st.booleans(), idle),
        st.tuples(st.just("end"), calls, st.sampled_from(list(CallOutcome)),
                  st.sampled_from([0.0, 5.0])),
        st.tuples(st.just("set_state"), agents, idle,
                  st.none() | st.frozensets(st.sampled_from(list(AgentState)))),
        st.tuples(st.just("update"), calls, queues, prios),
        st.tuples(st.just("sync"), agents),
        st.tuples(st.just("remove"), agents),
    )


async def run_op(store: Store, op: tuple[Any, ...], now: float) -> None:
    kind, target, *rest = op
    if kind == "create":
        await store.create_call(Call(target, "PJSIP/t", target, "555", "800", arrived_at=now))
    elif kind == "enqueue":
        await store.enqueue(target, rest[0], rest[1], {}, now, now)
    elif kind == "claim":
        await store.claim(target, rest[0], f"leg-{now}", now)
    elif kind in ("answer", "requeue"):
        call = await store.get_call(target)
        leg = call.leg_id if call is not None and rest[0] else "bogus"
        if kind == "answer":
            await store.answer(target, leg, now)
        else:
            await store.requeue(target, leg, now, rest[1])
    elif kind == "end":
        await store.end_call(target, rest[0], now, rest[1])
    elif kind == "set_state":
        await store.set_agent_state(target, rest[0], now, expect=rest[1])
    elif kind == "update":
        await store.update_call(target, queue=rest[0], priority=rest[1])
    elif kind == "sync":
        await store.sync_agent(agent(target))
    else:
        await store.remove_agent(target)


async def check_invariants(store: Store) -> None:
    calls = {c: await store.get_call(c) for c in CALLS}
    agents = {a: await store.get_agent(a) for a in AGENTS}
    placed: dict[str, str] = {}
    for queue in QUEUES:
        for call_id in await store.waiting_ids(queue):
            assert call_id not in placed, f"{call_id} in two queues"
            placed[call_id] = queue
    live = {c.id for c in await store.load_live_calls()}
    for call_id, call in calls.items():
        if call is None:
            continue
        waits = call.state is CallState.WAITING
        assert (placed.get(call_id) == call.queue) == waits, call
        assert (call_id in placed) == waits, call
        assert (call_id in live) == (call.state is not CallState.ENDED), call
    busy_calls = [c for c in calls.values()
                  if c is not None and c.state in (CallState.RINGING, CallState.CONNECTED)]
    for agent_id, got in agents.items():
        holding = [c for c in busy_calls if c.agent_id == agent_id]
        assert len(holding) <= 1, f"{agent_id} holds {holding}"
        if got is None:
            assert not holding
            continue
        if got.state in (AgentState.RESERVED, AgentState.ON_CALL):
            assert len(holding) == 1 and holding[0].id == got.call_id, got
            pairing = {AgentState.RESERVED: CallState.RINGING,
                       AgentState.ON_CALL: CallState.CONNECTED}
            assert holding[0].state is pairing[got.state] and holding[0].leg_id == got.leg_id
        else:
            assert not holding and got.call_id == "", got


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batches=st.lists(st.lists(op_strategy(), min_size=1, max_size=4), max_size=10))
async def test_random_operations_keep_the_invariants(
        redis_url: str, batches: list[list[tuple[Any, ...]]]) -> None:
    s1, s2 = await open_pair(redis_url)
    try:
        for agent_id in AGENTS:
            await s1.sync_agent(agent(agent_id))
        await add_waiting(s1, "c0", "q0", T0)
        await add_waiting(s1, "c1", "q1", T0 + 1)
        clock = itertools.count(1)
        for batch in batches:
            await asyncio.gather(*(run_op((s1, s2)[i % 2], op, T0 + next(clock))
                                   for i, op in enumerate(batch)))
            await check_invariants(s1)
    finally:
        await asyncio.gather(s1.close(), s2.close())


async def test_a_call_moved_by_another_instance_is_found(pair: tuple[Store, Store]) -> None:
    s1, s2 = pair
    await s1.sync_agent(agent("a1"))
    await add_waiting(s1, "c1", "q0")  # s1 now remembers c1 in q0
    assert await s2.update_call("c1", queue="q1", priority=10)
    result = await s1.claim("c1", "a1", "leg1", T0 + 1)  # a wrong guess, then a read
    assert result.ok and result.call is not None and result.call.queue == "q1"
    assert await s1.waiting_ids("q0") == [] and await s1.waiting_ids("q1") == []


async def test_a_move_between_read_and_script_is_retried(
        pair: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    s1, s2 = pair
    await s1.sync_agent(agent("a1"))
    await add_waiting(s1, "c1", "q0")  # s2 has never seen c1: it must read its queue
    read = s2._r.hmget  # reaching in: the race needs a step between read and script
    moved = False

    async def read_then_move(*args: Any, **kwargs: Any) -> Any:
        nonlocal moved
        hint = await read(*args, **kwargs)
        if not moved:
            moved = True
            assert await s1.update_call("c1", queue="q1")
        return hint

    monkeypatch.setattr(s2._r, "hmget", read_then_move)
    result = await s2.claim("c1", "a1", "leg1", T0 + 1)
    assert moved and result.ok
    assert result.call is not None and result.call.queue == "q1"
    assert await s1.waiting_ids("q0") == [] and await s1.waiting_ids("q1") == []
