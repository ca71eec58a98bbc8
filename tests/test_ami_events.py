"""AMI frames -> domain events: real traces, and fuzzed frames that must never crash."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.ami.events import TABLE, BadFrame, to_domain
from acd.core.events import (
    AgentFeatureUsed,
    AgiCommandDone,
    AgiSessionStarted,
    ChannelBridged,
    ChannelHungUp,
    OriginateFailed,
)

TRACES = Path(__file__).parent / "fixtures" / "traces"


def frames(name: str) -> list[dict[str, str]]:
    out = []
    for line in (TRACES / name).read_text().splitlines():
        rec = json.loads(line)
        if rec["dir"] != "in" or "Event:" not in rec["frame"]:
            continue
        headers: dict[str, str] = {}
        for row in rec["frame"].split("\r\n"):
            key, sep, value = row.partition(": ")
            if sep:
                headers.setdefault(key, value)
            elif row.endswith(":"):
                headers.setdefault(row[:-1], "")
        out.append(headers)
    return out


def test_agent_first_trace_gives_the_expected_events() -> None:
    events = [e for f in frames("agent_first_bridge.jsonl") if (e := to_domain(f))]
    kinds = [type(e) for e in events]
    assert kinds.count(AgiSessionStarted) == 1
    assert kinds.count(AgiCommandDone) == 1
    assert kinds.count(ChannelBridged) == 2
    assert kinds.count(ChannelHungUp) == 2
    start = next(e for e in events if isinstance(e, AgiSessionStarted))
    assert start.dnis == "3001" and start.caller_num == "5551234"
    done = next(e for e in events if isinstance(e, AgiCommandDone))
    assert done.command_id == "afb-beep" and done.result.startswith("200 result=0")
    leg = [e for e in events if isinstance(e, ChannelBridged)][1]
    assert leg.uniqueid == "afb-agent1"  # the Originate ChannelId is the leg's Uniqueid


def test_ring_timeout_and_feature_codes() -> None:
    rna = [e for f in frames("agent_first_rna.jsonl") if isinstance(e := to_domain(f),
                                                                       OriginateFailed)]
    assert [(e.uniqueid, e.reason) for e in rna] == [("rna-agent1", 3)]
    feats = [e for f in frames("feature_codes_userevent.jsonl")
             if isinstance(e := to_domain(f), AgentFeatureUsed)]
    assert [(e.action, e.extension, e.reason) for e in feats] == [
        ("login", "7001", ""), ("pause", "7001", "3"), ("pause", "7001", ""),
        ("unpause", "7001", "")]


def test_every_trace_frame_translates_without_error() -> None:
    for path in sorted(TRACES.glob("*.jsonl")):
        for frame in frames(path.name):
            to_domain(frame)  # raises only BadFrame, and real frames are never bad


header_names = st.sampled_from(["Channel", "Uniqueid", "CommandId", "Result", "Cause",
                                "Response", "Reason", "UserEvent", "Action", "Agent", "Env",
                                "BridgeUniqueid", "Exten", "X-Junk"])
values = st.text(max_size=200) | st.sampled_from(["", "-1", "99999999999999999999", "%ZZ",
                                                  "200 result=1\n", "AcdAgent"])


@settings(max_examples=500, deadline=None)
@given(event=st.sampled_from([*TABLE, "VarSet", "Nonsense", ""]),
       headers=st.dictionaries(header_names, values, max_size=10))
def test_fuzzed_frames_give_an_event_none_or_badframe(event: str,
                                                      headers: dict[str, str]) -> None:
    frame = {"Event": event, **headers}
    try:
        to_domain(frame)
    except BadFrame as exc:
        assert event in str(exc) and "missing header" in str(exc)
