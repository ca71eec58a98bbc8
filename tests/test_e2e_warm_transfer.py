"""Issue 9 end to end: warm transfers. The agent consults another agent (named, or the best
ready agent of a queue) while the caller hears music, then completes (the caller is bridged with
the agent consulted, the first agent wraps up) or cancels (the caller is back with the first
agent); also by hanging up, from the phone (*57, *58, *59), when the agent consulted does not
answer, and when the caller hangs up meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acd.core.model import AgentState, CallState
from acd.pbxsim.model import Channel
from acd.testing.harness import Harness, wait_for

from .test_e2e_callpath import call_of, truth_of
from .test_e2e_transfers import caller_holds, legs_of
from .test_e2e_wrapup import api, connect, events, interval, login, reason_config, waiting
from .test_e2e_wrapup import centre as centre  # the fixture, re-exported


def channel(h: Harness, uniqueid: str) -> Channel | None:
    return h.sim.pbx.find_channel(uniqueid)


def bridged_together(h: Harness, a: str, b: str) -> bool:
    """Channels with these Uniqueids are in one bridge."""
    ca, cb = channel(h, a), channel(h, b)
    return ca is not None and cb is not None and ca.bridge is not None and ca.bridge is cb.bridge


def leg_in(h: Harness, interface: str, context: str) -> bool:
    return any(c["context"] == context for c in legs_of(h, interface))


async def consulting(h: Harness, number: str, first: str, second: str,
                     target: dict[str, str]) -> str:
    """The call from `number` is with `first`, who starts a warm transfer to `target` (the
    API): the caller holds, `first`'s leg waits in acd-consult, `second` rings."""
    call_id = await waiting(h, number, "1")
    await connect(h, number, first)
    status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer",
                             {**target, "mode": "warm"})
    assert status == 200, body
    assert (body["state"], body["consult_agent"], body["agent_id"]) == (
        "consulting", second, first)
    assert h.engine.agents[second].state is AgentState.RESERVED
    await wait_for(lambda: caller_holds(h, call_id), 10, "the caller in its music")
    await wait_for(lambda: leg_in(h, h.cfg.agents[first].interface, "acd-consult"), 10,
                   f"{first}'s leg waiting in acd-consult")
    second_iface = h.cfg.agents[second].interface
    await wait_for(lambda: h.sim.pbx.phones[second_iface].channel is not None, 10,
                   f"{second}'s phone to ring")
    return call_id


async def answer_consult(h: Harness, call_id: str, first: str, second: str) -> None:
    h.sim.agent_answer(h.cfg.agents[second].interface)
    await wait_for(lambda: h.engine.agents[second].state is AgentState.ON_CALL, 10,
                   f"{second} to answer the consultation")
    call = h.engine.calls[call_id]
    await wait_for(lambda: bridged_together(h, call.leg_id, call.consult_leg), 10,
                   "the two agents to talk")
    assert h.engine.calls[call_id].consult_channel


async def test_warm_transfer_to_an_agent_completed(centre: Callable[..., Any]) -> None:
    h: Harness = await centre(reason_config(wrapup_s=30))
    await login(h, "a1", "a3")
    call_id = await consulting(h, "9101", "a1", "a3", {"agent": "a3"})
    first_leg = h.engine.calls[call_id].leg_id
    status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer", {"queue": "support"})
    assert status == 409 and body["code"] == "consult_in_progress"
    await answer_consult(h, call_id, "a1", "a3")
    assert h.engine.calls[call_id].state is CallState.CONNECTED  # still a1's meanwhile
    status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer/complete")
    assert status == 200, body
    assert (body["kind"], body["state"], body["agent_id"], body["transfers"]) == (
        "warm", "connected", "a3", 1)
    await wait_for(lambda: bridged_together(h, call_id, h.engine.calls[call_id].leg_id), 10,
                   "the caller bridged with a3")
    await wait_for(lambda: channel(h, first_leg) is None, 10, "a1's leg to hang up")
    assert h.engine.agents["a1"].state is AgentState.WRAP_UP
    caller = channel(h, call_id)
    assert caller is not None and caller.variables.get("ACD_DONE") == "1"
    assert truth_of(h, "9101")["agents"] == ["PJSIP/1001", "PJSIP/1003"]
    h.sim.agent_hangup("PJSIP/1003")  # a3 ends the call: the caller leaves its loop
    await wait_for(lambda: truth_of(h, "9101")["ended_at"] is not None, 10, "the caller's end")
    assert truth_of(h, "9101")["outcome"] == "answered"
    await wait_for(lambda: call_of(h, "9101") is None, 10, "the call's end")
    kinds = [e["type"] for _, e in await h.engine.store.read_events()
             if e["type"].startswith(("consult_", "call_transferred"))]
    assert kinds == ["consult_started", "consult_answered", "call_transferred"]
    billing = await interval(h, "billing")
    assert (billing["offered"], billing["answered"], billing["transferred"]) == ("1", "1", "1")
    assert (billing["transfers_in"], billing["transfers_in_answered"]) == ("1", "1")
    assert billing["handled"] == "2" and billing["r:invoice:handled"] == "1"


