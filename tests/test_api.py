"""The HTTP API against an in-memory Backend: routes, auth per role, errors, OpenAPI, SSE,
Prometheus, readiness, and secrets kept out of responses and logs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from jsonschema import Draft202012Validator
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from acd.api import create_app
from acd.api import stream as stream_module
from acd.api.auth import AuthLimiter
from acd.api.backend import CommandError, Readiness
from acd.api.metrics import REGISTRY
from acd.api.testing import FakeBackend, agent, call, queue, serving, snapshot
from acd.config import HttpConfig, TokenConfig

TOKENS = {"viewer": "view-s3cret-token", "supervisor": "sup-s3cret-token",
          "admin": "adm-s3cret-token"}
BAD = "not-a-known-token"


def http_config(anonymous_read: bool = False) -> HttpConfig:
    return HttpConfig(anonymous_read=anonymous_read, tokens=[
        TokenConfig(name=f"{role}-1", role=role, sha256=hashlib.sha256(tok.encode()).hexdigest())
        for role, tok in TOKENS.items()])


def figures() -> dict[str, Any]:
    return snapshot(
        [queue("sales", waiting=2, longest_wait_s=31.5, ready=1, on_call=2, sl=0.75,
               asa_s=12.0, offered=20, answered=15, abandoned=2),
         queue("support", waiting=0, ready=3, not_ready=1, sl=None)],
        [agent("a1", "Ann", "on_call", call_id="c2", queues=["sales"]),
         agent("a2", "Bob", "ready", time_in_state_s=40, queues=["sales", "support"]),
         agent("a3", "Cy", "not_ready", reason="lunch", queues=["support"])],
        [call("c1", "sales", wait_s=31.5), call("c2", "sales", "connected", agent_id="a1")])


def auth(role: str | None) -> dict[str, str]:
    if role is None:
        return {}
    return {"Authorization": f"Bearer {TOKENS.get(role, role)}"}


@asynccontextmanager
async def api(backend: FakeBackend | None = None, anonymous_read: bool = False,
              **kw: Any) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    # many wrong tokens from one address here: the limit has its own tests (test_security.py)
    kw.setdefault("auth_limiter", AuthLimiter(max_failures=1000))
    app = create_app(backend or FakeBackend(figures()), http_config(anonymous_read), **kw)
    async with TestClient(TestServer(app)) as client:
        yield client


# --- read routes ---

async def test_read_routes() -> None:
    async with api() as client:
        h = auth("viewer")
        body = await (await client.get("/api/v1/queues", headers=h)).json()
        assert set(body) == {"generated_at", "centre", "queues"}
        assert body["centre"]["name"] == "*" and body["centre"]["waiting"] == 2
        assert [q["name"] for q in body["queues"]] == ["sales", "support"]
        one = await client.get("/api/v1/queues/sales", headers=h)
        assert (await one.json())["longest_wait_s"] == 31.5
        missing = await client.get("/api/v1/queues/nope", headers=h)
        assert missing.status == 404
        assert (await missing.json())["code"] == "not_found"
        agents = await (await client.get("/api/v1/agents", headers=h)).json()
        assert [a["id"] for a in agents["agents"]] == ["a1", "a2", "a3"]
        calls = await (await client.get("/api/v1/calls", headers=h)).json()
        assert {c["state"] for c in calls["calls"]} == {"waiting", "connected"}


async def test_no_figures_yet_is_503() -> None:
    async with api(FakeBackend({})) as client:
        resp = await client.get("/api/v1/queues", headers=auth("viewer"))
        assert resp.status == 503
        assert (await resp.json())["code"] == "not_ready"


async def test_history_parses_instants() -> None:
    backend = FakeBackend(figures())
    async with api(backend) as client:
        h = auth("viewer")
        resp = await client.get("/api/v1/history?queue=sales&from=1700000000&to=1700003600",
                                headers=h)
        assert resp.status == 200
        assert (await resp.json()) == {"queue": "sales", "start": 1700000000.0,
                                       "end": 1700003600.0, "intervals": []}
        # ISO 8601 with an offset, written raw (a '+' in a query string arrives as a space)
        resp = await client.get("/api/v1/history?from=2023-11-14T23:13:20%2B01:00"
                                "&to=2023-11-14T23:13:20+01:00", headers=h)
        assert resp.status == 400 and (await resp.json())["field"] == "from"  # from == to
        resp = await client.get("/api/v1/history?from=2023-11-14T21:13:20Z"
                                "&to=2023-11-14T23:13:20+01:00", headers=h)
        assert resp.status == 200, await resp.text()
        assert backend.commands[-1] == ("history", None, 1699996400.0, 1700000000.0)
        # no offset: the centre's time zone (UTC here)
        await client.get("/api/v1/history?from=2023-11-14T21:13:20&to=1700000000", headers=h)
        assert backend.commands[-1][2] == 1699996400.0


@pytest.mark.parametrize(("query", "field"), [
    ("from=yesterday", "from"),
    ("from=1700000000&to=2023-13-45", "to"),
    ("from=-5", "from"),
    ("from=nan", "from"),
    ("from=1700003600&to=1700000000", "from"),
    ("from=1700000000&to=1800000000", "to"),  # more than 31 days
    ("queue=sa%20les", "queue"),
    ("from=", "from"),
])
async def test_history_bad_input_names_the_field(query: str, field: str) -> None:
    async with api() as client:
        resp = await client.get(f"/api/v1/history?{query}", headers=auth("viewer"))
        assert resp.status == 400
        body = await resp.json()
        assert body["code"] == "bad_request" and body["field"] == field
        assert body["message"].startswith(field)


# --- auth ---

READS = ["/api/v1/queues", "/api/v1/queues/sales", "/api/v1/agents", "/api/v1/calls",
         "/api/v1/history", "/api/v1/openapi.json", "/metrics", "/",
         "/api/v1/erlang?calls_per_hour=600&aht_s=180"]
SUPERVISOR = [("/api/v1/agents/a1/login", {}), ("/api/v1/agents/a1/logout", {}),
              ("/api/v1/agents/a1/ready", None), ("/api/v1/agents/a1/not_ready",
                                                   {"reason": "break"}),
              ("/api/v1/calls/c1/priority", {"priority": 5})]
ADMIN = [("/api/v1/config/reload", None)]
ROLES = [None, BAD, "viewer", "supervisor", "admin"]


def expected(role: str | None, needs: str, anonymous_read: bool) -> int:
    rank = {"viewer": 0, "supervisor": 1, "admin": 2}
    if role is None:
        return 200 if needs == "viewer" and anonymous_read else 401
    if role == BAD:
        return 401
    return 200 if rank[role] >= rank[needs] else 403


@pytest.mark.parametrize("anonymous_read", [False, True])
async def test_roles(anonymous_read: bool) -> None:
    async with api(anonymous_read=anonymous_read) as client:
        for role in ROLES:
            for path in READS:
                resp = await client.get(path, headers=auth(role))
                assert resp.status == expected(role, "viewer", anonymous_read), (role, path)
                await resp.read()
            for needs, routes in (("supervisor", SUPERVISOR), ("admin", ADMIN)):
                for path, body in routes:
                    resp = await client.post(path, json=body, headers=auth(role))
                    assert resp.status == expected(role, needs, anonymous_read), (role, path)
                    payload = await resp.json()
                    if resp.status == 401:
                        assert payload["code"] == "unauthorized"
                        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
                    if resp.status == 403:
                        assert payload["code"] == "forbidden"
            for path in ("/healthz", "/readyz", "/static/wallboard.js"):
                assert (await client.get(path, headers=auth(role))).status == 200


async def test_malformed_authorization_is_401() -> None:
    async with api(anonymous_read=True) as client:
        for value in ("Basic dXNlcjpwdw==", "Bearer", "Bearer   ", TOKENS["viewer"]):
            resp = await client.get("/api/v1/queues", headers={"Authorization": value})
            assert resp.status == 401, value
            assert "Bearer" in resp.headers["WWW-Authenticate"]


async def test_token_in_query_only_for_stream_and_wallboard() -> None:
    async with api() as client:
        token = TOKENS["viewer"]
        assert (await client.get(f"/?token={token}")).status == 200
        assert (await client.get("/?token=nope")).status == 401
        resp = await client.get(f"/api/v1/queues?token={token}")
        assert resp.status == 401
        assert "?token=" in (await resp.json())["message"]
        stream = await client.get(f"/api/v1/stream?token={token}")
        assert stream.status == 200
        assert stream.headers["Content-Type"] == "text/event-stream"
        stream.close()


# --- actions ---

async def test_actions_reach_the_backend() -> None:
    backend = FakeBackend(figures())
    async with api(backend) as client:
        h = auth("supervisor")
        resp = await client.post("/api/v1/agents/a3/not_ready", json={"reason": "lunch"},
                                 headers=h)
        assert resp.status == 200 and (await resp.json())["reason"] == "lunch"
        await client.post("/api/v1/agents/a3/ready", headers=h)  # no body at all
        await client.post("/api/v1/agents/a3/logout", data=b"{}", headers=h)
        resp = await client.post("/api/v1/calls/c1/priority", json={"priority": 9}, headers=h)
        assert (await resp.json())["priority"] == 9
        await client.post("/api/v1/config/reload", headers=auth("admin"))
        assert backend.commands == [("agent", "a3", "not_ready", "lunch"),
                                    ("agent", "a3", "ready", ""),
                                    ("agent", "a3", "logout", ""),
                                    ("priority", "c1", 9), ("reload",)]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/calls/c1/priority", {}, "priority"),
    ("/api/v1/calls/c1/priority", {"priority": "5"}, "priority"),
    ("/api/v1/calls/c1/priority", {"priority": True}, "priority"),
    ("/api/v1/calls/c1/priority", {"priority": 1000}, "priority"),
    ("/api/v1/calls/c1/priority", {"priority": 1, "queue": "x"}, "queue"),
    ("/api/v1/calls/c1/priority", [1], "body"),
    ("/api/v1/calls/c1/priority", b"{nope", "body"),
    ("/api/v1/agents/a1/not_ready", {"reason": 5}, "reason"),
    ("/api/v1/agents/a1/not_ready", {"reason": "x" * 65}, "reason"),
    ("/api/v1/agents/a1/login", {"reason": "x"}, "reason"),
])
async def test_bad_bodies_name_the_field(path: str, body: Any, field: str) -> None:
    backend = FakeBackend(figures())
    async with api(backend) as client:
        kw = {"data": body} if isinstance(body, bytes) else {"json": body}
        resp = await client.post(path, headers=auth("admin"), **kw)
        assert resp.status == 400
        payload = await resp.json()
        assert payload["code"] == "bad_request" and payload["field"] == field
        assert field in payload["message"]
        assert backend.commands == []


@pytest.mark.parametrize(("what", "path", "error"), [
    ("history", "/api/v1/history?queue=gone", CommandError("not_found", "unknown queue", 404)),
    ("ready", "/api/v1/agents/zz/ready", CommandError("unknown_agent", "no agent zz", 404)),
    ("login", "/api/v1/agents/a1/login", CommandError("bad_transition", "already in")),
    ("priority", "/api/v1/calls/c2/priority", CommandError("not_waiting", "c2 is connected")),
    ("reload", "/api/v1/config/reload",
     CommandError("bad_config", "queues.x.sla.threshold_s: must be > 0", 400)),
])
async def test_command_errors_map_to_status(what: str, path: str, error: CommandError) -> None:
    backend = FakeBackend(figures())
    backend.fail[what] = error
    async with api(backend) as client:
        body = {"priority": 1} if what == "priority" else None
        if what == "history":
            resp = await client.get(path, headers=auth("admin"))
        else:
            resp = await client.post(path, json=body, headers=auth("admin"))
        assert resp.status == error.status
        assert await resp.json() == {"code": error.code, "message": error.message}


async def test_unknown_route_wrong_method_and_crash_are_json() -> None:
    backend = FakeBackend(figures())
    async with api(backend) as client:
        resp = await client.get("/api/v1/nothing", headers=auth("admin"))
        assert resp.status == 404 and (await resp.json())["code"] == "not_found"
        resp = await client.delete("/api/v1/queues", headers=auth("admin"))
        assert resp.status == 405
        assert (await resp.json())["code"] == "method_not_allowed"
        assert resp.headers["Allow"] == "GET"
        resp = await client.get("/static/../backend.py")
        assert resp.status == 404 and (await resp.json())["code"] == "not_found"

        def boom() -> Readiness:
            raise RuntimeError("redis password=hunter2 exploded")
        backend.readiness = boom  # type: ignore[method-assign]
        resp = await client.get("/readyz")
        assert resp.status == 500
        body = await resp.json()
        assert body["code"] == "internal_error" and "hunter2" not in body["message"]


# --- health ---

async def test_readyz_says_what_is_missing() -> None:
    backend = FakeBackend(figures())
    async with api(backend) as client:
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/readyz")).status == 200
        backend.ready = Readiness(ready=False, ami=False, redis=True,
                                  reason="AMI: not connected to pbx default")
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert await resp.json() == {"ready": False, "ami": False, "redis": True,
                                     "reason": "AMI: not connected to pbx default"}
        assert (await client.get("/healthz")).status == 200


# --- Prometheus ---

async def test_metrics_parse() -> None:
    async with api() as client:
        resp = await client.get("/metrics", headers=auth("viewer"))
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(await resp.text())
                   for s in family.samples}
    assert samples[("acd_queue_waiting", (("queue", "sales"),))] == 2
    assert samples[("acd_queue_waiting", (("queue", "*"),))] == 2
    assert samples[("acd_queue_longest_wait_seconds", (("queue", "sales"),))] == 31.5
    assert samples[("acd_queue_service_level", (("queue", "sales"), ("window", "15m")))] == 0.75
    assert ("acd_queue_service_level", (("queue", "support"), ("window", "15m"))) not in samples
    assert samples[("acd_queue_offered", (("queue", "sales"), ("window", "today")))] == 20
    assert samples[("acd_queue_abandoned", (("queue", "sales"), ("window", "60m")))] == 2
    assert samples[("acd_queue_asa_seconds", (("queue", "sales"), ("window", "15m")))] == 12
    assert samples[("acd_queue_agents", (("queue", "sales"), ("state", "on_call")))] == 2
    assert samples[("acd_agents", (("state", "not_ready"),))] == 1
    assert samples[("acd_agents", (("state", "wrap_up"),))] == 0
    assert samples[("acd_calls", (("state", "waiting"),))] == 1
    assert samples[("acd_ready", (("part", "all"),))] == 1


async def test_metrics_openmetrics_and_before_first_snapshot() -> None:
    async with api(FakeBackend({})) as client:
        resp = await client.get("/metrics", headers={
            **auth("viewer"), "Accept": "application/openmetrics-text; version=1.0.0"})
        assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
        text = await resp.text()
        assert "acd_ready" in text and text.endswith("# EOF\n")


async def test_a_slow_scrape_does_not_hold_the_other_requests() -> None:
    """/metrics renders in a thread: a long exposition (a big centre's) does not make the
    API's other requests wait for it."""
    rendering, release = threading.Event(), threading.Event()

    class Slow(Collector):
        def collect(self) -> Iterator[Metric]:
            rendering.set()
            release.wait(5.0)  # (rendering as long as a big centre's takes)
            yield GaugeMetricFamily("acd_slow", "slow", value=1)

    async with api() as client:
        client.app[REGISTRY].register(Slow())
        scrape = asyncio.create_task(client.get("/metrics", headers=auth("viewer")))
        await wait_for(rendering.is_set, 5.0)
        # served while the scrape renders (in the loop, it would wait for the release)
        resp = await client.get("/api/v1/queues", headers=auth("viewer"))
        assert resp.status == 200 and not scrape.done()
        release.set()
        text = await (await scrape).text()
    assert "acd_slow 1.0" in text


# --- OpenAPI ---

def app_routes(app: web.Application) -> set[tuple[str, str]]:
    return {(r.method, r.resource.canonical) for r in app.router.routes()
            if r.method != "HEAD" and r.resource is not None}


def doc_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        "urn:acd:openapi", Resource.from_contents(doc, default_specification=DRAFT202012))
    ref = schema["$ref"].replace("#", "urn:acd:openapi#", 1)
    return Draft202012Validator({"$ref": ref}, registry=registry)


