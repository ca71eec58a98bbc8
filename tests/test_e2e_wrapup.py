"""Issue 9 end to end (simulated PBX over TCP, real Redis): the call reason from the IVR, routing
by the authority a reason needs, and wrap-up codes from the API and from the phone in both
wrap-up modes. Also the lab the other issue-9 test files share (`reason_config`, `centre`)."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from acd.core.model import AgentState, CallState
from acd.pbxsim import AgentPhone, CallerSpec
from acd.store.base import interval_start
from acd.testing.harness import Harness, wait_for

from .test_e2e_callpath import call_of

TOKENS = {"view": "viewer", "boss": "supervisor"}
CODES = {"invoice": {"label": "Invoice explained", "digits": "1"},
         "refund_done": {"label": "Refund granted", "digits": "2"},
         "callback": {"label": "Call back later", "digits": "3"}}


def secret(name: str) -> str:
    return f"token-{name}-9a1f"


def reason_config(**queue_overrides: Any) -> dict[str, Any]:
    """Billing and support serve several reasons; refunds need refund authority level 2;
    supervisors is the escalation queue. Menu: 1 invoice, 2 refund, 3 outage (each to its
    reason's queue), 0 or nothing: support without a reason."""
    queue: dict[str, Any] = {"wrapup_s": 0.3, "ring_timeout_s": 5, "max_wait_s": 600,
                             "wrapup_codes": copy.deepcopy(CODES)}
    queue.update(queue_overrides)
    return {
        "pbx": {"name": "lab"},
        "http": {"port": 0, "snapshot_interval_s": 0.2, "tokens": [
            {"name": n, "role": r, "sha256": hashlib.sha256(secret(n).encode()).hexdigest()}
            for n, r in TOKENS.items()]},
        "queues": {
            "billing": {"skills": {"billing": 1}, "transfer_code": "20", **queue},
            "support": {"skills": {"support": 1}, "transfer_code": "30", **queue},
            "supervisors": {"skills": {"supervisor": 1}, "transfer_code": "90", **queue},
        },
        "escalation_queue": "supervisors",
        "reasons": {
            "invoice": {"label": "Invoice question", "queue": "billing"},
            "refund": {"label": "Refund", "skills": {"refund_authority": 2},
                       "queue": "billing"},
            "outage": {"label": "Outage", "queue": "support"},
        },
        "agents": {
            "a1": {"interface": "PJSIP/1001", "extension": "1001",
                   "skills": {"billing": 3, "support": 2}},
            "a2": {"interface": "PJSIP/1002", "extension": "1002",
                   "skills": {"billing": 2, "refund_authority": 2}},
            "a3": {"interface": "PJSIP/1003", "extension": "1003", "skills": {"support": 3}},
            "boss": {"interface": "PJSIP/1009", "extension": "1009",
                     "skills": {"supervisor": 5, "billing": 5, "support": 5,
                                "refund_authority": 5}, "queues": ["supervisors"]},
        },
        "flows": {"main": {
            "dnis": ["100"], "start": "menu", "escape_queue": "support",
            "nodes": {
                "menu": {"type": "menu", "prompt": "menu",
                         "options": {"1": "to_reason", "2": "refund", "3": "to_reason"},
                         "reasons": {"1": "invoice", "3": "outage"},
                         "timeout_s": 1.5, "retries": 0, "default": "to_support"},
                "refund": {"type": "set", "reason": "refund", "next": "to_reason"},
                "to_reason": {"type": "queue", "queue": "support", "use_reason_queue": True},
                "to_support": {"type": "queue", "queue": "support"},
            }}},
    }


@pytest.fixture
async def centre(redis_url: str) -> AsyncIterator[Callable[..., Any]]:
    """`await centre(cfg)`: the service on the issue-9 lab config (agents' phones answer
    only when told), with an HTTP API; stopped at the end."""
    started: list[Harness] = []

    async def make(cfg: dict[str, Any] | None = None) -> Harness:
        h = await Harness.start(cfg or reason_config(), redis_url, phone=lambda i, e: AgentPhone(
            interface=i, extension=e, answer_after_s=None, talk_s=None))
        started.append(h)
        return h

    yield make
    for h in started:
        await h.stop()


async def api(h: Harness, method: str, path: str, body: Any = None,
              who: str = "boss") -> tuple[int, Any]:
    url = f"http://127.0.0.1:{h.service.http_port}{path}"
    headers = {"Authorization": f"Bearer {secret(who)}"}
    async with aiohttp.ClientSession() as s, s.request(method, url, json=body,
                                                       headers=headers) as r:
        return r.status, await r.json()


async def login(h: Harness, *agent_ids: str) -> None:
    for agent_id in agent_ids:
        h.sim.dial_feature(h.cfg.agents[agent_id].extension, "*51")
        await wait_for(lambda a=agent_id: h.engine.agents[a].state is not
                       AgentState.LOGGED_OUT, 10, f"{agent_id} to log in")


QUEUED = (CallState.WAITING, CallState.RINGING, CallState.CONNECTED)


async def waiting(h: Harness, number: str, *inputs: str | None) -> str:
    """A caller keys `inputs` in the IVR and is queued (it may ring an agent at once)."""
    h.sim.place_call(CallerSpec(number=number, dnis="100", inputs=list(inputs)))
    await wait_for(lambda: (c := call_of(h, number)) is not None and c.state in QUEUED, 10,
                   f"{number} to be queued")
    call = call_of(h, number)
    assert call is not None
    return call.id


async def connect(h: Harness, number: str, agent_id: str) -> str:
    """The call from `number` rings `agent_id`, who answers; returns the call id."""
    iface = h.cfg.agents[agent_id].interface

    def ringing() -> bool:
        c = call_of(h, number)
        return (c is not None and c.state is CallState.RINGING and c.agent_id == agent_id
                and h.sim.pbx.phones[iface].channel is not None)

    await wait_for(ringing, 10, f"{number} to ring {agent_id}")
    h.sim.agent_answer(iface)
    await wait_for(lambda: (c := call_of(h, number)) is not None
                   and c.state is CallState.CONNECTED and c.agent_id == agent_id, 10,
                   f"{number} to talk to {agent_id}")
    call = call_of(h, number)
    assert call is not None
    return call.id


async def hang_up_agent(h: Harness, agent_id: str, state: AgentState = AgentState.WRAP_UP
                        ) -> None:
    h.sim.agent_hangup(h.cfg.agents[agent_id].interface)
    await wait_for(lambda: h.engine.agents[agent_id].state is state, 10,
                   f"{agent_id} to be {state.value}")


async def events(h: Harness, kind: str) -> list[dict[str, str]]:
    return [e for _, e in await h.engine.store.read_events() if e["type"] == kind]


async def interval(h: Harness, queue: str) -> dict[str, str]:
    """The queue's interval hash of now (the Lua scripts' counts)."""
    key = h.engine.store.keys.queue_interval(queue, interval_start(h.engine.now()))
    raw = await h.engine.store._r.hgetall(key)
    return {str(k): str(v) for k, v in raw.items()}


# --- reasons -------------------------------------------------------------------------------

async def test_menu_choice_records_the_reason_and_picks_its_queue(
        centre: Callable[..., Any]) -> None:
    h: Harness = await centre()
    await waiting(h, "7001", "1")
    await waiting(h, "7002", "2")
    await waiting(h, "7003", "3")
    await waiting(h, "7004", None)  # no choice: the menu's default, no reason
    got = {n: call_of(h, n) for n in ("7001", "7002", "7003", "7004")}
    assert {n: (c.reason, c.queue) for n, c in got.items() if c} == {
        "7001": ("invoice", "billing"), "7002": ("refund", "billing"),
        "7003": ("outage", "support"), "7004": ("", "support")}
    assert got["7002"].required == {"billing": 1, "refund_authority": 2}  # type: ignore[union-attr]
    stored = await h.engine.store.get_call(got["7001"].id)  # type: ignore[union-attr]
    assert stored is not None and stored.reason == "invoice"
    counts = await interval(h, "billing")
    assert counts["offered"] == "2"
    assert counts["r:invoice:offered"] == "1" and counts["r:refund:offered"] == "1"
    assert (await interval(h, "support"))["r:(none):offered"] == "1"


async def test_a_refund_goes_only_to_an_agent_with_refund_authority(
        centre: Callable[..., Any]) -> None:
    h: Harness = await centre()
    await login(h, "a1")  # billing 3, no authority
    refund = await waiting(h, "7101", "2")
    await waiting(h, "7102", "1")  # an invoice question, queued after the refund
    await connect(h, "7102", "a1")  # a1 skips the refund it may not take
    assert h.engine.calls[refund].state is CallState.WAITING
    await login(h, "a2")  # refund authority 2
    await connect(h, "7101", "a2")


# --- wrap-up codes ----------------------------------------------------------------------------

async def test_codes_from_the_api_then_done(centre: Callable[..., Any]) -> None:
    h: Harness = await centre(reason_config(wrapup_s=60))
    await login(h, "a1")
    await waiting(h, "7201", "1")
    call_id = await connect(h, "7201", "a1")
    status, body = await api(h, "POST", "/api/v1/agents/a1/wrapup", {"codes": ["invoice"]})
    assert status == 409 and body["code"] == "not_in_wrapup"  # still talking
    await hang_up_agent(h, "a1")
    status, body = await api(h, "POST", "/api/v1/agents/a1/wrapup", {"codes": ["nope"]})
    assert status == 400 and body["code"] == "bad_code" and "nope" in body["message"]
    status, body = await api(h, "POST", "/api/v1/agents/a1/wrapup",
                             {"codes": ["invoice", "callback"], "resolved": True})
    assert status == 200, body
    assert body == {"agent_id": "a1", "state": "wrap_up", "call_id": call_id,
                    "codes": ["invoice", "callback"], "resolved": True}
    assert h.engine.agents["a1"].state is AgentState.WRAP_UP  # timeout mode: not over yet
    status, body = await api(h, "POST", "/api/v1/agents/a1/wrapup", {"done": True},
                             who="view")
    assert status == 403
    status, body = await api(h, "POST", "/api/v1/agents/a1/wrapup", {"done": True})
    assert status == 200 and body["state"] == "ready" and body["call_id"] == ""
    assert body["codes"] == []  # this wrap-up is over: its codes are with the call now
    wrapped = await events(h, "call_wrapped")
    assert [(e["call"], json.loads(e["codes"]), e["resolved"]) for e in wrapped] == [
        (call_id, ["invoice", "callback"], "1")]
    stored = await h.engine.store.get_call(call_id)
    assert stored is not None
    assert [(w["agent"], w["codes"], w["resolved"], w["final"]) for w in stored.wrapups] == [
        ("a1", ["invoice", "callback"], True, True)]
    counts = await interval(h, "billing")
    assert counts["code:invoice"] == "1" and counts["code:callback"] == "1"
    assert counts["resolved"] == "1" and "unresolved" not in counts
    assert counts["r:invoice:code:invoice"] == "1" and counts["r:invoice:resolved"] == "1"
    assert float(counts["r:invoice:wrapup_sum_s"]) == pytest.approx(
        float(counts["wrapup_sum_s"]))


async def test_timeout_without_a_code_records_none(centre: Callable[..., Any]) -> None:
    h: Harness = await centre(reason_config(wrapup_s=0.3))
    await login(h, "a3")
    await waiting(h, "7301", "3")
    call_id = await connect(h, "7301", "a3")
    await hang_up_agent(h, "a3", AgentState.READY)  # the wrap-up times out by itself
    await wait_for(lambda: bool(h.engine.agents["a3"].state is AgentState.READY), 10, "ready")
    stored = await h.engine.store.get_call(call_id)
    assert stored is not None and [w["codes"] for w in stored.wrapups] == [["none"]]
    counts = await interval(h, "support")
    assert counts["code:none"] == "1" and counts["r:outage:code:none"] == "1"
    assert "resolved" not in counts and "unresolved" not in counts  # nothing was said


async def test_codes_from_the_phone(centre: Callable[..., Any]) -> None:
    h: Harness = await centre(reason_config(wrapup_s=60))
    await login(h, "a2")
    await waiting(h, "7401", "2")
    call_id = await connect(h, "7401", "a2")
    await hang_up_agent(h, "a2")
    h.sim.dial_feature("1002", "*55", "7#", "#")  # no such code: ignored ('#' ends a Read)
    h.sim.dial_feature("1002", "*55", "2#", "2")  # refund_done, not resolved
    await wait_for(lambda: h.engine.agents["a2"].wrap_codes == ["refund_done"], 10, "the code")
    assert h.engine.agents["a2"].wrap_resolved is False
    h.sim.dial_feature("1002", "*55", "3#", "#")  # callback too; resolved not said: unchanged
    await wait_for(lambda: h.engine.agents["a2"].wrap_codes == ["refund_done", "callback"], 10,
                   "the second code")
    h.sim.dial_feature("1002", "*53")  # unpause: the wrap-up ends (timeout mode)
    await wait_for(lambda: h.engine.agents["a2"].state is AgentState.READY, 10, "ready")
    stored = await h.engine.store.get_call(call_id)
    assert stored is not None
    assert [(w["codes"], w["resolved"]) for w in stored.wrapups] == [
        (["refund_done", "callback"], False)]
    counts = await interval(h, "billing")
    assert counts["r:refund:unresolved"] == "1" and counts["r:refund:code:callback"] == "1"


async def test_until_code_mode_waits_for_a_code(centre: Callable[..., Any]) -> None:
    h: Harness = await centre(reason_config(wrapup_s=0.05, wrapup_mode="until_code"))
    await login(h, "a3")
    await waiting(h, "7501", "3")
    call_id = await connect(h, "7501", "a3")
    await hang_up_agent(h, "a3")
    assert ("wrapup", "a3") not in h.engine._timers  # no time-out in this mode
    status, body = await api(h, "POST", "/api/v1/agents/a3/ready")
    assert status == 409 and body["code"] == "code_required"
    status, body = await api(h, "POST", "/api/v1/agents/a3/wrapup", {"done": True})
    assert status == 409 and body["code"] == "code_required"
    h.sim.dial_feature("1003", "*53")  # unpause from the phone: refused as well
    h.sim.dial_feature("1003", "*55", "1#", "1")  # a code: the wrap-up ends at once
    await wait_for(lambda: h.engine.agents["a3"].state is AgentState.READY, 10, "ready")
    kinds = [e["type"] for _, e in await h.engine.store.read_events()
             if e["type"] in ("wrapup_coded", "agent_state_changed")
             and e.get("agent") == "a3" and e.get("from_state", "wrap_up") == "wrap_up"]
    assert kinds == ["wrapup_coded", "agent_state_changed"]  # *53 changed nothing
    stored = await h.engine.store.get_call(call_id)
    assert stored is not None and [w["codes"] for w in stored.wrapups] == [["invoice"]]
    # A log-out still ends such a wrap-up, as "none".
    await waiting(h, "7502", "3")
    second = await connect(h, "7502", "a3")
    await hang_up_agent(h, "a3")
    status, _ = await api(h, "POST", "/api/v1/agents/a3/logout")
    assert status == 200
    stored = await h.engine.store.get_call(second)
    assert stored is not None and [w["codes"] for w in stored.wrapups] == [["none"]]
