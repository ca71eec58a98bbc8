"""Security of the HTTP API: the failed-authentication limit (per address, injectable clock),
constant-time token comparison, tokens never logged nor echoed on any route, and every mutating
route refused to viewers and anonymous callers, route by route from the app's own table."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from acd.api import app as app_module
from acd.api import auth as auth_module
from acd.api import create_app
from acd.api.auth import AuthLimiter, TokenTable
from acd.api.keys import OPENAPI, ROUTES, TOKENS
from acd.api.route import Route
from acd.api.testing import FakeBackend, agent, call, queue, serving, snapshot
from acd.config import HttpConfig, TokenConfig

SECRETS = {"viewer": "viewer-Zq8secret", "supervisor": "superv-Xk2secret",
           "admin": "admin-Pw7secret"}
BAD = "wrong-Yy5secret"
SAMPLE_PARAMS = {"id": "a1", "name": "sales"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def http_config(anonymous_read: bool = False) -> HttpConfig:
    return HttpConfig(anonymous_read=anonymous_read, tokens=[
        TokenConfig(name=f"{role}-tok", role=role,
                    sha256=hashlib.sha256(tok.encode()).hexdigest())
        for role, tok in SECRETS.items()])


def figures() -> dict[str, Any]:
    return snapshot([queue("sales", waiting=1, ready=1)], [agent("a1", "Ann", "ready")],
                    [call("c1", "sales")])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: SAMPLE_PARAMS.get(m.group(1), "x"), path)


@asynccontextmanager
async def client_for(app: web.Application) -> AsyncIterator[TestClient[web.Request,
                                                                       web.Application]]:
    async with TestClient(TestServer(app)) as client:
        yield client


# --- the failed-authentication limit ---

async def test_ten_failures_then_429_with_retry_after() -> None:
    clock = FakeClock()
    app = create_app(FakeBackend(figures()), http_config(anonymous_read=True),
                     auth_limiter=AuthLimiter(clock=clock))
    async with client_for(app) as client:
        for _ in range(10):  # one a second: t = 1000 ... 1009
            resp = await client.get("/api/v1/queues", headers=bearer(BAD))
            assert resp.status == 401
            clock.now += 1
        clock.now += 20  # t = 1030: the oldest failure frees a place at 1060
        resp = await client.get("/api/v1/queues", headers=bearer(BAD))
        assert resp.status == 429
        assert await resp.json() == {
            "code": "too_many_requests",
            "message": "too many failed authentications from this address: retry in 30 s"}
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.headers["Retry-After"] == "30"
        # a right token too (else the limit would still tell right from wrong), any route
        for path, method in (("/api/v1/queues", "GET"), ("/api/v1/config/reload", "POST")):
            resp = await client.request(method, path, headers=bearer(SECRETS["admin"]))
            assert resp.status == 429, path
        resp = await client.get(f"/?token={SECRETS['viewer']}")
        assert resp.status == 429
        # requests without a token are not limited: open routes, anonymous reads
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/api/v1/queues")).status == 200
        # the window slides from the oldest failure: 60 s after it the address may try again
        clock.now += 29.5
        resp = await client.get("/api/v1/queues", headers=bearer(SECRETS["viewer"]))
        assert resp.status == 429 and resp.headers["Retry-After"] == "1"
        clock.now += 0.5
        assert (await client.get("/api/v1/queues",
                                 headers=bearer(SECRETS["viewer"]))).status == 200
        # the nine later failures are still in the window: one more blocks again, until the
        # second failure (t = 1001) is 60 s old
        assert (await client.get("/api/v1/queues", headers=bearer(BAD))).status == 401
        resp = await client.get("/api/v1/queues", headers=bearer(BAD))
        assert resp.status == 429 and resp.headers["Retry-After"] == "1"


async def test_a_success_resets_nothing() -> None:
    clock = FakeClock()
    app = create_app(FakeBackend(figures()), http_config(),
                     auth_limiter=AuthLimiter(clock=clock))
    async with client_for(app) as client:
        for _ in range(9):
            assert (await client.get("/api/v1/agents", headers=bearer(BAD))).status == 401
            clock.now += 1
        for _ in range(3):
            resp = await client.get("/api/v1/agents", headers=bearer(SECRETS["admin"]))
            assert resp.status == 200
        assert (await client.get("/api/v1/agents", headers=bearer(BAD))).status == 401
        resp = await client.get("/api/v1/agents", headers=bearer(SECRETS["admin"]))
        assert resp.status == 429


async def test_the_limit_is_per_client_address() -> None:
    """Over real TCP from two loopback addresses: 127.0.0.1 is blocked, 127.0.0.2 is not, and
    127.0.0.2's success does not unblock 127.0.0.1."""
    clock = FakeClock()
    app = create_app(FakeBackend(figures()), http_config(),
                     auth_limiter=AuthLimiter(clock=clock))
    async with serving(app) as url:
        one = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=("127.0.0.1", 0)))
        two = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0)))
        async with one, two:
            for _ in range(10):
                async with one.get(url + "/api/v1/calls", headers=bearer(BAD)) as resp:
                    assert resp.status == 401
            async with two.get(url + "/api/v1/calls", headers=bearer(SECRETS["viewer"])) as r:
                assert r.status == 200
            async with two.get(url + "/api/v1/calls", headers=bearer(BAD)) as r:
                assert r.status == 401
            async with one.get(url + "/api/v1/calls",
                               headers=bearer(SECRETS["viewer"])) as resp:
                assert resp.status == 429
                assert int(resp.headers["Retry-After"]) == 60