async def test_warm_transfer_cancelled_brings_the_caller_back(
        centre: Callable[..., Any]) -> None:
    h: Harness = await centre()
    await login(h, "a1", "a3")
    call_id = await consulting(h, "9201", "a1", "a3", {"agent": "a3"})
    await answer_consult(h, call_id, "a1", "a3")
    consult_leg = h.engine.calls[call_id].consult_leg
    status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer/cancel")
    assert status == 200, body
    assert (body["state"], body["agent_id"], body["consult_agent"], body["transfers"]) == (
        "connected", "a1", "", 0)
    await wait_for(lambda: channel(h, consult_leg) is None, 10, "a3's leg to hang up")
    await wait_for(lambda: bridged_together(h, call_id, h.engine.calls[call_id].leg_id), 10,
                   "the caller back with a1")
    assert h.engine.agents["a3"].state is AgentState.READY
    caller = channel(h, call_id)
    assert caller is not None and caller.variables.get("ACD_DONE") == "1"
    status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer/cancel")
    assert status == 409 and body["code"] == "no_consultation"
    h.sim.agent_hangup("PJSIP/1001")
    await wait_for(lambda: call_of(h, "9201") is None, 10, "the call's end")
    assert truth_of(h, "9201")["agents"] == ["PJSIP/1001", "PJSIP/1001"]
    (ended,) = await events(h, "consult_ended")
    assert (ended["result"], ended["to_agent"], ended["to_agent_state"]) == (
        "canceled", "a3", "ready")
    assert "transferred" not in await interval(h, "billing")


async def test_warm_transfer_to_a_queue_completed_while_it_rings(
        centre: Callable[..., Any]) -> None:
    h: Harness = await centre()
    await login(h, "a1", "a3")
    # the best ready agent of support (a3, support 3) is consulted
    call_id = await consulting(h, "9301", "a1", "a3", {"queue": "support"})
    status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer/complete")
    assert status == 200, body
    assert (body["state"], body["agent_id"], body["queue"]) == ("ringing", "a3", "support")
    await wait_for(lambda: not legs_of(h, "PJSIP/1001"), 10, "a1's leg to hang up")
    h.sim.agent_answer("PJSIP/1003")  # its Bridge() now joins the caller
    await wait_for(lambda: h.engine.calls[call_id].state is CallState.CONNECTED, 10,
                   "a3 to take the call")
    assert bridged_together(h, call_id, h.engine.calls[call_id].leg_id)
    support = await interval(h, "support")
    assert (support["transfers_in"], support["transfers_in_answered"]) == ("1", "1")
    assert "offered" not in support


async def test_hanging_up_during_the_consultation_completes_it(
        centre: Callable[..., Any]) -> None:
    h: Harness = await centre()
    await login(h, "a1", "a3")
    call_id = await consulting(h, "9401", "a1", "a3", {"agent": "a3"})
    await answer_consult(h, call_id, "a1", "a3")
    h.sim.agent_hangup("PJSIP/1001")  # "I'll put you through": a1 hangs up
    await wait_for(lambda: h.engine.calls[call_id].agent_id == "a3", 10, "the transfer")
    await wait_for(lambda: bridged_together(h, call_id, h.engine.calls[call_id].leg_id), 10,
                   "the caller bridged with a3")
    assert h.engine.agents["a1"].state is AgentState.WRAP_UP
    assert h.engine.calls[call_id].state is CallState.CONNECTED


