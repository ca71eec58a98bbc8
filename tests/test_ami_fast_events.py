"""The link parses the events it uses itself (acd.ami.link._event_frame) instead of building a
panoramisk Message for each: the result must be exactly what panoramisk's parse gave, for every
event frame of the real Asterisk traces and for drawn frames (repeated headers, quoted Result,
odd spacing, empty values)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from panoramisk.message import Message

from acd.ami.link import _event_frame, _plain

TRACES = Path(__file__).parent / "fixtures" / "traces"


def _panoramisk(frame: str) -> dict[str, str]:
    message = Message.from_line(frame)
    assert message is not None
    return _plain(message)


def _trace_events() -> list[str]:
    frames = []
    for path in sorted(TRACES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec.get("dir") == "in" and rec["frame"].startswith("Event: "):
                frames.append(rec["frame"].strip())
    return frames


def test_every_trace_event_parses_as_panoramisk_does() -> None:
    frames = _trace_events()
    assert len(frames) > 500  # the traces are there
    for frame in frames:
        assert _event_frame(frame) == _panoramisk(frame), frame


_key = st.sampled_from(["Channel", "Uniqueid", "Result", "Env", "Value", "Cause-txt", "Content",
                        "UserEvent", "Variable", "ActionIDx"])
_value = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]),
                 max_size=12)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(name=st.sampled_from(["UserEvent", "Hangup", "AsyncAGIExec", "BridgeEnter"]),
       headers=st.lists(st.tuples(_key, _value), max_size=8),
       junk=st.lists(st.sampled_from(["no colon here", "Key:no-space", ""]), max_size=2))
def test_drawn_event_frames_parse_as_panoramisk_does(name: str, headers: list[tuple[str, str]],
                                                      junk: list[str]) -> None:
    lines = [f"Event: {name}", *(f"{k}: {v}" for k, v in headers), *junk]
    frame = "\r\n".join(lines).strip()
    assert _event_frame(frame) == _panoramisk(frame)


def test_a_repeated_event_header_is_left_to_panoramisk() -> None:
    # panoramisk rejects it (the link counts a malformed frame): the fast path must not hide it
    assert _event_frame("Event: Hangup\r\nEvent: UserEvent\r\nChannel: x") is None
