"""At most a few read responses in the making at once, so the API cannot crowd out routing.

The service's event loop runs every ready callback in turn. With 500 pollers of a big snapshot
(1.1 MB of queues at 1,000 queues) hundreds of responses were ready to be written at any moment,
and each step of a routing decision (an AMI frame, a Redis reply) waited behind all of them: in
the benchmark at 5,000 agents, 45 of 2,786 freed agents were rung while the pollers ran. Here a
read request of the API (figures, history, records, metrics) waits for one of `LIMIT` slots
before it is handled, and keeps it until its response is written: the pollers queue (outside
the loop's turns), routing does not. Health probes, the push stream and commands are not
limited.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Middleware

from acd.api.errors import Handler

LIMIT = 16
_LIMITED = ("/api/v1/", "/metrics")
_NOT_LIMITED = ("/api/v1/stream",)


def limited(request: web.Request) -> bool:
    path = request.path
    return (request.method in ("GET", "HEAD") and path.startswith(_LIMITED)
            and not path.startswith(_NOT_LIMITED))


def read_limit(limit: int = LIMIT) -> Middleware:
    """The middleware (one semaphore per app, made in the app's loop on first use)."""
    slots: list[asyncio.Semaphore] = []

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not limited(request):
            return await handler(request)
        if not slots:
            slots.append(asyncio.Semaphore(limit))
        async with slots[0]:
            response = await handler(request)
            if isinstance(response, web.Response) and not response.prepared:
                # written while the slot is held: writing is the costly part
                await response.prepare(request)
                await response.write_eof()
            return response

    return middleware
