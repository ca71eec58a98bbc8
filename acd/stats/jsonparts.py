"""A figures snapshot encoded to JSON once, in steps, as one fragment per top-level key.

The API serves parts of the snapshot (`/queues` is generated_at + centre + queues) and the push
stream the whole of it; encoding them in a request handler blocked the event loop for
milliseconds per refresh (a full-size snapshot is megabytes), delaying routing decisions and
every other poller. The refresh encodes each list item between two slices instead, and a body
is then the fragments joined: byte for byte what json.dumps(part, separators=(",", ":")) gives.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Mapping
from typing import Any

from acd.core.steps import ROWS_PER_STEP

_dumps = json.JSONEncoder(separators=(",", ":")).encode


class EncodedSnapshot(dict[str, Any]):
    """A snapshot (a plain dict for every reader) with its JSON fragments: key -> the pieces
    that, joined, are its value's JSON."""

    fragments: dict[str, list[bytes]]


def encode_steps(snap: Mapping[str, Any]) -> Generator[None, None, EncodedSnapshot]:
    """The snapshot with its fragments; yields every ROWS_PER_STEP list items."""
    fragments: dict[str, list[bytes]] = {}
    for key, value in snap.items():
        if isinstance(value, list):
            # A list is kept as pieces of ROWS_PER_STEP items, joined only into a body: each
            # copy of a big centre's 7 MB of agents was a step of 5-16 ms on a busy machine.
            pieces: list[bytes] = [b"["]
            for start in range(0, len(value), ROWS_PER_STEP):
                if start:
                    pieces.append(b",")
                pieces.append(b",".join(
                    [_dumps(item).encode() for item in value[start:start + ROWS_PER_STEP]]))
                yield
            pieces.append(b"]")
            fragments[key] = pieces
        else:
            fragments[key] = [_dumps(value).encode()]
        yield
    out = EncodedSnapshot(snap)
    out.fragments = fragments
    return out


def body(snap: Mapping[str, Any], keys: Iterable[str], prefix: bytes = b"",
         suffix: bytes = b"") -> bytes:
    """prefix + json.dumps({k: snap[k] for k in keys}, separators=(",", ":")).encode() +
    suffix, from the fragments when the snapshot has them: one copy of the bytes, however
    big (every copy of a megabytes body is milliseconds of the event loop)."""
    keys = list(keys)
    fragments = getattr(snap, "fragments", None)
    if fragments is None or any(k not in fragments for k in keys):
        return prefix + _dumps({k: snap[k] for k in keys}).encode() + suffix
    pieces = [prefix, b"{"]
    for i, key in enumerate(keys):
        pieces += (b"," if i else b"", _dumps(key).encode(), b":", *fragments[key])
    pieces += (b"}", suffix)
    return b"".join(pieces)
