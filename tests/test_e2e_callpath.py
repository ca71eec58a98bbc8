"""End to end: the real service, attached over TCP to the simulated PBX, with a real Redis.

Agents' phones answer only when a test says so (answer_after_s=None), so every step is a
condition the test waits for, never a fixed sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acd.core.model import AgentState, Call, CallOutcome, CallState
from acd.pbxsim import AgentPhone, CallerSpec
from acd.testing.harness import Harness, wait_for

MENU = {"type": "menu", "prompt": "menu", "options": {"1": "to_sales", "2": "to_support",
                                                       "3": "spanish"},
        "timeout_s": 1.5, "retries": 1, "invalid_prompt": "invalid", "default": "to_support"}


def config(**queue_overrides: Any) -> dict[str, Any]:
    queue = {"wrapup_s": 0.2, "ring_timeout_s": 5, "max_wait_s": 600}
    queue.update(queue_overrides)
    return {
        "pbx": {"name": "lab"},
        "queues": {"sales": {"skills": {"sales": 1}, **queue},
                   "support": {"skills": {"support": 1}, **queue}},
        "agents": {
            "a1": {"interface": "PJSIP/1001", "extension": "1001",
                   "skills": {"sales": 3, "support": 2, "lang_en": 5}},
            "a2": {"interface": "PJSIP/1002", "extension": "1002",
                   "skills": {"support": 5, "lang_es": 5}},
            "a3": {"interface": "PJSIP/1003", "extension": "1003",
                   "skills": {"sales": 2}},
        },
        "vip": {"numbers": ["999"]},
        "flows": {"main": {
            "dnis": ["100"], "start": "vipcheck", "escape_queue": "support",
            "nodes": {
                "vipcheck": {"type": "vip", "vip": "menu", "normal": "menu"},
                "menu": MENU,
                "spanish": {"type": "set", "language": "es", "skills": {"lang_es": 1},
                            "next": "to_support"},
                "to_sales": {"type": "queue", "queue": "sales"},
                "to_support": {"type": "queue", "queue": "support"},
            }}},
    }


def manual_phone(iface: str, ext: str) -> AgentPhone:
    return AgentPhone(interface=iface, extension=ext, answer_after_s=None, talk_s=None)


def call_of(h: Harness, number: str) -> Call | None:
    return next((c for c in h.engine.calls.values() if c.caller_num == number), None)


def truth_of(h: Harness, number: str) -> dict[str, Any]:
    return next(t for t in h.sim.truth() if t["number"] == number)


async def place(h: Harness, number: str, *inputs: str | None) -> str:
    return h.sim.place_call(CallerSpec(number=number, dnis="100", inputs=list(inputs)))


async def until_waiting(h: Harness, number: str) -> Call:
    await wait_for(lambda: (c := call_of(h, number)) is not None
                   and c.state is CallState.WAITING, 10, f"call from {number} to wait")
    call = call_of(h, number)
    assert call is not None
    return call


async def login(h: Harness, agent_id: str) -> None:
    ext = h.cfg.agents[agent_id].extension
    h.sim.dial_feature(ext, "*51")
    await wait_for(lambda: h.engine.agents[agent_id].state is not AgentState.LOGGED_OUT, 10,
                   f"{agent_id} to log in")


async def rings(h: Harness, number: str, agent_id: str) -> Call:
    def ringing() -> bool:
        c = call_of(h, number)
        return c is not None and c.state is CallState.RINGING and c.agent_id == agent_id

    await wait_for(ringing, 10, f"call from {number} to ring {agent_id}")
    iface = h.cfg.agents[agent_id].interface
    await wait_for(lambda: h.sim.pbx.phones[iface].channel is not None, 10, f"{iface} rings")
    call = call_of(h, number)
    assert call is not None
    return call


async def answer(h: Harness, number: str, agent_id: str) -> None:
    await rings(h, number, agent_id)
    h.sim.agent_answer(h.cfg.agents[agent_id].interface)
    await wait_for(lambda: (c := call_of(h, number)) is not None
                   and c.state is CallState.CONNECTED, 10, f"{number} connected")


async def test_vip_caller_overtakes_normal_callers(lab: Callable[..., Any]) -> None:
    h: Harness = await lab()
    await place(h, "5001", "2")
    await until_waiting(h, "5001")
    await place(h, "5002", "2")
    await until_waiting(h, "5002")
    await place(h, "999", "2")
    vip = await until_waiting(h, "999")
    assert vip.vip and vip.priority > 0
    assert await h.engine.store.waiting_ids("support") == [
        vip.id, call_of(h, "5001").id, call_of(h, "5002").id]  # type: ignore[union-attr]
    await login(h, "a2")
    await answer(h, "999", "a2")
    assert truth_of(h, "999")["agent"] == "PJSIP/1002"
    assert call_of(h, "5001").state is CallState.WAITING  # type: ignore[union-attr]


async def test_skilled_call_waits_while_other_calls_flow(lab: Callable[..., Any]) -> None:
    h: Harness = await lab()
    await login(h, "a2")
    await place(h, "6001", "2")  # support: a2 is the better match
    await answer(h, "6001", "a2")
    await login(h, "a1")
    await place(h, "6002", "3")  # Spanish support: only a2 speaks Spanish
    spanish = await until_waiting(h, "6002")
    assert spanish.required == {"support": 1, "lang_es": 1}
    await place(h, "6003", "2")  # plain support flows to a1 meanwhile
    await answer(h, "6003", "a1")
    assert call_of(h, "6002").state is CallState.WAITING  # type: ignore[union-attr]
    h.sim.agent_hangup("PJSIP/1002")  # a2 ends its call, wraps up, then takes the Spanish call
    await wait_for(lambda: call_of(h, "6001") is None, 10, "first call to end")
    await answer(h, "6002", "a2")


async def test_agent_on_two_queues_takes_higher_priority_then_longest_wait(
        lab: Callable[..., Any]) -> None:
    h: Harness = await lab()
    await place(h, "7001", "1")  # sales, waits longest
    await until_waiting(h, "7001")
    await place(h, "7002", "2")  # support
    await until_waiting(h, "7002")
    await place(h, "999", "2")  # support, VIP, arrives last
    await until_waiting(h, "999")
    await login(h, "a1")  # serves sales and support
    await answer(h, "999", "a1")
    h.sim.agent_hangup("PJSIP/1001")
    await answer(h, "7001", "a1")  # then the longest waiting, across both queues
    assert call_of(h, "7002").state is CallState.WAITING  # type: ignore[union-attr]


async def test_ring_no_answer_requeues_at_old_position(lab: Callable[..., Any]) -> None:
    h: Harness = await lab(config(ring_timeout_s=0.5))
    await place(h, "8001", "2")
    first = await until_waiting(h, "8001")
    await place(h, "8002", "2")
    second = await until_waiting(h, "8002")
    await login(h, "a2")
    await rings(h, "8001", "a2")
    # a2 never answers: after the ring timeout a2 goes not ready and the call gets its place back
    await wait_for(lambda: h.engine.agents["a2"].state is AgentState.NOT_READY, 10, "RONA")
    assert h.engine.agents["a2"].reason == "rona"
    await wait_for(lambda: call_of(h, "8001").state is CallState.WAITING, 10, "requeue")  # type: ignore[union-attr]
    assert await h.engine.store.waiting_ids("support") == [first.id, second.id]
    requeued = call_of(h, "8001")
    assert requeued is not None and requeued.entered_at == first.entered_at
    assert requeued.rona_count == 1
    await login(h, "a1")
    await answer(h, "8001", "a1")
    assert truth_of(h, "8001")["agent"] == "PJSIP/1001"


async def test_abandon_during_ivr_and_during_wait(lab: Callable[..., Any]) -> None:
    h: Harness = await lab()
    in_ivr = await place(h, "9001")  # presses nothing: the menu waits for input
    await wait_for(lambda: call_of(h, "9001") is not None, 10, "IVR call")
    h.sim.hangup_caller(in_ivr)
    waiting = await place(h, "9002", "1")
    await until_waiting(h, "9002")
    h.sim.hangup_caller(waiting)
    await wait_for(lambda: not h.engine.calls, 10, "both calls to end")
    ended = {e["call"]: e for _, e in await h.engine.store.read_events()
             if e["type"] == "call_ended"}
    outcomes = sorted(e["outcome"] for e in ended.values())
    assert outcomes == [CallOutcome.ABANDONED.value, CallOutcome.IVR_HANGUP.value]
    assert {t["outcome"] for t in h.sim.truth()} == {"abandoned"}


async def test_agent_hangs_up_first(lab: Callable[..., Any]) -> None:
    h: Harness = await lab()
    await login(h, "a3")
    await place(h, "4001", "1")
    await answer(h, "4001", "a3")
    h.sim.agent_hangup("PJSIP/1003")
    await wait_for(lambda: call_of(h, "4001") is None, 10, "call to end")
    # The caller came back from the bridge, saw ACD_DONE and was hung up by the dialplan.
    await wait_for(lambda: truth_of(h, "4001")["ended_at"] is not None, 10, "caller hung up")
    assert truth_of(h, "4001")["outcome"] == "answered"
    assert h.engine.agents["a3"].state in (AgentState.WRAP_UP, AgentState.READY)
    await wait_for(lambda: h.engine.agents["a3"].state is AgentState.READY, 10, "wrap-up end")
    events = [e for _, e in await h.engine.store.read_events()]
    assert len([e for e in events if e["type"] == "call_answered"]) == 1
    assert [e["ended_by"] for e in events if e["type"] == "call_ended"] == ["agent"]


async def test_ami_connection_dropped_and_restored_mid_call(lab: Callable[..., Any]) -> None:
    h: Harness = await lab()
    await login(h, "a3")
    await place(h, "3001", "1")
    await answer(h, "3001", "a3")
    await place(h, "3002", "1")
    await until_waiting(h, "3002")
    connects = h.engine.link.connects
    h.sim.drop_ami_connections()
    await wait_for(lambda: h.engine.link.connects > connects and h.engine.routing_enabled, 15,
                   "reconnect and resync")
    assert call_of(h, "3001").state is CallState.CONNECTED  # type: ignore[union-attr]
    assert call_of(h, "3002").state is CallState.WAITING  # type: ignore[union-attr]
    h.sim.agent_hangup("PJSIP/1003")
    await answer(h, "3002", "a3")  # routing goes on after the resync
    ended = [e for _, e in await h.engine.store.read_events() if e["type"] == "call_ended"]
    assert [e["outcome"] for e in ended] == ["answered"]


async def test_ivr_menu_invalid_input_then_timeout_goes_to_default(
        lab: Callable[..., Any]) -> None:
    h: Harness = await lab()
    h.sim.record_events = True
    await place(h, "2001", "7", None)  # 7 is no option; then nothing (timeout)
    call = await until_waiting(h, "2001")
    assert call.queue == "support"  # the menu's default once retries ran out
    commands = [hd.get("Command", "") for ev, hd in
                ((e, dict(hh)) for e, hh in h.sim.events) if ev == "AGIExecStart"]
    assert any(c.startswith("STREAM FILE invalid") for c in commands), commands
    assert sum(c.startswith("GET DATA menu") for c in commands) == 2, commands


async def test_feature_codes_drive_agent_states(lab: Callable[..., Any]) -> None:
    h: Harness = await lab()
    await login(h, "a1")
    assert h.engine.agents["a1"].state is AgentState.READY
    h.sim.dial_feature("1001", "*52", digits="3")
    await wait_for(lambda: h.engine.agents["a1"].state is AgentState.NOT_READY, 10, "pause")
    assert h.engine.agents["a1"].reason == "code 3"
    h.sim.dial_feature("1001", "*53")
    await wait_for(lambda: h.engine.agents["a1"].state is AgentState.READY, 10, "unpause")
    h.sim.dial_feature("1001", "*54")
    await wait_for(lambda: h.engine.agents["a1"].state is AgentState.LOGGED_OUT, 10, "logout")


async def test_max_wait_hands_the_caller_to_the_pbx_queue(lab: Callable[..., Any]) -> None:
    h: Harness = await lab(config(max_wait_s=0.5))
    caller = await place(h, "1501", "1")
    await wait_for(lambda: any(c["context"] == "acd-fallback" and c["application"] == "Queue"
                               for c in h.sim.channels()), 10, "the caller in Queue()")
    h.sim.hangup_caller(caller)
    await wait_for(lambda: truth_of(h, "1501")["outcome"] == "fallback", 10, "fallback")
    await wait_for(lambda: not h.engine.calls, 10, "the service to close the call")
    ended = [e for _, e in await h.engine.store.read_events() if e["type"] == "call_ended"]
    assert [e["outcome"] for e in ended] == ["timeout"]


async def test_service_restart_finds_every_call_again(lab: Callable[..., Any]) -> None:
    h: Harness = await lab()
    await login(h, "a3")
    await place(h, "1101", "1")
    await answer(h, "1101", "a3")
    await place(h, "1102", "1")
    waiting = await until_waiting(h, "1102")
    gone = await place(h, "1103", "2")
    await until_waiting(h, "1103")
    await h.service.stop()
    h.sim.hangup_caller(gone)  # ends while nobody watches
    await h.restart_service()
    assert call_of(h, "1101").state is CallState.CONNECTED  # type: ignore[union-attr]
    again = call_of(h, "1102")
    assert again is not None and again.entered_at == waiting.entered_at
    assert call_of(h, "1103") is None
    h.sim.agent_hangup("PJSIP/1003")
    await answer(h, "1102", "a3")
    events = [e for _, e in await h.engine.store.read_events()]
    ended = sorted((e["call"], e["outcome"]) for e in events if e["type"] == "call_ended")
    assert [o for _, o in ended].count("answered") == 1
    assert [o for _, o in ended].count("abandoned") == 1
    assert sum(e["type"] == "call_answered" for e in events) == 2


async def test_closed_hours_play_the_closed_message_and_hang_up(
        lab: Callable[..., Any]) -> None:
    import time as _time

    today = _time.strftime("%Y-%m-%d", _time.gmtime())
    cfg = config()
    cfg["hours"] = {"office": {"timezone": "UTC", "weekly": {"mon": ["00:00-23:59"]},
                               "holidays": [today]}}
    cfg["flows"]["main"]["start"] = "hours"
    cfg["flows"]["main"]["nodes"]["hours"] = {"type": "hours", "hours": "office",
                                              "open": "vipcheck", "closed": "closed"}
    cfg["flows"]["main"]["nodes"]["closed"] = {"type": "hangup", "prompt": "closed"}
    h: Harness = await lab(cfg)
    h.sim.record_events = True
    await place(h, "1201", "1")
    await wait_for(lambda: truth_of(h, "1201")["ended_at"] is not None, 10, "hung up")
    assert truth_of(h, "1201")["outcome"] == "ended_by_pbx"
    commands = [dict(hh).get("Command", "") for ev, hh in h.sim.events if ev == "AGIExecStart"]
    assert commands[0].startswith("STREAM FILE closed") and commands[-1] == "HANGUP"
    await wait_for(lambda: not h.engine.calls, 10, "call closed")
    ended = [e for _, e in await h.engine.store.read_events() if e["type"] == "call_ended"]
    assert [e["outcome"] for e in ended] == ["closed"]


async def test_escape_digit_reaches_an_agent_from_the_menu(lab: Callable[..., Any]) -> None:
    h: Harness = await lab()
    await place(h, "1301", "0")  # "press 0 for an agent"
    call = await until_waiting(h, "1301")
    assert call.queue == "support"


async def test_heartbeat_and_fallback_queue_are_set_in_the_pbx(lab: Callable[..., Any]) -> None:
    cfg = config()
    cfg["pbx"]["fallback_queue"] = "overflow"
    h: Harness = await lab(cfg)
    await wait_for(lambda: h.sim.pbx.globals.get("ACD_FALLBACK_QUEUE") == "overflow", 10,
                   "the fallback queue global")
    beat = float(h.sim.pbx.globals["ACD_HEARTBEAT"])
    assert abs(beat - h.engine.now()) < 10
