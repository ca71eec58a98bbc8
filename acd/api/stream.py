"""`GET /api/v1/stream`: Server-Sent Events, one `snapshot` event per new snapshot.

A handler blocked on the next snapshot is not cancelled when its client leaves (aiohttp's
default `handler_cancellation=False`), so every stream races the next snapshot against a
`gone` event. One watcher task per app sets `gone` for streams whose transport has closed
(one wake-up per poll for all streams, not one per client), and on shutdown for all of them.
A comment line every `heartbeat_s` keeps proxies from timing the connection out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from acd.api.errors import bad_request
from acd.api.keys import BACKEND, HEARTBEAT_S
from acd.stats import jsonparts

log = logging.getLogger(__name__)

POLL_S = 0.25
RETRY_MS = 3000
# An event is written this many bytes at a time, each piece when the last has gone: a big
# centre's push is megabytes per listener, and written at once it was ~9 ms of the loop per
# listener (copied whole into the transport's buffer), every poller waiting behind it.
PUSH_PIECE = 256 * 1024


@dataclass(eq=False, slots=True)
class _Watch:
    request: web.BaseRequest
    gone: asyncio.Event = field(default_factory=asyncio.Event)


# What `?parts=` may choose; the snapshot's small fields (generated_at, timezone, pbxs) always
# come. A wallboard asks for the parts it shows: at 10,000 waiting calls `calls` alone is
# megabytes a push.
PARTS = ("centre", "queues", "agents", "calls", "ivr_funnel")
_ALWAYS = ("generated_at", "timezone", "pbxs")


def chosen_parts(raw: str | None) -> tuple[str, ...] | None:
    """The snapshot keys a `?parts=a,b` stream sends, in snapshot order (None: all of them)."""
    if raw is None:
        return None
    choose = f"(choose among {', '.join(PARTS)})"
    if not raw.strip():
        raise bad_request("parts", f"parts: none given {choose}")
    wanted = [p.strip() for p in raw.split(",")]
    unknown = [p for p in wanted if p not in PARTS]
    if unknown:
        shown = ", ".join(repr(p) for p in unknown[:3])
        raise bad_request("parts", f"parts: {shown} not known {choose}")
    return (*_ALWAYS, *(p for p in PARTS if p in wanted))


Events = dict[tuple[str, ...] | None, bytes]


class StreamHub:
    def __init__(self) -> None:
        self._watches: set[_Watch] = set()
        # the latest snapshot's events, by the parts they carry (None: all)
        self._last: tuple[dict[str, Any] | None, Events] = (None, {})
        self._next: tuple[object, Events] = (None, {})  # made ahead (prepare)

    @property
    def open_streams(self) -> int:
        return len(self._watches)

    def encode(self, snapshot: dict[str, Any], parts: tuple[str, ...] | None = None) -> bytes:
        """The event for a snapshot (its `parts` only), encoded once however many clients
        receive it."""
        last, events = self._last
        if last is not snapshot:
            ahead, made = self._next
            events = made if ahead is snapshot else {}
            self._last, self._next = (snapshot, events), (None, {})
        data = events.get(parts)
        if data is None:
            data = events[parts] = _event(snapshot, parts)
        return data

    async def prepare(self, successors: Mapping[int, object]) -> None:
        """Before a snapshot is published (a backend's before_publish hook), the events the
        streams were sent of the one it replaces are made of it, in a worker thread
        (bytes.join lets go of the GIL): a big centre's push is megabytes, and its join
        was ~7 ms of the loop at the full size."""
        last, events = self._last
        new = successors.get(id(last)) if last is not None and self._watches else None
        if not isinstance(new, dict):
            return
        loop = asyncio.get_running_loop()
        made: Events = {}
        for parts in list(events):
            made[parts] = await loop.run_in_executor(None, _event, new, parts)
        self._next = (new, made)

    @contextlib.contextmanager
    def watch(self, request: web.BaseRequest) -> Iterator[asyncio.Event]:
        watch = _Watch(request)
        self._watches.add(watch)
        try:
            yield watch.gone
        finally:
            self._watches.discard(watch)

    def close_all(self) -> None:
        for watch in self._watches:
            watch.gone.set()

    async def run_watcher(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            for watch in self._watches:
                transport = watch.request.transport
                if transport is None or transport.is_closing():
                    watch.gone.set()


def _event(snapshot: Mapping[str, Any], parts: tuple[str, ...] | None) -> bytes:
    keys = list(snapshot) if parts is None else [k for k in parts if k in snapshot]
    return jsonparts.body(snapshot, keys, b"event: snapshot\ndata: ", b"\n\n")


STREAMS = web.AppKey("streams", StreamHub)


async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = app[STREAMS]
    task = asyncio.create_task(hub.run_watcher(), name="acd-api-stream-watcher")
    yield
    hub.close_all()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def close_streams(app: web.Application) -> None:
    app[STREAMS].close_all()


async def stream(request: web.Request) -> web.StreamResponse:
    app = request.app
    hub, backend = app[STREAMS], app[BACKEND]
    parts = chosen_parts(request.query.get("parts"))  # (a 400 before the stream starts)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    updates = aiter(backend.subscribe())
    with hub.watch(request) as gone:
        try:
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            snap = backend.snapshot()
            if snap:
                await send_event(response, hub.encode(snap, parts))
            await _pump(response, updates, gone, hub, app[HEARTBEAT_S], snap, parts)
        except ConnectionError:
            pass  # the client left while we wrote
        finally:
            aclose = getattr(updates, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
    return response


async def send_event(response: web.StreamResponse, data: bytes) -> None:
    """One event, PUSH_PIECE bytes at a time (HTTP chunks: the client reads one stream)."""
    if len(data) <= PUSH_PIECE:
        await response.write(data)
        return
    view = memoryview(data)
    for start in range(0, len(data), PUSH_PIECE):
        await response.write(view[start:start + PUSH_PIECE])


async def _pump(response: web.StreamResponse, updates: AsyncIterator[dict[str, Any]],
                gone: asyncio.Event, hub: StreamHub, heartbeat_s: float,
                sent: dict[str, Any] | None, parts: tuple[str, ...] | None) -> None:
    left: asyncio.Future[Any] = asyncio.ensure_future(gone.wait())
    following: asyncio.Future[Any] = asyncio.ensure_future(anext(updates))
    try:
        while True:
            done, _ = await asyncio.wait({left, following}, timeout=heartbeat_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            if left in done:
                return
            if following not in done:
                await response.write(b": heartbeat\n\n")
                continue
            try:
                snap = following.result()
            except StopAsyncIteration:
                return
            except Exception:
                log.exception("the snapshot subscription failed; closing the stream")
                return
            if snap is not sent:  # a subscription may start with the snapshot already sent
                await send_event(response, hub.encode(snap, parts))
                sent = snap
            following = asyncio.ensure_future(anext(updates))
    finally:
        for task in (left, following):
            task.cancel()
        await asyncio.gather(left, following, return_exceptions=True)
