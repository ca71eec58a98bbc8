"""Issue 9 in the pure core: the reasons and wrap-up codes of the config (every bad key named),
the reason the IVR records (menu option, set node, a CRM's), its queue and the authority it
needs; wrap-up code rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from acd.config import ConfigError, parse_config
from acd.core import reasons, wrapup
from acd.core.ivr import ToQueue
from acd.core.ivr_state import IvrState
from tests.test_ivr_helpers import Call

BASE: dict[str, Any] = {
    "pbx": {"secret": "x"},
    "queues": {
        "billing": {"skills": {"billing": 1}, "transfer_code": "20",
                    "wrapup_codes": {"paid": {"label": "Paid", "digits": "1"},
                                     "later": {"digits": "2"}}},
        "support": {"skills": {"support": 1}, "wrapup_mode": "until_code", "wrapup_s": 0,
                    "wrapup_codes": {"done": {}}},
        "bosses": {"skills": {"boss": 1}},
    },
    "escalation_queue": "bosses",
    "reasons": {"refund": {"label": "Refund", "skills": {"refund_auth": 2}, "queue": "billing"},
                "question": {}},
    "agents": {"a1": {"interface": "PJSIP/1001", "extension": "1001"}},
    "flows": {"f": {"dnis": ["1"], "start": "menu", "nodes": {
        "menu": {"type": "menu", "prompt": "m", "options": {"1": "go", "2": "refund", "3": "go"},
                 "reasons": {"1": "question"}},
        "refund": {"type": "set", "reason": "refund", "skills": {"lang_fr": 1}, "next": "go"},
        "go": {"type": "queue", "queue": "support", "use_reason_queue": True},
    }}},
}


def cfg_with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return data


def problems(data: dict[str, Any]) -> list[str]:
    try:
        parse_config(data)
    except ConfigError as exc:
        return exc.problems
    return []


def test_the_base_config_is_valid() -> None:
    assert problems(BASE) == []


@pytest.mark.parametrize(("change", "value", "expected"), [
    ("flows__f__nodes__refund__reason", "nosuch",
     "flows.f.nodes.refund.reason: unknown reason 'nosuch'"),
    ("flows__f__nodes__menu__reasons", {"1": "gone"},
     "flows.f.nodes.menu.reasons.1: unknown reason 'gone'"),
    ("flows__f__nodes__menu__reasons", {"9": "question"},
     "flows.f.nodes.menu.reasons.9: not an option of the menu"),
    ("reasons__refund__queue", "nowhere", "reasons.refund.queue: unknown queue 'nowhere'"),
    ("escalation_queue", "nowhere", "escalation_queue: unknown queue 'nowhere'"),
    ("queues__billing__escalation_queue", "x",
     "queues.billing.escalation_queue: unknown queue 'x'"),
    ("queues__billing__wrapup_codes__none", {},
     "queues.billing.wrapup_codes.none: reserved for a wrap-up that ended without a code"),
    ("queues__billing__wrapup_codes__later__digits", "1",
     "queues.billing.wrapup_codes.later.digits: '1' is also the digits of code 'paid'"),
    ("queues__billing__wrapup_codes__later__digits", "12345",
     "queues.billing.wrapup_codes.later.digits: String should match pattern"),
    ("queues__support__transfer_code", "20",
     "queues.support.transfer_code: '20' is also the transfer code of queue 'billing'"),
    ("queues__support__transfer_code", "1001",
     "queues.support.transfer_code: '1001' is also the extension of agent 'a1'"),
    ("queues__support__wrapup_mode", "forever",
     "queues.support.wrapup_mode: Input should be 'timeout' or 'until_code'"),
    ("queues__support__wrapup_codes", {},
     "queues.support.wrapup_mode: until_code needs wrapup_codes"),
    ("reasons__refund__skills", {"refund_auth": 9},
     "reasons.refund.skills.refund_auth: Input should be less than or equal to 5"),
])
def test_each_bad_key_is_named(change: str, value: object, expected: str) -> None:
    found = problems(cfg_with(**{change: value}))
    assert any(p.startswith(expected) for p in found), found


def test_menu_option_records_its_reason() -> None:
    call = Call(parse_config(BASE), flow="f")
    got = call.agi("200 result=1\n")
    # "question" has no default queue: the node's own queue; no extra skills
    assert got == ToQueue("support", 0, {"support": 1}, "", False, "question")


def test_set_node_reason_picks_its_queue_and_needs_its_authority() -> None:
    call = Call(parse_config(BASE), flow="f")
    got = call.agi("200 result=2\n")
    assert got == ToQueue("billing", 0, {"billing": 1, "lang_fr": 1, "refund_auth": 2}, "",
                          False, "refund")


def test_an_option_without_a_reason_keeps_none() -> None:
    call = Call(parse_config(BASE), flow="f")
    assert call.agi("200 result=3\n") == ToQueue("support", 0, {"support": 1}, "", False, "")


def test_the_reason_of_a_call() -> None:
    cfg = parse_config(BASE)
    assert reasons.of_call(cfg, "refund", {"crm_reason": "question"}) == "refund"
    assert reasons.of_call(cfg, "", {"crm_reason": "question"}) == "question"  # from a CRM
    assert reasons.of_call(cfg, "", {"crm_reason": "free text"}) == ""  # not configured
    assert reasons.of_call(cfg, "gone", None) == ""
    assert reasons.queue_for(cfg, "refund", "support", True) == "billing"
    assert reasons.queue_for(cfg, "refund", "support", False) == "support"
    assert reasons.queue_for(cfg, "question", "support", True) == "support"
    assert reasons.label_of(cfg, "refund") == "Refund"
    assert reasons.label_of(cfg, "question") == "question"
    assert reasons.figures_name("") == reasons.NO_REASON


def test_ivr_state_keeps_the_reason_across_a_round_trip() -> None:
    st = IvrState(flow="f", reason="refund")
    assert IvrState.from_dict(st.to_dict()).reason == "refund"
    legacy = st.to_dict()
    del legacy["reason"]  # a state stored by an older version
    assert IvrState.from_dict(legacy).reason == ""


def test_wrapup_code_rules() -> None:
    cfg = parse_config(BASE)
    assert wrapup.code_of_digits(cfg, "billing", "2") == "later"
    assert wrapup.code_of_digits(cfg, "billing", "9") is None
    assert wrapup.code_of_digits(cfg, "gone", "1") is None
    assert wrapup.unknown_codes(cfg, "billing", ["paid", "x", "none"]) == ["x", "none"]
    assert [wrapup.resolved_of_digit(d) for d in ("1", "2", "", "9")] == [
        True, False, None, None]
    billing, support = cfg.queues["billing"], cfg.queues["support"]
    assert wrapup.wraps_up(billing) and wrapup.ends_by_timer(billing)
    # until_code wraps up even with wrapup_s 0, and never by a timer
    assert wrapup.wraps_up(support) and not wrapup.ends_by_timer(support)
    assert wrapup.needs_code(cfg, "support") and not wrapup.needs_code(cfg, "billing")
    assert not wrapup.wraps_up(None)
