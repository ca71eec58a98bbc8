"""`GET /api/v1/agents/{id}/stream`: Server-Sent Events for one agent's desktop: an `event:
pop` with the screen-pop payload (the webhook's JSON) when a call rings the agent and when the
agent answers it, and a `: heartbeat` comment every `heartbeat_s`.

Needs `[integrations] agent_push = true`. An agent token (role agent) reads only its own
agent's stream; viewers and above read any. `Last-Event-ID` (sent by EventSource on its own
when it reconnects) gets the pops missed meanwhile first.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from aiohttp import web

from acd.api.errors import ApiError
from acd.api.keys import HEARTBEAT_S
from acd.api.stream import RETRY_MS, STREAMS

Pop = tuple[str, str]


class PushSource(Protocol):
    def knows(self, agent_id: str) -> bool: ...

    def subscribe(self, agent_id: str) -> contextlib.AbstractContextManager[asyncio.Queue[Pop]]:
        ...

    async def missed(self, agent_id: str, last_event_id: str) -> list[Pop]: ...


PUSH = web.AppKey[PushSource | None]("agent_push")


def _event(pop: Pop) -> bytes:
    eid, data = pop
    return f"id: {eid}\nevent: pop\ndata: {data}\n\n".encode()


async def agent_stream(request: web.Request) -> web.StreamResponse:
    agent_id = request.match_info["id"]
    source = request.app.get(PUSH)
    if source is None:
        raise ApiError(404, "not_found", "the agents' push channel is off: set "
                       "[integrations] agent_push = true")
    if not source.knows(agent_id):
        raise ApiError(404, "unknown_agent", f"no agent {agent_id!r}")
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    with source.subscribe(agent_id) as inbox, request.app[STREAMS].watch(request) as gone:
        try:
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            sent = ""
            last = request.headers.get("Last-Event-ID", "")
            if last:
                for pop in await source.missed(agent_id, last):
                    await response.write(_event(pop))
                    sent = pop[0]
            await _pump(response, inbox, gone, request.app[HEARTBEAT_S], sent)
        except ConnectionError:
            pass  # the desktop left while we wrote
    return response


async def _pump(response: web.StreamResponse, inbox: asyncio.Queue[Pop], gone: asyncio.Event,
                heartbeat_s: float, replayed_upto: str) -> None:
    left = asyncio.ensure_future(gone.wait())
    try:
        while True:
            following = asyncio.ensure_future(inbox.get())
            done, _ = await asyncio.wait({left, following}, timeout=heartbeat_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            if following not in done:
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await following
                if left in done:
                    return
                await response.write(b": heartbeat\n\n")
                continue
            pop = following.result()
            if replayed_upto and _before_or_at(pop[0], replayed_upto):
                continue  # sent already by the replay
            await response.write(_event(pop))
            if left in done:
                return
    finally:
        left.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await left


def _before_or_at(eid: str, upto: str) -> bool:
    n1, _, a = eid.partition("/")
    n2, _, b = upto.partition("/")
    if n1 != n2:
        return False
    try:
        return tuple(map(int, a.split("-"))) <= tuple(map(int, b.split("-")))
    except ValueError:
        return False