def test_limiter_unit() -> None:
    clock = FakeClock()
    limiter = AuthLimiter(max_failures=3, window_s=10, clock=clock, max_clients=2)
    assert limiter.retry_after("a") == 0
    for _ in range(3):
        limiter.failed("a")
        clock.now += 2
    assert limiter.retry_after("a") == 4  # the first failure was 6 s ago
    clock.now += 4
    assert limiter.retry_after("a") == 0
    # memory is bounded: a third address evicts the oldest
    limiter.failed("b")
    limiter.failed("c")
    assert len(limiter._failures) <= 2
    with pytest.raises(ValueError):
        AuthLimiter(max_failures=0)


def test_the_openapi_document_declares_429() -> None:
    app = create_app(FakeBackend(), http_config())
    for route in app[ROUTES].values():
        op = app[OPENAPI]["paths"][route.path][route.method.lower()]
        assert ("429" in op["responses"]) == (route.access != "open"), route.path
        if route.access != "open":
            assert "Retry-After" in op["responses"]["429"]["headers"]


# --- constant-time comparison ---

def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every lookup hashes the presented token and compares the digest with every configured
    one through hmac.compare_digest, whether it matches the first, the last or none."""
    table = TokenTable(http_config())
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return bool(real(a, b))

    # auth.py calls hmac.compare_digest through the module: patch it there
    monkeypatch.setattr(hmac, "compare_digest", counting)
    assert auth_module.hmac is hmac  # type: ignore[attr-defined]
    for token in (SECRETS["viewer"], SECRETS["admin"], BAD, "", "x" * 10_000):
        calls.clear()
        table.lookup(token)
        assert calls == [(32, 32)] * len(SECRETS), token
    assert table.lookup(SECRETS["admin"]) is not None


# --- tokens never logged nor echoed ---

async def test_no_route_logs_or_echoes_a_token(caplog: pytest.LogCaptureFixture) -> None:
    """Every route of the table, with each token (and a wrong one) in the header and as
    ?token=, and once blocked (429): no token, nor its SHA-256, in any response or log line."""
    caplog.set_level(logging.DEBUG)
    app = create_app(FakeBackend(figures()), http_config(), heartbeat_s=60,
                     auth_limiter=AuthLimiter(max_failures=1_000_000))
    secrets = [*SECRETS.values(), BAD]
    secrets += [hashlib.sha256(s.encode()).hexdigest() for s in secrets]
    seen: list[str] = []
    table = list(app[ROUTES].values())
    assert len(table) >= 19
    async with serving(app) as url, aiohttp.ClientSession() as session:
        async def hit(method: str, path: str, **kw: Any) -> None:
            async with session.request(method, url + path, **kw) as resp:
                if resp.headers.get("Content-Type", "").startswith("text/event-stream"):
                    seen.append(str(resp.headers) + (await resp.content.readuntil(b"\n\n"))
                                .decode())
                else:
                    seen.append(str(resp.headers) + await resp.text())

        for route in table:
            path = concrete(route.path)
            for token in secrets[:4]:
                await hit(route.method, path, headers=bearer(token))
                await hit(route.method, f"{path}?token={token}")
                await hit(route.method, path, headers={"Authorization": token})  # no scheme
        # and once the address is blocked
        app[TOKENS].limiter.max_failures = 1
        await hit("GET", "/api/v1/queues", headers=bearer(BAD))
        await hit("GET", f"/?token={BAD}")
    logs = "\n".join(r.getMessage() + str(r.args) for r in caplog.records)
    assert "REDACTED" in logs and "429" in "".join(seen)
    text = "\n".join(seen) + logs
    for secret in secrets:
        assert secret not in text


# --- mutating routes ---

def mutating(app: web.Application) -> list[Route]:
    routes = [r for r in app[ROUTES].values() if r.method not in ("GET", "HEAD")]
    assert len(routes) >= 6  # the agent actions, call priority, config reload (and any new)
    return routes


@pytest.mark.parametrize("anonymous_read", [False, True])
async def test_every_mutating_route_refuses_viewers_and_anonymous(anonymous_read: bool) -> None:
    backend = FakeBackend(figures())
    app = create_app(backend, http_config(anonymous_read),
                     auth_limiter=AuthLimiter(max_failures=1000))
    async with client_for(app) as client:
        for route in mutating(app):
            path = concrete(route.path)
            body = {"priority": 1} if path.endswith("priority") else \
                {"queue": "sales"} if path.endswith("/transfer") else {}
            resp = await client.request(route.method, path, json=body,
                                        headers=bearer(SECRETS["viewer"]))
            assert resp.status == 403, path
            assert (await resp.json())["code"] == "forbidden"
            resp = await client.request(route.method, f"{path}?token={SECRETS['viewer']}",
                                        json=body)
            assert resp.status == 401, path
            for headers in ({}, bearer(BAD)):
                resp = await client.request(route.method, path, json=body, headers=headers)
                assert resp.status == 401, (path, headers)
                assert (await resp.json())["code"] == "unauthorized"
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            # the role the route asks for gets through (the table is what is enforced)
            resp = await client.request(route.method, path, json=body,
                                        headers=bearer(SECRETS[route.access]))
            assert resp.status == 200, (path, await resp.text())
    assert len(backend.commands) == len(mutating(app))  # only the allowed calls got through


def test_a_mutating_route_open_to_readers_is_refused_at_start() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    for access in ("read", "open"):
        with pytest.raises(ValueError, match="mutating route"):
            app_module.check_table([Route("POST", "/api/v1/new", handler, access, "new")])
    for method in ("PUT", "PATCH", "DELETE"):
        with pytest.raises(ValueError):
            app_module.check_table([Route(method, "/api/v1/new", handler, "read", "new")])
    app_module.check_table(app_module.routes())  # the shipped table passes
