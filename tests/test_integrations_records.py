"""Call records and the agent's wrap-up, against a real Redis: a record waits for its agent's
wrap-up to end, is written at once without one, and is written once even when another instance
saw the end of the wrap-up first."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from acd.config import RecordsConfig
from acd.core.model import Agent, AgentState
from acd.integrations.records import RecordsWriter
from acd.integrations.runner import Event
from acd.integrations.stream import IntegrationRedis, IntKeys
from acd.store import Store

T0 = 1_800_000_000.0


@pytest.fixture
async def parts(redis_url: str) -> AsyncIterator[tuple[Store, IntegrationRedis, RecordsWriter]]:
    store = await Store.open(redis_url, pbx="lab")
    redis = await IntegrationRedis.open(redis_url)
    yield store, redis, RecordsWriter(RecordsConfig(maxlen=1000), redis)
    await redis.close()
    await store.close()


def ended(store: Store, call_id: str, agent_state: str, at: float = T0) -> Event:
    return Event("lab", f"{int(at * 1000)}-0", {
        "type": "call_ended", "call": call_id, "agent": "a1", "at": repr(at),
        "queue": "sales", "outcome": "answered", "from_state": "connected",
        "agent_state": agent_state, "entered_at": repr(at - 30),
        "answered_at": repr(at - 20)}, store)


def changed(store: Store, at: float, before: str, after: str) -> Event:
    return Event("lab", f"{int(at * 1000)}-1", {
        "type": "agent_state_changed", "call": "", "agent": "a1", "at": repr(at),
        "from_state": before, "state": after}, store)


async def written(store: Store, redis: IntegrationRedis) -> list[dict[str, Any]]:
    entries = await redis.xrange(IntKeys(store.keys).records, "-", "+", 100)
    return [json.loads(fields["r"]) for _, fields in entries]


async def put_agent(store: Store, state: AgentState, since: float) -> None:
    await store.sync_agent(Agent(id="a1", interface="PJSIP/1001", name="a1"))
    assert await store.set_agent_state("a1", state, since) is not None


async def test_record_waits_for_the_wrapup(parts: tuple[Store, IntegrationRedis,
                                                         RecordsWriter]) -> None:
    store, redis, writer = parts
    await put_agent(store, AgentState.WRAP_UP, T0)
    await writer.handle(ended(store, "c1", "wrap_up"))
    assert await written(store, redis) == []  # held until the wrap-up ends
    await writer.handle(changed(store, T0 + 7.5, "wrap_up", "ready"))
    [rec] = await written(store, redis)
    assert rec["call_id"] == "c1" and rec["talk_s"] == 20.0
    assert (rec["wrapup_start"], rec["wrapup_end"], rec["wrapup_s"]) == (T0, T0 + 7.5, 7.5)
    await writer.handle(changed(store, T0 + 9, "wrap_up", "ready"))  # nothing held: no record
    assert len(await written(store, redis)) == 1


async def test_no_wrapup_is_written_at_once(parts: tuple[Store, IntegrationRedis,
                                                          RecordsWriter]) -> None:
    store, redis, writer = parts
    await writer.handle(ended(store, "c2", "ready"))
    [rec] = await written(store, redis)
    assert rec["wrapup_s"] == 0.0 and rec["wrapup_start"] is None


async def test_wrapup_already_over_when_the_end_is_handled(
        parts: tuple[Store, IntegrationRedis, RecordsWriter]) -> None:
    store, redis, writer = parts
    # another instance handled "wrap_up -> ready" (at T0 + 4) before this one saw the end
    await put_agent(store, AgentState.READY, T0 + 4)
    await writer.handle(changed(store, T0 + 4, "wrap_up", "ready"))
    await writer.handle(ended(store, "c3", "wrap_up"))
    [rec] = await written(store, redis)
    assert rec["wrapup_s"] == 4.0 and rec["wrapup_end"] == T0 + 4
    assert await redis.getdel(IntKeys(store.keys).wrapup("a1")) is None