RESPONSES: list[tuple[str, str, str, Any, str | None]] = [  # method, url, template, body, role
    ("GET", "/api/v1/queues", "/api/v1/queues", None, "viewer"),
    ("GET", "/api/v1/queues", "/api/v1/queues", None, None),
    ("GET", "/api/v1/queues/sales", "/api/v1/queues/{name}", None, "viewer"),
    ("GET", "/api/v1/queues/nope", "/api/v1/queues/{name}", None, "viewer"),
    ("GET", "/api/v1/agents", "/api/v1/agents", None, "viewer"),
    ("GET", "/api/v1/calls", "/api/v1/calls", None, "viewer"),
    ("GET", "/api/v1/history?from=1&to=900", "/api/v1/history", None, "viewer"),
    ("GET", "/api/v1/history?from=x", "/api/v1/history", None, "viewer"),
    ("GET", "/api/v1/erlang?calls_per_hour=600&aht_s=180&agents=29", "/api/v1/erlang", None,
     "viewer"),
    ("GET", "/api/v1/erlang?calls_per_hour=600", "/api/v1/erlang", None, "viewer"),
    ("GET", "/healthz", "/healthz", None, None),
    ("GET", "/readyz", "/readyz", None, None),
    ("POST", "/api/v1/agents/a1/login", "/api/v1/agents/{id}/login", None, "supervisor"),
    ("POST", "/api/v1/agents/a1/logout", "/api/v1/agents/{id}/logout", None, "supervisor"),
    ("POST", "/api/v1/agents/a1/ready", "/api/v1/agents/{id}/ready", None, "viewer"),
    ("POST", "/api/v1/agents/a1/not_ready", "/api/v1/agents/{id}/not_ready",
     {"reason": "x"}, "supervisor"),
    ("POST", "/api/v1/calls/c1/priority", "/api/v1/calls/{id}/priority", {"priority": 3},
     "supervisor"),
    ("POST", "/api/v1/calls/c1/priority", "/api/v1/calls/{id}/priority", {"priority": "3"},
     "supervisor"),
    ("POST", "/api/v1/config/reload", "/api/v1/config/reload", None, "admin"),
    ("POST", "/api/v1/config/reload", "/api/v1/config/reload", None, "supervisor"),
]


