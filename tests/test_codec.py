"""Call <-> Redis hash fields (acd/store/codec.py): what is encoded decodes to the same call,
the list fields empty or not (empty ones are left out of the hash and not parsed back)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.core.model import Call, CallState
from acd.store.codec import decode_call, encode_call

_times = st.floats(0, 2e9, allow_nan=False)
_history = st.lists(st.fixed_dictionaries({"agent": st.sampled_from(["a1", "a2"]),
                                           "at": st.integers(0, 10**9)}), max_size=2)


@st.composite
def _calls(draw: st.DrawFn) -> Call:
    return Call(
        id="c1", channel="PJSIP/trunk-1", uniqueid="c1", caller_num="555", dnis="7001",
        state=draw(st.sampled_from(list(CallState))), queue="q1",
        priority=draw(st.integers(0, 10)),
        required=draw(st.dictionaries(st.sampled_from(["s1", "s2"]), st.integers(0, 3))),
        entered_at=draw(st.none() | _times),
        recording_pauses=draw(st.lists(st.lists(_times, min_size=1, max_size=2),
                                       max_size=2)),
        transfers=draw(_history), wrapups=draw(_history),
        overflow_path=draw(st.lists(st.sampled_from(["q2", "q3"]), max_size=2)))


@settings(max_examples=200, deadline=None)
@given(_calls())
def test_a_call_decodes_as_it_was_encoded(call: Call) -> None:
    fields = encode_call(call)
    for name in ("recording_pauses", "transfers", "wrapups"):
        if not getattr(call, name):
            assert name not in fields or fields[name] == "[]"
    assert decode_call(fields) == call
