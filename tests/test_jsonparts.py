"""The snapshot's JSON fragments join into exactly the bytes json.dumps gives for any part."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.stats.figures import run_steps as run_all
from acd.stats.jsonparts import body, encode_steps

_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                  st.floats(allow_nan=False, allow_infinity=False))
_value = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=20)
_snap = st.dictionaries(st.text(min_size=1, max_size=6),
                        st.one_of(_value, st.lists(_value, max_size=80)), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(_snap, st.data())
def test_fragments_join_into_the_json_of_any_part(snap: dict[str, Any], data: st.DataObject
                                                   ) -> None:
    encoded = run_all(encode_steps(snap))
    assert encoded == snap  # still the snapshot for every reader
    keys = data.draw(st.lists(st.sampled_from(sorted(snap)), unique=True))
    want = json.dumps({k: snap[k] for k in keys}, separators=(",", ":")).encode()
    assert body(encoded, keys) == want
    assert body(encoded, keys, b"data: ", b"\n\n") == b"data: " + want + b"\n\n"
    assert body(snap, keys, b"<", b">") == b"<" + want + b">"  # (no fragments)
    assert body(encoded, encoded) == json.dumps(snap, separators=(",", ":")).encode()


def test_a_plain_snapshot_is_encoded_the_ordinary_way() -> None:
    snap = {"generated_at": 1.5, "queues": [{"name": "q"}]}
    assert body(snap, ["queues"]) == b'{"queues":[{"name":"q"}]}'
