"""Property: whatever the caller (and the PBX) answers, a call ends in ToQueue/EndCall within a
bounded number of steps, never raises, and its state survives a JSON round trip at each step."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.config import Config
from acd.core import ivr
from acd.core.agi import parse_agi_result
from acd.core.ivr import MAX_STEPS, Agi, EndCall, IvrState, LookupVip, ToQueue
from tests.test_ivr_helpers import NOW, example_config, small_config

_DIGITS = "0123456789*#"
_DTMF_CODES = [0, *(ord(c) for c in _DIGITS)]

caller_results = st.one_of(
    st.text(_DIGITS, max_size=9).map(lambda d: f"200 result={d}\n"),  # GET DATA
    st.text(_DIGITS[:10], max_size=4).map(lambda d: f"200 result={d} (timeout)\n"),
    st.sampled_from(_DTMF_CODES).map(lambda c: f"200 result={c} endpos=8000\n"),  # STREAM FILE
    st.just("200 result=1\n"),  # SET VARIABLE
)
ending_results = st.sampled_from([
    "200 result=-1\n",  # hung up
    "511 Command Not Permitted on a dead channel or intercept routine\n",
    "510 Invalid or unknown command\n",
])
# Rare enough that long walks (and the loop guards) get explored too.
agi_results = st.integers(0, 39).flatmap(lambda i: ending_results if i == 0 else caller_results)


def drive(cfg: Config, flow: str, data: st.DataObject, max_steps: int) -> list[str]:
    """Answer every command with a drawn result; return the path once the call is over."""
    state, cmds = ivr.start(cfg, flow, data.draw(st.sampled_from(["5551234", "+15550001"])),
                            data.draw(st.floats(NOW - 4e7, NOW + 4e7)))
    for _ in range(max_steps):
        assert len(cmds) == 1
        cmd = cmds[0]
        assert IvrState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
        if isinstance(cmd, ToQueue | EndCall):
            return state.path
        if isinstance(cmd, Agi):
            raw = data.draw(agi_results)
            state, cmds = ivr.on_agi_result(cfg, state, parse_agi_result(raw), NOW)
        else:
            assert isinstance(cmd, LookupVip)
            state, cmds = ivr.on_vip_result(cfg, state, data.draw(st.booleans()), NOW)
    raise AssertionError(f"no end after {max_steps} steps: {state}")


@pytest.fixture(scope="module")
def cfg() -> Config:
    mp = pytest.MonkeyPatch()
    mp.setenv("ACD_AMI_SECRET", "test-secret")
    try:
        return example_config()
    finally:
        mp.undo()


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_example_flow_always_ends(cfg: Config, data: st.DataObject) -> None:
    # 3 menus/collects x 3 tries x (ask + reprompt), a language, a queue prompt: well under 40
    path = drive(cfg, "main", data, max_steps=40)
    assert path[0] == "hours"


NAMES = ["a", "b", "c", "d", "e"]
name = st.sampled_from(NAMES)
nodes = st.one_of(
    st.builds(lambda p, n: {"type": "play", "prompt": p, "next": n}, st.just("p"), name),
    st.builds(lambda o, r, d: {"type": "menu", "prompt": "m", "options": o, "retries": r,
                               "timeout_prompt": "t", **({"default": d} if d else {})},
              st.dictionaries(st.sampled_from(list(_DIGITS)), name, max_size=3),
              st.integers(0, 3), st.none() | name),
    st.builds(lambda r, f: {"type": "collect", "prompt": "c", "variable": "account",
                            "retries": r, "next": "e", **({"on_fail": f} if f else {})},
              st.integers(0, 2), st.none() | name),
    st.builds(lambda n, lang: {"type": "set", "next": n, "skills": {"x": 3},
                               **({"language": lang} if lang else {})},
              name, st.none() | st.just("es")),
    st.builds(lambda o, c: {"type": "hours", "hours": "h", "open": o, "closed": c}, name, name),
    st.builds(lambda v, n: {"type": "vip", "vip": v, "normal": n}, name, name),
    st.builds(lambda p: {"type": "queue", "queue": "q", "prompt": p}, st.sampled_from(["", "w"])),
    st.builds(lambda p: {"type": "hangup", "prompt": p}, st.sampled_from(["", "bye"])),
)


@settings(max_examples=150, deadline=None)
@given(flow=st.fixed_dictionaries({n: nodes for n in NAMES}), data=st.data(),
       escape=st.sampled_from([{}, {"escape_queue": "support"}]))
def test_any_flow_always_ends(flow: dict[str, Any], data: st.DataObject,
                              escape: dict[str, Any]) -> None:
    # Loops in the flow are cut by the hop and step guards: the bound holds for any flow.
    cfg = small_config(flow, **escape)
    drive(cfg, "f", data, max_steps=MAX_STEPS + 1)
