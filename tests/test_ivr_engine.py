"""IVR engine rules on small flows: node types, guards, state handling."""

from __future__ import annotations

import json
from typing import Any

import pytest

from acd.core import ivr
from acd.core.agi import parse_agi_result
from acd.core.ivr import (
    MAX_HOPS,
    MAX_STEPS,
    Agi,
    Awaiting,
    EndCall,
    IvrState,
    IvrStateError,
    LookupVip,
    ToQueue,
)
from acd.core.ivr_state import merge_skills
from tests.test_ivr_helpers import NOW, Call, small_config

MENU = {"type": "menu", "prompt": "m", "options": {"1": "q"}, "retries": 1}
QUEUE = {"type": "queue", "queue": "q"}


def test_play_then_queue_with_skills_merged() -> None:
    cfg = small_config({
        "a": {"type": "play", "prompt": "hello", "next": "s"},
        "s": {"type": "set", "skills": {"x": 4, "y": 1}, "next": "s2"},
        "s2": {"type": "set", "skills": {"x": 1, "y": 3}, "next": "q"},
        "q": QUEUE,
    }, escape_digit=None)
    call = Call(cfg, flow="f")
    assert call.last == Agi('STREAM FILE hello ""')  # no escape: no escape digit
    assert call.agi("200 result=0 endpos=100\n") == ToQueue("q", 0, {"x": 4, "y": 3}, "", False)
    assert call.path == ["a", "s", "s2", "q"]


def test_play_escape_digit() -> None:
    cfg = small_config({"a": {"type": "play", "prompt": "hi", "next": "q"}, "q": QUEUE},
                       escape_digit="#", escape_queue="support")
    call = Call(cfg, flow="f")
    assert call.last == Agi("STREAM FILE hi #")
    assert call.agi("200 result=35 endpos=10\n") == ToQueue("support", 0, {}, "", False)


@pytest.mark.parametrize(("flow", "digit", "expected"), [
    ({"escape_queue": "support"}, "0", ToQueue("support", 0, {}, "", False)),
    ({}, "0", Agi("STREAM FILE invalid \"\"")),  # no escape queue: just an invalid digit
    ({"escape_queue": "support", "escape_digit": None}, "0", Agi('STREAM FILE invalid ""')),
])
def test_escape_needs_digit_and_queue(flow: dict[str, Any], digit: str, expected: Any) -> None:
    cfg = small_config({"a": MENU, "q": QUEUE}, **flow)
    assert Call(cfg, flow="f").agi(f"200 result={digit}\n") == expected


def test_escape_digit_that_is_an_option_is_the_option() -> None:
    menu = {**MENU, "options": {"0": "q"}}
    cfg = small_config({"a": menu, "q": QUEUE}, escape_queue="support")
    assert Call(cfg, flow="f").agi("200 result=0\n") == ToQueue("q", 0, {"x": 2}, "", False)


def test_menu_without_default_ends_no_input_and_uses_timeout_prompt() -> None:
    menu = {**MENU, "timeout_prompt": "still-there", "timeout_s": 2.5}
    call = Call(small_config({"a": menu, "q": QUEUE}), flow="f")
    assert call.last == Agi("GET DATA m 2500 1")
    assert call.agi("200 result= (timeout)\n") == Agi('STREAM FILE still-there ""')
    assert call.agi("200 result=0 endpos=1\n") == Agi("GET DATA m 2500 1")
    assert call.agi("200 result= (timeout)\n") == EndCall("no_input", "")


def test_empty_invalid_prompt_asks_again_at_once() -> None:
    call = Call(small_config({"a": {**MENU, "invalid_prompt": ""}, "q": QUEUE}), flow="f")
    assert call.agi("200 result=5\n") == Agi("GET DATA m 5000 1")


def test_collect_without_on_fail_ends_no_input() -> None:
    cfg = small_config({"a": {"type": "collect", "prompt": "p", "variable": "pin",
                              "min_digits": 4, "max_digits": 4, "retries": 0, "next": "q"},
                        "q": QUEUE})
    call = Call(cfg, flow="f")
    assert call.last == Agi("GET DATA p 6000 4")
    assert call.agi("200 result=12 (timeout)\n") == EndCall("no_input", "")


def test_hours_node_and_hangup_node() -> None:
    nodes = {"a": {"type": "hours", "hours": "h", "open": "q", "closed": "bye"},
             "q": QUEUE, "bye": {"type": "hangup"}}
    cfg = small_config(nodes)
    assert Call(cfg, flow="f").last == ToQueue("q", 0, {"x": 2}, "", False)  # Wed 12:00 UTC
    assert Call(cfg, flow="f", now=NOW + 7 * 3600).last == EndCall("bye", "")


