"""The pure IVR step machine around a lookup node: what a CRM result (or its absence) does."""

from __future__ import annotations

from typing import Any

import pytest

from acd.config import Config, parse_config
from acd.core import ivr
from acd.core.agi import parse_agi_result
from acd.core.ivr import Agi, Awaiting, LookupCaller, LookupResult, ToQueue
from acd.core.ivr_state import CallerInfo

NOW = 1_800_000_000.0


def cfg(**node: Any) -> Config:
    lookup = {"type": "lookup", "next": "to_sales", "defaults": {"language": "en"},
              "language_skills": {"es": {"lang_es": 2}}, **node}
    return parse_config({
        "pbx": {"secret": "x"},
        "queues": {"sales": {"skills": {"sales": 1}}, "support": {"skills": {"support": 1}}},
        "vip": {"priority": 7},
        "integrations": {"crm": {"url_template": "http://crm/{caller_num}"}},
        "flows": {"f": {"dnis": ["1"], "start": "who", "nodes": {
            "who": lookup,
            "sorry": {"type": "play", "prompt": "sorry", "next": "to_sales"},
            "to_sales": {"type": "queue", "queue": "sales"},
        }}},
    })


def started(c: Config) -> ivr.IvrState:
    state, commands = ivr.start(c, "f", "5551234", NOW)
    assert commands == [LookupCaller("caller_num", "5551234", "who")]
    assert state.awaiting == Awaiting.LOOKUP
    return state


def test_found_caller_gets_vip_queue_language_and_skills() -> None:
    c = cfg()
    info = CallerInfo(vip=True, language="es", queue="support", customer_name="Ada",
                      account="A1", reason="case 7")
    state, commands = ivr.on_lookup_result(c, started(c), LookupResult("hit", info), NOW)
    assert commands == [Agi("SET VARIABLE CHANNEL(language) es")]
    state, commands = ivr.on_agi_result(c, state, parse_agi_result("200 result=1"), NOW)
    assert commands == [ToQueue("support", 7, {"support": 1, "lang_es": 2}, "es", True)]
    assert state.data == {"customer_name": "Ada", "crm_reason": "case 7", "account": "A1"}
    assert state.path == ["who", "to_sales"]


@pytest.mark.parametrize("outcome", ["miss", "timeout", "error", "skipped"])
def test_no_answer_gives_the_defaults(outcome: str) -> None:
    c = cfg(on_failure="sorry")
    state, commands = ivr.on_lookup_result(c, started(c), LookupResult(outcome), NOW)  # type: ignore[arg-type]
    assert commands == [Agi("SET VARIABLE CHANNEL(language) en")]
    assert state.language == "en" and not state.vip
    _, commands = ivr.on_agi_result(c, state, parse_agi_result("200 result=1"), NOW)
    failed = outcome in ("timeout", "error")
    assert commands == ([Agi("STREAM FILE sorry \"\"")] if failed
                        else [ToQueue("sales", 0, {"sales": 1}, "en", False)])


def test_unknown_queue_from_the_crm_is_ignored_and_defaults_fill_gaps() -> None:
    c = cfg(defaults={"vip": True, "queue": "support"})
    info = CallerInfo(queue="nope")
    _, commands = ivr.on_lookup_result(c, started(c), LookupResult("cache", info), NOW)
    assert commands == [ToQueue("support", 7, {"support": 1}, "", True)]
    info = CallerInfo(vip=False)  # the CRM said "not a VIP": the default does not override it
    _, commands = ivr.on_lookup_result(c, started(c), LookupResult("hit", info), NOW)
    assert commands == [ToQueue("support", 0, {"support": 1}, "", False)]


def test_a_late_or_duplicate_result_is_refused() -> None:
    c = cfg()
    state, _ = ivr.on_lookup_result(c, started(c), LookupResult("miss"), NOW)
    with pytest.raises(ivr.IvrStateError):
        ivr.on_lookup_result(c, state, LookupResult("miss"), NOW)


def test_state_round_trips_with_the_lookup_fields() -> None:
    c = cfg()
    state = started(c)
    state.queue, state.resume = "support", "to_sales"
    assert ivr.IvrState.from_dict(state.to_dict()) == state
