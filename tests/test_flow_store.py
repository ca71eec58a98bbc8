"""The store steps of the caller-facing policies against a real redis-server: each one refuses
what does not apply (nothing changed, nothing counted) and counts what it does exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from acd.core.model import AgentState, CallOutcome, CallState
from acd.store import Store
from acd.store.base import interval_start
from tests.test_store import T0, mk_agent, waiting_call


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    s = await Store.open(redis_url, pbx="pbx1")
    yield s
    await s.close()


async def counts(store: Store, queue: str) -> dict[str, str]:
    key = store.keys.queue_interval(queue, interval_start(T0 + 10))
    return {k: v for k, v in (await store._r.hgetall(key)).items()}


async def test_overflow_moves_once_and_keeps_the_entry_time(store: Store) -> None:
    await waiting_call(store, "c1", "sales", entered_at=T0)
    await waiting_call(store, "c2", "support", entered_at=T0 + 5)
    assert await store.overflow("c1", "support", "vip", {}, T0 + 10, None) is None  # wrong queue
    moved = await store.overflow("c1", "sales", "support", {"support": 1}, T0 + 10, 42.0)
    assert moved is not None and moved.queue == "support" and moved.entered_at == T0
    assert moved.overflow_path == ["sales"] and moved.required == {"support": 1}
    assert moved.ewt_pred_s == 42.0 and moved.ewt_pred_at == T0 + 10
    assert await store.waiting_ids("support") == ["c1", "c2"]  # by its original entry
    assert await store.waiting_ids("sales") == []
    assert await store.overflow("c1", "sales", "support", {}, T0 + 11, None) is None
    sales, support = await counts(store, "sales"), await counts(store, "support")
    assert (sales["offered"], sales["overflowed"]) == ("1", "1")
    assert (support["offered"], support.get("overflowed")) == ("2", None)


async def test_survey_answer_once_per_call_and_only_when_answered(store: Store) -> None:
    await waiting_call(store, "c1", "sales")
    assert await store.sync_agent(mk_agent("a1")) is not None
    assert await store.survey_answer("c1", "csat", 4, T0 + 10) is None  # not answered
    assert (await store.claim("c1", "a1", "leg1", T0 + 1)).ok
    assert await store.answer("c1", "leg1", T0 + 2) is not None
    assert await store.end_call("c1", CallOutcome.ANSWERED, T0 + 5, 0) is not None
    first = await store.survey_answer("c1", "csat", 4, T0 + 10)
    assert first is not None and first.survey == {"csat": 4}
    assert await store.survey_answer("c1", "csat", 1, T0 + 11) is None  # once
    both = await store.survey_answer("c1", "nps", 9, T0 + 12)
    assert both is not None and both.survey == {"csat": 4, "nps": 9}
    queue = await counts(store, "sales")
    assert (queue["csat_n"], queue["csat_points"], queue["nps_n"], queue["nps_promoters"],
            queue["nps_detractors"]) == ("1", "75", "1", "1", "0")
    agent = (await store.agent_intervals(["a1"], T0, T0 + 20))["a1"].survey
    assert (agent.csat_n, agent.csat_points, agent.nps_promoters) == (1, 75, 1)


async def test_callback_request_attempts_and_retry_keep_the_place(store: Store) -> None:
    await waiting_call(store, "c1", "sales", entered_at=T0)
    await waiting_call(store, "c2", "sales", entered_at=T0 + 5)
    assert await store.sync_agent(mk_agent("a1")) is not None
    cb = await store.callback_request("c1", "5551000", T0 + 6)
    assert cb is not None and cb.callback == "5551000" and cb.state is CallState.WAITING
    assert await store.callback_request("c1", "5551000", T0 + 7) is None  # booked already
    assert await store.waiting_ids("sales") == ["c1", "c2"]  # its place, no line needed
    assert await store.callback_attempt("c1", "leg1", "NOANSWER", T0 + 99, T0 + 8) is None
    assert (await store.claim("c1", "a1", "leg1", T0 + 8)).ok
    assert await store.callback_attempt("c1", "other", "NOANSWER", T0 + 99, T0 + 9) is None
    changed = await store.callback_attempt("c1", "leg1", "NOANSWER", T0 + 60, T0 + 9)
    assert changed is not None
    call, agent = changed
    assert call.state is CallState.SCHEDULED and call.cb_attempts == 1
    assert call.retry_at == T0 + 60 and call.agent_id == ""
    assert agent is not None and agent.state is AgentState.READY
    assert await store.waiting_ids("sales") == ["c2"]  # out of the queue until its retry
    assert await store.callback_due("c2", T0 + 60) is None  # not a scheduled one
    due = await store.callback_due("c1", T0 + 60)
    assert due is not None and due.state is CallState.WAITING and due.entered_at == T0
    assert await store.waiting_ids("sales") == ["c1", "c2"]  # back at its place
    # Last attempt: no retry, the call stays ringing for end_call(callback_failed).
    assert (await store.claim("c1", "a1", "leg2", T0 + 61)).ok
    last = await store.callback_attempt("c1", "leg2", "BUSY", None, T0 + 62)
    assert last is not None and last[0].state is CallState.RINGING and last[0].cb_attempts == 2
    ended = await store.end_call("c1", CallOutcome.CALLBACK_FAILED, T0 + 62, 10.0)
    assert ended is not None and ended.agent is not None
    assert ended.agent.state is AgentState.READY  # never talked: no wrap-up
    queue = await counts(store, "sales")
    assert (queue["callback_requested"], queue["callback_failed"]) == ("1", "1")
    assert queue.get("abandoned") is None