async def test_openapi_matches_the_app_and_the_responses() -> None:
    backend = FakeBackend(figures())
    backend.history_rows = [{"queue": "sales", "start": 0.0, "end": 900.0,
                             "figures": figures()["queues"][0]["windows"]["15m"]}]
    app = create_app(backend, http_config())
    async with TestClient(TestServer(app)) as client:
        doc = await (await client.get("/api/v1/openapi.json", headers=auth("viewer"))).json()
        assert doc["openapi"].startswith("3.1")
        assert app_routes(app) == doc_routes(doc)
        Draft202012Validator.check_schema({"$defs": doc["components"]["schemas"]})
        checked = set()
        for method, path, template, body, role in RESPONSES:
            resp = await client.request(method, path, json=body, headers=auth(role))
            op = doc["paths"][template][method.lower()]
            assert str(resp.status) in op["responses"], (method, path, resp.status)
            schema = op["responses"][str(resp.status)]["content"]["application/json"]["schema"]
            validator(doc, schema).validate(await resp.json())
            checked.add((template, resp.status))
        assert len(checked) == len(RESPONSES)  # each a distinct (route, status)
        # the stream's payload is a Snapshot
        validator(doc, {"$ref": "#/components/schemas/Snapshot"}).validate(backend.snapshot())