def test_vip_lookup_passes_account_and_sets_priority() -> None:
    nodes = {"a": {"type": "vip", "vip": "q", "normal": "bye"}, "q": QUEUE,
             "bye": {"type": "hangup", "prompt": "sorry"}}
    call = Call(small_config(nodes), flow="f", caller="42")
    assert call.last == LookupVip("42", "")
    assert call.vip(True) == ToQueue("q", 7, {"x": 2}, "", True)
    call = Call(small_config(nodes), flow="f", caller="42")
    assert call.vip(False) == EndCall("bye", "sorry")


def test_set_loop_is_cut() -> None:
    cfg = small_config({"a": {"type": "set", "next": "b"}, "b": {"type": "set", "next": "a"}})
    call = Call(cfg, flow="f")
    assert call.last == EndCall("flow_loop", "")
    assert len(call.path) == MAX_HOPS


def test_vip_loop_without_agi_is_cut() -> None:
    cfg = small_config({"a": {"type": "vip", "vip": "a", "normal": "a"}})
    call = Call(cfg, flow="f")
    for _ in range(MAX_HOPS - 1):
        assert isinstance(call.vip(False), LookupVip)
    assert call.vip(True) == EndCall("flow_loop", "")


def test_menu_loop_hits_the_step_limit() -> None:
    cfg = small_config({"a": {**MENU, "options": {"1": "a"}}})
    call = Call(cfg, flow="f")
    for _ in range(MAX_STEPS - 1):
        assert call.agi("200 result=1\n") == Agi("GET DATA m 5000 1")
    assert call.agi("200 result=1\n") == EndCall("step_limit", "")
    assert call.state.steps == MAX_STEPS


def test_play_vip_loop_hits_the_step_limit() -> None:
    cfg = small_config({"a": {"type": "play", "prompt": "p", "next": "b"},
                        "b": {"type": "vip", "vip": "a", "normal": "a"}})
    call = Call(cfg, flow="f")
    for _ in range(MAX_STEPS // 2 - 1):
        assert isinstance(call.agi("200 result=0 endpos=1\n"), LookupVip)
        assert isinstance(call.vip(False), Agi)
    assert isinstance(call.agi("200 result=0 endpos=1\n"), LookupVip)
    assert call.vip(False) == EndCall("step_limit", "")


def test_agi_error_and_unknown_flow() -> None:
    cfg = small_config({"a": MENU, "q": QUEUE})
    assert Call(cfg, flow="f").agi("510 Invalid or unknown command\n") == EndCall("agi_error")
    assert ivr.start(cfg, "nope", "1", NOW)[1] == [EndCall("flow_error")]


def test_config_reload_under_a_call_ends_it() -> None:
    call = Call(small_config({"a": MENU, "q": QUEUE}), flow="f")
    other = small_config({"b": QUEUE}, start="b")
    _, cmds = ivr.on_agi_result(other, call.state, parse_agi_result("200 result=1"), NOW)
    assert cmds == [EndCall("flow_error")]
    changed = small_config({"a": {"type": "play", "prompt": "p", "next": "a"}})
    _, cmds = ivr.on_agi_result(changed, call.state, parse_agi_result("200 result=1"), NOW)
    assert cmds == [EndCall("flow_error")]  # awaited GET DATA, now a play node


def test_results_out_of_turn_raise() -> None:
    cfg = small_config({"a": MENU, "q": QUEUE})
    call = Call(cfg, flow="f")
    with pytest.raises(IvrStateError):
        ivr.on_vip_result(cfg, call.state, True, NOW)
    call.agi("200 result=1\n")
    with pytest.raises(IvrStateError):
        ivr.on_agi_result(cfg, call.state, parse_agi_result("200 result=1"), NOW)


def test_steps_leave_the_given_state_untouched() -> None:
    cfg = small_config({"a": MENU, "q": QUEUE})
    state, _ = ivr.start(cfg, "f", "1", NOW)
    before = state.to_dict()
    ivr.on_agi_result(cfg, state, parse_agi_result("200 result=7"), NOW)
    ivr.on_agi_result(cfg, state, parse_agi_result("200 result=1"), NOW)
    assert state.to_dict() == before


def test_state_json_round_trip() -> None:
    state = IvrState(flow="f", node="a", attempts=1, data={"account": "0042"}, path=["a"],
                     language="es", skills={"x": 3}, vip=True, priority=10,
                     awaiting=Awaiting.INPUT, caller_num="+1", hops=2, steps=3)
    again = IvrState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    assert json.loads(json.dumps(state.to_dict()))["awaiting"] == "input"
    with pytest.raises(ValueError):
        IvrState.from_dict({**state.to_dict(), "awaiting": "bogus"})


@pytest.mark.parametrize(("maps", "expected"), [
    ((), {}),
    (({"a": 1}, {"a": 3, "b": 2}, {"a": 2}), {"a": 3, "b": 2}),
])
def test_merge_skills(maps: tuple[dict[str, int], ...], expected: dict[str, int]) -> None:
    assert merge_skills(*maps) == expected
