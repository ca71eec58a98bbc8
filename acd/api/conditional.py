"""Conditional and compressed reads of the figures, for pollers (wallboards, supervisor screens).

A figures body is made once per snapshot and part: encoded once, given a strong ETag (a hash
of the body, so two instances behind one address never give one tag to different bodies), and
gzipped once, in a worker thread (zlib lets go of the GIL; at the full size a body is ~2 MB and
compressing it on the event loop would stall routing for tens of ms), the first time a client
asks for gzip. A poller that sends the tag back while the snapshot is unchanged gets
`304 Not Modified` without a body; `Cache-Control: no-cache` lets a browser keep the body and
revalidate it on every poll (the wallboard's `fetch` does so by itself).

Made ahead: before a new snapshot is published, `BodyCache.prepare` makes the new snapshot's
bodies that were asked of the one it replaces (hashed and gzipped in a worker thread, as
asked). Made on demand, every poller arriving while the first of them waited for the gzip
waited too: at the full size ~40 ms, the API's p99 (bench, session 11).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

GZIP_SUFFIX = "-gzip"  # the gzip body is another representation: another strong tag
_HEADERS = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding"}


@dataclass(eq=False, slots=True)
class Encoded:
    """One part of one snapshot, encoded: `source` names the object it was made from (so
    that a new snapshot, a new object, is never mistaken for it): a weak reference when the
    object takes one (a snapshot: the cache must not keep a replaced one alive, see
    acd/service/dismantle.py), else the object itself."""

    source: Callable[[], object]
    plain: bytes
    tag: str  # the identity body's entity tag, without quotes
    make: Callable[[Any], bytes]  # the body of a source (the next snapshot's, made ahead)
    gzipped: bytes | None = None
    gzip_asked: bool = False  # a client took the gzip body: make the next one's ahead too
    _pending: asyncio.Future[bytes] | None = field(default=None, repr=False)

    @property
    def gzip_tag(self) -> str:
        return self.tag + GZIP_SUFFIX

    async def gzip_body(self) -> bytes:
        """The gzip body, compressed once however many clients ask at the same time."""
        self.gzip_asked = True
        if self.gzipped is not None:
            return self.gzipped
        if self._pending is None:
            loop = asyncio.get_running_loop()
            # mtime=0: the same body always compresses to the same bytes
            self._pending = loop.run_in_executor(None, _compress, self.plain)
        # shield: a client that leaves must not cancel the compression the others wait for
        self.gzipped = await asyncio.shield(self._pending)
        return self.gzipped


def _compress(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)


def entity_tag(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=12).hexdigest()


class BodyCache:
    """The latest encoded body per (part, query): an entry is replaced when its source object
    is (every refresh makes a new snapshot), so the cache holds one snapshot's bodies, and
    those made ahead for the next one (`prepare`)."""

    def __init__(self) -> None:
        self._entries: dict[str, Encoded] = {}
        self._next: dict[str, Encoded] = {}  # made ahead, for a source not yet published

    def get(self, key: str, source: object, make: Callable[[Any], bytes]) -> Encoded:
        """The body of `source` under `key`; `make(source)` makes it if it is not made yet."""
        hit = self._entries.get(key)
        if hit is None or hit.source() is not source:
            ahead = self._next.get(key)
            if ahead is not None and ahead.source() is source:
                hit = self._entries[key] = self._next.pop(key)
            else:
                if len(self._entries) > 256:  # keys are bounded (parts x PBXs); a safety net
                    self._entries.clear()
                body = make(source)
                hit = self._entries[key] = Encoded(_referent(source), body, entity_tag(body),
                                                   make)
        return hit

    async def prepare(self, successors: Mapping[int, object]) -> None:
        """Make ahead, for every body asked of a source about to be replaced (`successors`:
        the id of each such source -> the object that replaces it), the same body of its
        successor, in a worker thread: plain (a join of the snapshot's fragments), tag, and
        gzip if a client took the gzip one. The old bodies are served meanwhile."""
        self._next = {}
        loop = asyncio.get_running_loop()
        for key, hit in list(self._entries.items()):
            old = hit.source()
            new = successors.get(id(old)) if old is not None else None
            del old
            if new is None:
                continue
            plain, tag, zipped = await loop.run_in_executor(None, _made, hit.make, new,
                                                            hit.gzip_asked)
            self._next[key] = Encoded(_referent(new), plain, tag, hit.make, zipped,
                                      hit.gzip_asked)


def _made(make: Callable[[Any], bytes], source: object, zipped: bool
          ) -> tuple[bytes, str, bytes | None]:
    """A body, its tag and its gzip form, in a worker thread: bytes.join, hashlib and zlib
    let go of the GIL for big buffers, so the loop runs meanwhile (the snapshot is never
    changed once made)."""
    plain = make(source)
    return plain, entity_tag(plain), (_compress(plain) if zipped else None)


def _referent(source: object) -> Callable[[], object]:
    try:
        return weakref.ref(source)
    except TypeError:  # (a plain dict or list takes no weak reference)
        return lambda: source


def accepts_gzip(request: web.BaseRequest) -> bool:
    """Accept-Encoding takes gzip: named (or `*`, when gzip is not named) with q above 0."""
    named: float | None = None
    star: float | None = None
    for item in request.headers.get("Accept-Encoding", "").split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if coding == "*":
            star = q
        else:
            named = q
    chosen = named if named is not None else star
    return chosen is not None and chosen > 0


def _matched(request: web.BaseRequest, tags: tuple[str, ...]) -> str | None:
    """The tag of ours that If-None-Match names (weak comparison, RFC 9110 13.1.2), or None."""
    wanted = request.if_none_match
    if not wanted:
        return None
    for etag in wanted:
        if etag.value == "*":
            return tags[0]
        if etag.value in tags:
            return etag.value
    return None


async def respond(request: web.BaseRequest, body: Encoded) -> web.Response:
    """200 with the body (gzip when the client takes it), or 304 when the client has it."""
    zipped = accepts_gzip(request)
    tags = (body.gzip_tag, body.tag) if zipped else (body.tag, body.gzip_tag)
    same = _matched(request, tags)
    if same is not None:
        # the tag the client holds: its stored representation is still the current one
        return web.Response(status=304, headers={**_HEADERS, "ETag": f'"{same}"'})
    if zipped:
        return web.Response(body=await body.gzip_body(), content_type="application/json",
                            headers={**_HEADERS, "ETag": f'"{body.gzip_tag}"',
                                     "Content-Encoding": "gzip"})
    return web.Response(body=body.plain, content_type="application/json",
                        headers={**_HEADERS, "ETag": f'"{body.tag}"'})