async def test_openapi_security_follows_anonymous_read() -> None:
    for anonymous in (False, True):
        async with api(anonymous_read=anonymous) as client:
            doc = await (await client.get("/api/v1/openapi.json")
                         if anonymous else
                         await client.get("/api/v1/openapi.json", headers=auth("viewer"))).json()
            ops = doc["paths"]
            assert ({} in ops["/api/v1/queues"]["get"]["security"]) is anonymous
            assert {} not in ops["/api/v1/config/reload"]["post"]["security"]
            assert ops["/healthz"]["get"]["security"] == []
            assert {"tokenQuery": []} in ops["/api/v1/stream"]["get"]["security"]


# --- Server-Sent Events (the production runner: no handler cancellation) ---

async def read_event(resp: aiohttp.ClientResponse) -> tuple[str, str]:
    """The next event (name, data), skipping comments and the retry field."""
    name, data = "", list[str]()
    while True:
        line = (await resp.content.readline()).decode()
        if line == "":
            raise EOFError
        line = line.rstrip("\n")
        if not line:
            if data or name:
                return name, "\n".join(data)
            continue
        if line.startswith(":"):
            if not data and not name:
                return "comment", line
            continue
        key, _, value = line.partition(": ")
        if key == "event":
            name = value
        elif key == "data":
            data.append(value)


