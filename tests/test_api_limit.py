"""Figures requests are handled a few at a time (acd/api/limit.py): however many pollers, at
most LIMIT responses are in the making; every request is still answered, health is not held."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from acd.api.limit import LIMIT, limited, read_limit

from .test_api import api, auth


async def test_at_most_limit_responses_at_once_and_all_answered() -> None:
    busy = peak = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal busy, peak
        busy += 1
        peak = max(peak, busy)
        await asyncio.sleep(0.01)
        busy -= 1
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[read_limit(3)])
    app.router.add_get("/api/v1/queues", slow)
    app.router.add_get("/healthz", slow)
    async with TestClient(TestServer(app)) as client:
        async def get(path: str) -> Any:
            async with client.get(path) as resp:
                return resp.status, await resp.json()

        got = await asyncio.gather(*(get("/api/v1/queues") for _ in range(30)))
        assert got == [(200, {"ok": True})] * 30
        assert peak == 3
        peak = 0
        await asyncio.gather(*(get("/healthz") for _ in range(10)))
        assert peak > 3  # not limited


def test_what_is_limited() -> None:
    def req(method: str, path: str) -> Any:
        return type("R", (), {"method": method, "path": path})()

    assert limited(req("GET", "/api/v1/queues")) and limited(req("HEAD", "/metrics"))
    assert not limited(req("GET", "/api/v1/stream"))
    assert not limited(req("POST", "/api/v1/agents/a1/pause"))
    assert not limited(req("GET", "/readyz")) and not limited(req("GET", "/"))
    assert LIMIT >= 4


async def test_the_service_app_answers_as_before() -> None:
    async with api() as client:
        resp = await client.get("/api/v1/queues", headers=auth("viewer"))
        assert resp.status == 200 and resp.headers["X-Content-Type-Options"] == "nosniff"
        assert [q["name"] for q in (await resp.json())["queues"]] == ["sales", "support"]
        agents = await client.get("/api/v1/agents", headers=auth("viewer"))
        assert [a["id"] for a in (await agents.json())["agents"]] == ["a1", "a2", "a3"]
        denied = await client.get("/api/v1/queues")
        assert denied.status == 401