async def test_no_answer_from_the_agent_consulted(centre: Callable[..., Any]) -> None:
    h: Harness = await centre(reason_config(ring_timeout_s=0.5))
    await login(h, "a1", "a3")
    call_id = await consulting(h, "9501", "a1", "a3", {"agent": "a3"})
    await wait_for(lambda: h.engine.agents["a3"].state is AgentState.NOT_READY, 10, "a3 RONA")
    assert h.engine.agents["a3"].reason == "rona"
    await wait_for(lambda: bridged_together(h, call_id, h.engine.calls[call_id].leg_id), 10,
                   "the caller back with a1")
    call = h.engine.calls[call_id]
    assert (call.agent_id, call.consult_agent, call.state) == ("a1", "", CallState.CONNECTED)


async def test_warm_transfer_from_the_phone(centre: Callable[..., Any]) -> None:
    h: Harness = await centre()
    await login(h, "a1", "a3")
    call_id = await waiting(h, "9601", "1")
    await connect(h, "9601", "a1")
    h.sim.dial_feature("1001", "*57", "30#")  # consult support's best agent: a3
    await wait_for(lambda: h.engine.calls[call_id].consult_agent == "a3", 10, "consultation")
    await wait_for(lambda: h.sim.pbx.phones["PJSIP/1003"].channel is not None, 10, "a3 rings")
    await answer_consult(h, call_id, "a1", "a3")
    h.sim.dial_feature("1001", "*59")  # cancel
    await wait_for(lambda: not h.engine.calls[call_id].consult_agent, 10, "cancel")
    await wait_for(lambda: bridged_together(h, call_id, h.engine.calls[call_id].leg_id), 10,
                   "the caller back with a1")
    await wait_for(lambda: h.engine.agents["a3"].state is AgentState.READY, 10, "a3 ready")
    h.sim.dial_feature("1001", "*57", "1003#")  # consult a3 by extension, then complete
    await wait_for(lambda: h.engine.calls[call_id].consult_agent == "a3", 10, "consultation")
    await wait_for(lambda: h.sim.pbx.phones["PJSIP/1003"].channel is not None, 10, "a3 rings")
    await answer_consult(h, call_id, "a1", "a3")
    h.sim.dial_feature("1001", "*58")
    await wait_for(lambda: h.engine.calls[call_id].agent_id == "a3", 10, "the transfer")
    await wait_for(lambda: bridged_together(h, call_id, h.engine.calls[call_id].leg_id), 10,
                   "the caller bridged with a3")


async def test_the_caller_hangs_up_during_the_consultation(
        centre: Callable[..., Any]) -> None:
    h: Harness = await centre()
    await login(h, "a1", "a3")
    call_id = await consulting(h, "9701", "a1", "a3", {"agent": "a3"})
    await answer_consult(h, call_id, "a1", "a3")
    caller = next(t["id"] for t in h.sim.truth() if t["number"] == "9701")
    h.sim.hangup_caller(caller)
    await wait_for(lambda: call_of(h, "9701") is None, 10, "the call's end")
    await wait_for(lambda: not legs_of(h, "PJSIP/1001") and not legs_of(h, "PJSIP/1003"), 10,
                   "both agent legs to hang up")
    assert h.engine.agents["a3"].state is AgentState.READY
    assert h.engine.agents["a1"].state in (AgentState.WRAP_UP, AgentState.READY)
    (ended,) = await events(h, "consult_ended")
    assert ended["result"] == "caller_gone"
    (done,) = await events(h, "call_ended")
    assert done["outcome"] == "answered"


async def test_hanging_up_while_the_one_consulted_rings_hands_the_call_over(
        centre: Callable[..., Any]) -> None:
    h: Harness = await centre()
    await login(h, "a1", "a3")
    call_id = await consulting(h, "9451", "a1", "a3", {"agent": "a3"})
    h.sim.agent_hangup("PJSIP/1001")  # before a3 answered
    await wait_for(lambda: h.engine.calls[call_id].agent_id == "a3", 10, "the transfer")
    assert h.engine.calls[call_id].state is CallState.RINGING
    assert caller_holds(h, call_id)  # the caller keeps its music meanwhile
    h.sim.agent_answer("PJSIP/1003")  # its Bridge() joins the caller, not a1's gone leg
    await wait_for(lambda: h.engine.calls[call_id].state is CallState.CONNECTED, 10,
                   "a3 to take the call")
    assert bridged_together(h, call_id, h.engine.calls[call_id].leg_id)
    assert truth_of(h, "9451")["agents"] == ["PJSIP/1001", "PJSIP/1003"]