async def wait_for(predicate: Any, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_stream_pushes_snapshots_and_heartbeats() -> None:
    backend = FakeBackend(figures())
    app = create_app(backend, http_config(), heartbeat_s=0.2)
    async with serving(app) as url, aiohttp.ClientSession() as session:
        resp = await session.get(f"{url}/api/v1/stream", headers=auth("viewer"))
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        name, data = await asyncio.wait_for(read_event(resp), 1)
        assert name == "snapshot" and json.loads(data) == backend.snapshot()
        await wait_for(lambda: backend.subscribers == 1)
        newer = snapshot([queue("sales", waiting=7)])
        backend.publish(newer)
        name, data = await asyncio.wait_for(read_event(resp), 1)
        assert name == "snapshot" and json.loads(data)["queues"][0]["waiting"] == 7
        assert await asyncio.wait_for(read_event(resp), 1) == ("comment", ": heartbeat")
        resp.close()


async def test_a_big_push_is_written_in_pieces_and_read_whole(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_module, "PUSH_PIECE", 97)  # (a big centre's push: megabytes)
    writes: list[int] = []
    real_write = web.StreamResponse.write

    async def counted(self: web.StreamResponse, data: Any) -> None:
        writes.append(len(data))
        await real_write(self, data)

    monkeypatch.setattr(web.StreamResponse, "write", counted)
    backend = FakeBackend(figures())
    app = create_app(backend, http_config(), heartbeat_s=60)
    async with serving(app) as url, aiohttp.ClientSession() as session:
        resp = await session.get(f"{url}/api/v1/stream", headers=auth("viewer"))
        name, data = await asyncio.wait_for(read_event(resp), 2)
        assert name == "snapshot" and json.loads(data) == backend.snapshot()
        assert max(writes) <= 97 and len(writes) > 5  # in pieces, none bigger than a piece
        await wait_for(lambda: backend.subscribers == 1)
        newer = snapshot([queue("sales", waiting=7)])
        backend.publish(newer)
        name, data = await asyncio.wait_for(read_event(resp), 2)
        assert json.loads(data) == newer
        resp.close()


async def test_stream_sends_only_the_parts_asked_for() -> None:
    backend = FakeBackend(figures())
    app = create_app(backend, http_config(), heartbeat_s=60)
    async with serving(app) as url, aiohttp.ClientSession() as session:
        resp = await session.get(f"{url}/api/v1/stream?parts=queues,%20centre",
                                 headers=auth("viewer"))
        assert resp.status == 200
        _, data = await asyncio.wait_for(read_event(resp), 1)
        got = json.loads(data)
        assert list(got) == ["generated_at", "timezone", "pbxs", "centre", "queues"]
        assert got["queues"] == backend.snapshot()["queues"]
        await wait_for(lambda: backend.subscribers == 1)
        backend.publish(snapshot([queue("sales", waiting=4)]))
        _, data = await asyncio.wait_for(read_event(resp), 1)
        assert "agents" not in json.loads(data)
        assert json.loads(data)["queues"][0]["waiting"] == 4
        resp.close()
        for bad, named in (("", "none given"), ("queues,secrets", "'secrets'"),
                           ("calls,,", "''")):
            resp = await session.get(f"{url}/api/v1/stream?parts={bad}", headers=auth("viewer"))
            assert resp.status == 400
            error = await resp.json()
            assert error["code"] == "bad_request" and error["field"] == "parts", error
            assert named in error["message"], error


async def test_stream_sends_a_replayed_snapshot_once() -> None:
    """A subscription that starts with the current snapshot (as the service's does)."""
    backend = FakeBackend(figures(), replay_current=True)
    app = create_app(backend, http_config(), heartbeat_s=60)
    async with serving(app) as url, aiohttp.ClientSession() as session:
        resp = await session.get(f"{url}/api/v1/stream", headers=auth("viewer"))
        await asyncio.wait_for(read_event(resp), 1)
        await wait_for(lambda: backend.subscribers == 1)
        backend.publish(snapshot([queue("sales", waiting=9)]))
        _, data = await asyncio.wait_for(read_event(resp), 1)
        assert json.loads(data)["queues"][0]["waiting"] == 9
        resp.close()


async def test_stream_notices_the_client_leaving() -> None:
    """No write fails for a minute (heartbeat 60 s): only the disconnect race can notice."""
    backend = FakeBackend(figures())
    app = create_app(backend, http_config(), heartbeat_s=60)
    async with serving(app) as url, aiohttp.ClientSession() as session:
        resp = await session.get(f"{url}/api/v1/stream", headers=auth("viewer"))
        await asyncio.wait_for(read_event(resp), 1)
        await wait_for(lambda: backend.subscribers == 1)
        resp.close()  # the client leaves: the handler must stop and unsubscribe
        await wait_for(lambda: backend.subscribers == 0, 2.0)


async def test_stream_ends_at_shutdown() -> None:
    backend = FakeBackend(figures())
    app = create_app(backend, http_config(anonymous_read=True))
    started = time.monotonic()
    async with serving(app) as url, aiohttp.ClientSession() as session:
        resp = await session.get(f"{url}/api/v1/stream")
        await read_event(resp)
        await wait_for(lambda: backend.subscribers == 1)
    assert backend.subscribers == 0
    assert time.monotonic() - started < 1.0  # not held until the shutdown timeout
    resp.close()


# --- secrets ---

async def test_tokens_never_in_responses_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = FakeBackend(figures())
    app = create_app(backend, http_config())
    secrets = [*TOKENS.values(), BAD, *(hashlib.sha256(t.encode()).hexdigest()
                                         for t in TOKENS.values())]
    seen: list[str] = []
    async with serving(app) as url, aiohttp.ClientSession() as session:
        for role in (*ROLES, "viewer"):
            for path in ("/api/v1/queues", "/api/v1/config/reload", "/api/v1/openapi.json",
                         "/metrics", "/nope"):
                async with session.get(url + path, headers=auth(role)) as resp:
                    seen.append(str(resp.headers) + await resp.text())
            for token in (TOKENS["viewer"], BAD):
                async with session.get(f"{url}/?token={token}") as resp:
                    seen.append(str(resp.headers) + await resp.text())
    text = "\n".join(seen) + "\n".join(r.getMessage() for r in caplog.records)
    assert any("REDACTED" in r.getMessage() for r in caplog.records)  # the access log ran
    for secret in secrets:
        assert secret not in text
