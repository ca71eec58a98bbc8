"""The callback that keeps its place, end to end: the caller takes the offer in the hold loop,
leaves the line, keeps its place (a later caller is not served first), the agent is rung first
and the customer dialled once the agent answered; unanswered attempts are retried, the last
one fails the callback; a service restart in the middle loses nothing and makes nothing twice;
a reload that turns the offer on reaches callers already waiting."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from acd.api.backend import CommandError
from acd.core.model import AgentState, CallState
from acd.testing.harness import Harness, wait_for
from tests.flowkit import (
    answer,
    call_of,
    centre,
    figures,
    lab,
    login,
    place,
    reload,
    truth_of,
    until_waiting,
)

__all__ = ["lab"]

CALLBACK = {"dial": "PJSIP/{number}@trunk", "offer_over_ewt_s": 60, "offer_timeout_s": 1,
            "attempts": 2, "retry_after_s": 1, "customer_ring_s": 1}
# No agent logged in: the offer is made at once (admission's action = callback).
OFFER_AT_ONCE = {"no_agents": True, "action": "callback"}


def heard(h: Harness, number: str) -> list[str]:
    return [w for _, w in truth_of(h, number)["heard"]]


async def booked(h: Harness, number: str) -> str:
    """Wait until the caller took the offer and left the line; returns its call id."""
    await wait_for(lambda: (c := call_of(h, number)) is not None and bool(c.callback), 15,
                   f"{number}'s callback to be booked")
    await wait_for(lambda: truth_of(h, number)["ended_at"] is not None, 10,
                   f"{number} to leave the line")
    assert "Playback(acd/callback-booked)" in heard(h, number)
    call = call_of(h, number)
    assert call is not None and call.state is CallState.WAITING
    return call.id


async def agent_rings(h: Harness, call_id: str, agent_id: str) -> None:
    iface = h.cfg.agents[agent_id].interface
    await wait_for(lambda: (c := h.engine.calls.get(call_id)) is not None
                   and c.state is CallState.RINGING and c.agent_id == agent_id
                   and h.sim.pbx.phones[iface].channel is not None, 10,
                   f"{agent_id} rung for the callback")


def customer_legs(h: Harness) -> list[dict[str, Any]]:
    return [c for c in h.sim.channels() if c["kind"] == "customer"]


async def test_callback_keeps_its_place_and_rings_the_agent_first(lab: Any) -> None:
    h: Harness = await lab(centre(support={"assumed_aht_s": 300, "callback": CALLBACK}))
    await login(h, "a2")
    place(h, "8001", "2")
    await answer(h, "8001", "a2")  # a2 busy: about 5 minutes to wait, over the 60 s threshold
    place(h, "8002", "2", "1", callback_answers=[0.2], callback_talk_s=None)
    call_id = await booked(h, "8002")
    assert any(w.startswith("Read(ACD_CB_KEY,acd/callback-offer,1") for w in heard(h, "8002"))
    place(h, "8003", "2")  # comes later, stays on the line (does not take the offer)
    later = await until_waiting(h, "8003")
    booked_call = h.engine.calls[call_id]
    assert booked_call.entered_at is not None and later.entered_at is not None
    assert booked_call.entered_at < later.entered_at
    assert await h.engine.store.waiting_ids("support") == [call_id, later.id]

    h.sim.agent_hangup("PJSIP/1002")  # a2 frees up: the callback's turn, not 8003's
    await agent_rings(h, call_id, "a2")
    assert customer_legs(h) == []  # the customer is not dialled before the agent answers
    assert call_of(h, "8003").state is CallState.WAITING  # type: ignore[union-attr]
    h.sim.agent_answer("PJSIP/1002")
    await wait_for(lambda: h.engine.calls[call_id].state is CallState.CONNECTED, 10,
                   "the customer to answer")
    attempts = truth_of(h, "8002")["callbacks"]
    assert [(a["agent"], a["result"]) for a in attempts] == [("PJSIP/1002", "answered")]
    connected = h.engine.calls[call_id]
    assert connected.answered_at is not None and connected.entered_at is not None
    virtual_wait = connected.answered_at - connected.entered_at
    assert call_of(h, "8003").state is CallState.WAITING  # type: ignore[union-attr]
    # (issue 9) a callback is not transferred: its customer is on the agent leg's own Dial
    with pytest.raises(CommandError) as refused:
        await h.engine.handlers.transfers.to_queue(call_id, "support")
    assert refused.value.code == "callback_call"
    assert h.engine.calls[call_id].state is CallState.CONNECTED

    h.sim.agent_hangup("PJSIP/1002")
    await wait_for(lambda: call_id not in h.engine.calls, 10, "the callback to end")
    support = await figures(h, "support")
    assert (support.callbacks.requested, support.callbacks.answered,
            support.callbacks.failed) == (1, 1, 0)
    assert support.answered == 2 and support.abandoned == 0
    events = [e for _, e in await h.engine.store.read_events()]
    answered = next(e for e in events if e["type"] == "call_answered" and e["call"] == call_id)
    assert abs(float(answered["at"]) - float(answered["entered_at"]) - virtual_wait) < 1e-6
    ended = next(e for e in events if e["type"] == "call_ended" and e["call"] == call_id)
    assert ended["outcome"] == "answered"


async def test_unanswered_callbacks_are_retried_then_fail(lab: Any) -> None:
    cfg = centre(support={"callback": CALLBACK, "admission": OFFER_AT_ONCE})
    cfg["integrations"] = {"records": {"maxlen": 5000}}
    h: Harness = await lab(cfg)
    place(h, "8101", "2", "1", callback_answers=[None, None])
    call_id = await booked(h, "8101")
    await login(h, "a2")
    for attempt in (1, 2):
        await agent_rings(h, call_id, "a2")
        h.sim.agent_answer("PJSIP/1002")
        await wait_for(lambda n=attempt: len(truth_of(h, "8101")["callbacks"]) == n
                       and truth_of(h, "8101")["callbacks"][-1]["result"] == "NOANSWER", 10,
                       f"attempt {attempt} to ring out")
        if attempt == 1:
            await wait_for(lambda: (c := h.engine.calls.get(call_id)) is not None
                           and c.state in (CallState.SCHEDULED, CallState.WAITING,
                                           CallState.RINGING) and c.cb_attempts == 1, 10,
                           "the retry to be scheduled")
    await wait_for(lambda: call_id not in h.engine.calls, 10, "the callback to fail")
    await wait_for(lambda: h.engine.agents["a2"].state is AgentState.READY, 10, "a2 ready")
    events = [e for _, e in await h.engine.store.read_events()]
    failed = [e for e in events if e["type"] == "callback_attempt_failed"]
    assert [(e["attempt"], e["status"]) for e in failed] == [("1", "NOANSWER"),
                                                             ("2", "NOANSWER")]
    assert failed[0]["retry_at"] and not failed[1]["retry_at"]
    ended = [e for e in events if e["type"] == "call_ended" and e["call"] == call_id]
    assert [e["outcome"] for e in ended] == ["callback_failed"]
    support = await figures(h, "support")
    assert (support.callbacks.requested, support.callbacks.failed, support.answered) == (1, 1, 0)
    assert support.abandoned == 0
    # The call record: the final outcome, the line part (left for a callback), the attempts.
    assert h.service.integrations is not None and h.service.integrations.records is not None
    reader = h.service.integrations.records
    await wait_for(lambda: h.service.integrations.runner.counts["events"] >= len(events), 10,
                   "the records to be written")  # type: ignore[union-attr]
    (rec,) = await reader.call_records(0, time.time() + 60, 10)
    assert (rec["outcome"], rec["callback_number"], rec["callback_attempts"]) == (
        "callback_failed", "8101", 2)
    assert rec["callback_requested_at"] is not None and rec["queue"] == "support"


async def test_a_restart_in_the_middle_loses_no_callback_and_makes_none_twice(
        lab: Any) -> None:
    h: Harness = await lab(centre(support={"callback": {**CALLBACK, "retry_after_s": 3},
                                           "admission": OFFER_AT_ONCE}))
    place(h, "8201", "2", "1", callback_answers=[None, 0.2])
    call_id = await booked(h, "8201")
    await h.restart_service()  # booked, waiting without a line
    again = h.engine.calls.get(call_id)
    assert again is not None and again.state is CallState.WAITING and again.callback == "8201"
    await login(h, "a2")
    await agent_rings(h, call_id, "a2")
    h.sim.agent_answer("PJSIP/1002")
    await wait_for(lambda: (c := h.engine.calls.get(call_id)) is not None
                   and c.state is CallState.SCHEDULED, 10, "the first attempt to fail")
    await h.restart_service()  # between two attempts: the retry is armed again from Redis
    await agent_rings(h, call_id, "a2")
    h.sim.agent_answer("PJSIP/1002")
    await wait_for(lambda: h.engine.calls[call_id].state is CallState.CONNECTED, 10,
                   "the second attempt to reach the customer")
    assert [a["result"] for a in truth_of(h, "8201")["callbacks"]] == ["NOANSWER", "answered"]
    events = [e for _, e in await h.engine.store.read_events()]
    assert sum(e["type"] == "callback_requested" for e in events) == 1
    assert sum(e["type"] == "call_answered" and e["call"] == call_id for e in events) == 1
    assert h.engine.flow.callbacks.rung == 1  # this instance made only the second attempt


async def test_reload_turning_the_offer_on_reaches_callers_already_waiting(
        lab: Any, tmp_path: Path) -> None:
    cfg = centre(support={"assumed_aht_s": 300})
    h: Harness = await lab(cfg)
    await login(h, "a2")
    place(h, "8301", "2")
    await answer(h, "8301", "a2")
    place(h, "8302", "2", None)  # waits, about 5 minutes
    await until_waiting(h, "8302")
    assert not any(w.startswith("Read(ACD_CB_KEY") for w in heard(h, "8302"))
    cfg["queues"]["support"]["callback"] = CALLBACK
    await reload(h, tmp_path, cfg)
    await wait_for(lambda: any(w.startswith("Read(ACD_CB_KEY") for w in heard(h, "8302")),
                   15, "the offer after the reload")
    assert call_of(h, "8302").state is CallState.WAITING  # type: ignore[union-attr]
    assert not call_of(h, "8302").callback  # type: ignore[union-attr]  # no key pressed
