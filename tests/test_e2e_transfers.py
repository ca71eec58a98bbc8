"""Issue 9 end to end: blind transfers to a queue and to an agent, and escalation, through the
API and from the phone. The call keeps its data and its entry time, the caller goes back to
its music and on to the next agent, the first agent wraps up; each call is offered once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from acd.core.model import AgentState, CallState
from acd.testing.harness import Harness, wait_for

from .test_e2e_callpath import call_of, truth_of
from .test_e2e_wrapup import (
    api,
    connect,
    events,
    interval,
    login,
    reason_config,
    waiting,
)
from .test_e2e_wrapup import centre as centre  # the fixture, re-exported


def caller_holds(h: Harness, call_id: str) -> bool:
    """The caller's channel is back in the hold loop's music, out of any bridge."""
    return any(c["uniqueid"] == call_id and c["context"] == "acd-hold" and not c["bridged"]
               and c["application"] == "MusicOnHold" for c in h.sim.channels())


def legs_of(h: Harness, interface: str) -> list[dict[str, Any]]:
    return [c for c in h.sim.channels() if c["name"].startswith(interface + "-")]


async def test_blind_transfer_to_a_queue_keeps_data_and_entry_time(
        centre: Callable[..., Any]) -> None:
    h: Harness = await centre(reason_config(wrapup_s=30))  # a1 stays in wrap-up
    await login(h, "a1")
    first = await waiting(h, "7601", "1")  # invoice -> billing
    await connect(h, "7601", "a1")
    before = h.engine.calls[first]
    later = await waiting(h, "7602", None)  # support, arrives after the first call's entry
    status, body = await api(h, "POST", f"/api/v1/calls/{first}/transfer", {"queue": "support"})
    assert status == 200, body
    assert body == {"call_id": first, "kind": "blind", "state": "waiting", "queue": "support",
                    "agent_id": "", "consult_agent": "", "transfers": 1}
    call = h.engine.calls[first]
    assert call.state is CallState.WAITING and call.queue == "support"
    # its data and its original entry time: ahead of the call that came later
    assert (call.reason, call.ivr_path, call.entered_at) == (
        "invoice", before.ivr_path, before.entered_at)
    assert call.required == {"support": 1}
    assert await h.engine.store.waiting_ids("support") == [first, later]
    assert h.engine.agents["a1"].state is AgentState.WRAP_UP  # a1 is done with it
    await wait_for(lambda: caller_holds(h, first), 10, "the caller back in its music")
    await wait_for(lambda: not legs_of(h, "PJSIP/1001"), 10, "a1's leg to hang up")
    assert call_of(h, "7601") is not None  # the caller is still there
    status, body = await api(h, "POST", f"/api/v1/calls/{first}/transfer", {"queue": "billing"})
    assert status == 409 and body["code"] == "not_connected"  # waiting: nothing to transfer
    await login(h, "a3")
    await connect(h, "7601", "a3")
    assert truth_of(h, "7601")["agents"] == ["PJSIP/1001", "PJSIP/1003"]
    h.sim.agent_hangup("PJSIP/1003")
    await wait_for(lambda: truth_of(h, "7601")["ended_at"] is not None, 10, "the call's end")
    assert truth_of(h, "7601")["outcome"] == "answered"
    await wait_for(lambda: call_of(h, "7601") is None, 10, "the service to end the call")
    (moved,) = await events(h, "call_transferred")
    assert (moved["kind"], moved["from_queue"], moved["queue"], moved["agent"]) == (
        "blind", "billing", "support", "a1")
    billing, support = await interval(h, "billing"), await interval(h, "support")
    # offered once (in billing); support counts it as transferred in, and its answer there
    assert (billing["offered"], billing["answered"], billing["transferred"]) == ("1", "1", "1")
    assert support["offered"] == "1"  # the later call only
    assert (support["transfers_in"], support["transfers_in_answered"]) == ("1", "1")
    assert "answered" not in support
    assert billing["r:invoice:transferred"] == "1"
    assert support["r:invoice:handled"] == "1" and "r:invoice:handled" not in billing
    stored = await h.engine.store.get_call(first)
    assert stored is not None and len(stored.transfers) == 1
    assert stored.transfers[0]["from_agent"] == "a1" and stored.first_answered_at is not None


async def test_blind_transfer_to_an_agent_rings_it(centre: Callable[..., Any]) -> None:
    h: Harness = await centre()
    await login(h, "a1")
    call_id = await waiting(h, "7701", "1")
    await connect(h, "7701", "a1")
    status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer", {"agent": "a3"})
    assert status == 409 and body["code"] == "agent_not_ready"  # a3 is logged out
    status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer", {"agent": "a1"})
    assert status == 409 and body["code"] == "same_agent"
    await login(h, "a3")
    status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer", {"agent": "a3"})
    assert status == 200, body
    assert (body["state"], body["agent_id"], body["queue"]) == ("ringing", "a3", "billing")
    assert h.engine.agents["a3"].state is AgentState.RESERVED
    await connect(h, "7701", "a3")
    assert truth_of(h, "7701")["agents"] == ["PJSIP/1001", "PJSIP/1003"]
    billing = await interval(h, "billing")
    assert (billing["transferred"], billing["transfers_in"],
            billing["transfers_in_answered"], billing["answered"]) == ("1", "1", "1", "1")


async def test_ring_no_answer_after_a_transfer_to_an_agent_requeues(
        centre: Callable[..., Any]) -> None:
    h: Harness = await centre(reason_config(ring_timeout_s=0.5))
    await login(h, "a1", "a3")
    call_id = await waiting(h, "7751", "3")  # outage -> support: a3 (support 3) before a1
    await connect(h, "7751", "a3")
    status, _ = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer", {"agent": "a1"})
    assert status == 200
    await wait_for(lambda: h.engine.agents["a1"].state is AgentState.NOT_READY, 10, "a1 RONA")
    await wait_for(lambda: h.engine.calls[call_id].state is CallState.WAITING, 10, "requeue")
    assert h.engine.calls[call_id].queue == "support"
    await wait_for(lambda: caller_holds(h, call_id), 10, "the caller in its music")


async def test_escalation_goes_to_the_supervisors(centre: Callable[..., Any]) -> None:
    h: Harness = await centre()
    await login(h, "a2")
    call_id = await waiting(h, "7801", "2")  # a refund: a2 has the authority
    await connect(h, "7801", "a2")
    status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/escalate")
    assert status == 200, body
    assert (body["kind"], body["queue"], body["state"]) == ("escalation", "supervisors",
                                                            "waiting")
    call = h.engine.calls[call_id]
    assert call.required == {"supervisor": 1} and call.reason == "refund"
    await login(h, "a1")  # billing agents do not serve the supervisors' queue
    await login(h, "boss")
    await connect(h, "7801", "boss")
    (moved,) = await events(h, "call_transferred")
    assert moved["kind"] == "escalation"


async def test_transfers_from_the_phone(centre: Callable[..., Any]) -> None:
    h: Harness = await centre()
    await login(h, "a1", "a3")
    call_id = await waiting(h, "7901", "1")  # invoice -> billing: a1
    await connect(h, "7901", "a1")
    h.sim.dial_feature("1001", "*56", "77#")  # no such target: ignored
    h.sim.dial_feature("1001", "*56", "1003#")  # a3's extension: to the agent
    await wait_for(lambda: h.engine.calls[call_id].agent_id == "a3", 10, "a ring of a3")
    await connect(h, "7901", "a3")
    h.sim.dial_feature("1003", "*56", "20#")  # billing's transfer code: to the queue
    await wait_for(lambda: h.engine.calls[call_id].state is not CallState.CONNECTED, 10,
                   "the transfer to billing")
    await wait_for(lambda: h.engine.agents["a1"].state is not AgentState.WRAP_UP, 10,
                   "a1's wrap-up to end")
    await connect(h, "7901", "a1")
    h.sim.dial_feature("1001", "*50")  # escalate
    await wait_for(lambda: h.engine.calls[call_id].queue == "supervisors", 10, "escalation")
    kinds = [(e["kind"], e["queue"], e.get("to_agent", "")) for e in
             await events(h, "call_transferred")]
    assert kinds == [("blind", "billing", "a3"), ("blind", "billing", ""),
                     ("escalation", "supervisors", "")]
    stored = await h.engine.store.get_call(call_id)
    assert stored is not None and [t["to_queue"] for t in stored.transfers] == [
        "billing", "billing", "supervisors"]
    billing = await interval(h, "billing")
    assert billing["offered"] == "1" and billing["transferred"] == "3"
    assert billing["r:invoice:transferred"] == "1"  # one call, transferred three times


async def test_figures_by_reason_on_the_api(centre: Callable[..., Any]) -> None:
    from acd.stats.reason_schema import ReasonHistoryOut, ReasonsOut, ReasonTrendsOut

    h: Harness = await centre()
    await login(h, "a1")
    await waiting(h, "8001", "1")  # invoice -> billing: a1
    await connect(h, "8001", "a1")
    await waiting(h, "8002", "2")  # refund: waits (a1 is busy)
    await waiting(h, "8003", None)  # no reason, support: waits
    by_name: dict[str, Any] = {}

    async def current() -> bool:
        status, body = await api(h, "GET", "/api/v1/reasons", who="view")
        assert status == 200, body
        ReasonsOut.model_validate(body)
        by_name.clear()
        by_name.update({r["name"]: r for r in body["reasons"]})
        return (by_name["refund"]["waiting"], by_name["invoice"]["connected"],
                by_name["(none)"]["waiting"]) == (1, 1, 1)

    for _ in range(100):  # the next snapshot shows them
        if await current():
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the reasons never showed the calls: {by_name}")
    assert list(by_name) == ["invoice", "refund", "outage", "(none)"]
    assert by_name["refund"]["label"] == "Refund"
    assert [by_name[n]["today"]["offered"] for n in by_name] == [1, 1, 0, 1]
    assert by_name["invoice"]["today"]["answered"] == 1
    assert by_name["(none)"]["waiting"] == 1

    status, body = await api(h, "GET", "/api/v1/reasons/history?reason=refund", who="view")
    assert status == 200, body
    history = ReasonHistoryOut.model_validate(body)
    assert [(r.reason, r.figures.offered) for r in history.rows] == [("refund", 1)]
    status, body = await api(h, "GET", "/api/v1/reasons/history?step=day", who="view")
    assert status == 200 and body["step"] == "day"
    assert sorted((r["reason"], r["figures"]["offered"]) for r in body["rows"]) == [
        ("(none)", 1), ("invoice", 1), ("refund", 1)]
    status, body = await api(h, "GET", "/api/v1/reasons/history?step=week", who="view")
    assert status == 400 and body["field"] == "step"
    status, body = await api(h, "GET", "/api/v1/reasons/history?reason=nosuch", who="view")
    assert status == 404 and body["code"] == "not_found"
    status, body = await api(h, "GET", "/api/v1/reasons/trends", who="view")
    assert status == 200
    trends = ReasonTrendsOut.model_validate(body)
    week = {t.name: (t.this_week, t.last_week) for t in trends.reasons}
    assert week["refund"] == (1, 0) and week["invoice"] == (1, 0) and week["outage"] == (0, 0)
