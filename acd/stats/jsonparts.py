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
    """A snapshot (a plain dict for every reader) with its JSON fragments, key -> bytes."""

    fragments: dict[str, bytes]


def encode_steps(snap: Mapping[str, Any]) -> Generator[None, None, EncodedSnapshot]:
    """The snapshot with its fragments; yields every ROWS_PER_STEP list items."""
    fragments: dict[str, bytes] = {}
    for key, value in snap.items():
        if isinstance(value, list):
            # Each item as bytes as it comes, and the list made by one join of them and
            # their commas: joining the items as text and encoding the whole was one step
            # of 5-16 ms for the 7 MB of a big centre's agents.
            parts: list[bytes] = [b"["]
            for item in value:
                if len(parts) > 1:
                    parts.append(b",")
                parts.append(_dumps(item).encode())
                if len(parts) % (2 * ROWS_PER_STEP) == 0:
                    yield
            parts.append(b"]")
            fragments[key] = b"".join(parts)
        else:
            fragments[key] = _dumps(value).encode()
        yield
    out = EncodedSnapshot(snap)
    out.fragments = fragments
    return out


def body(snap: Mapping[str, Any], keys: Iterable[str]) -> bytes:
    """json.dumps({k: snap[k] for k in keys}, separators=(",", ":")).encode(), from the
    fragments when the snapshot has them."""
    keys = list(keys)
    fragments = getattr(snap, "fragments", None)
    if fragments is None or any(k not in fragments for k in keys):
        return _dumps({k: snap[k] for k in keys}).encode()
    return b"{" + b",".join(_dumps(k).encode() + b":" + fragments[k] for k in keys) + b"}"
