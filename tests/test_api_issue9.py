"""The issue-9 routes against an in-memory Backend: wrap-up codes, transfers, escalation and
the figures by reason; bad bodies name the field, command errors keep their status, and every
answer matches the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from acd.api import create_app
from acd.api.backend import CommandError
from acd.api.testing import FakeBackend, reason_board, trend_board
from tests.test_api import api, auth, figures, http_config, validator


async def test_commands_reach_the_backend() -> None:
    backend = FakeBackend(figures())
    async with api(backend) as client:
        h = auth("supervisor")
        resp = await client.post("/api/v1/agents/a1/wrapup",
                                 json={"codes": ["paid", "later"], "resolved": False}, headers=h)
        assert resp.status == 200 and (await resp.json())["codes"] == ["paid", "later"]
        await client.post("/api/v1/agents/a1/wrapup", json={"done": True}, headers=h)
        resp = await client.post("/api/v1/calls/c2/transfer", json={"queue": "support"},
                                 headers=h)
        assert (await resp.json())["state"] == "waiting"
        await client.post("/api/v1/calls/c2/transfer", json={"agent": "a2", "mode": "warm"},
                          headers=h)
        await client.post("/api/v1/calls/c2/transfer/complete", headers=h)
        await client.post("/api/v1/calls/c2/transfer/cancel", json={}, headers=h)
        await client.post("/api/v1/calls/c2/escalate", headers=h)
    assert backend.commands == [
        ("wrapup", "a1", ["paid", "later"], False, False), ("wrapup", "a1", [], None, True),
        ("transfer", "c2", "support", None, "blind"), ("transfer", "c2", None, "a2", "warm"),
        ("complete", "c2"), ("cancel", "c2"), ("escalate", "c2")]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/calls/c1/transfer", {}, "body"),  # no target
    ("/api/v1/calls/c1/transfer", {"queue": "a", "agent": "b"}, "body"),  # two targets
    ("/api/v1/calls/c1/transfer", {"queue": "a", "mode": "later"}, "mode"),
    ("/api/v1/calls/c1/transfer", {"queue": "no spaces"}, "queue"),
    ("/api/v1/calls/c1/transfer", {"queue": "a", "priority": 1}, "priority"),
    ("/api/v1/calls/c1/escalate", {"queue": "a"}, "queue"),
    ("/api/v1/calls/c1/transfer/complete", {"now": True}, "now"),
    ("/api/v1/agents/a1/wrapup", {"codes": "paid"}, "codes"),
    ("/api/v1/agents/a1/wrapup", {"codes": ["x"] * 11}, "codes"),
    ("/api/v1/agents/a1/wrapup", {"codes": ["a:b"]}, "codes.0"),
    ("/api/v1/agents/a1/wrapup", {"resolved": "yes"}, "resolved"),
    ("/api/v1/agents/a1/wrapup", {"done": 1}, "done"),
])
async def test_bad_bodies_name_the_field(path: str, body: Any, field: str) -> None:
    backend = FakeBackend(figures())
    async with api(backend) as client:
        resp = await client.post(path, json=body, headers=auth("supervisor"))
        assert resp.status == 400
        payload = await resp.json()
        assert payload["code"] == "bad_request" and payload["field"] == field, payload
        assert backend.commands == []


@pytest.mark.parametrize(("what", "path", "body", "error"), [
    ("transfer", "/api/v1/calls/c1/transfer", {"agent": "a3"},
     CommandError("agent_not_ready", "agent a3 is not_ready")),
    ("transfer", "/api/v1/calls/zz/transfer", {"queue": "sales"},
     CommandError("unknown_call", "no live call 'zz'", 404)),
    ("escalate", "/api/v1/calls/c1/escalate", None,
     CommandError("no_escalation_queue", "queue sales has no escalation queue")),
    ("complete", "/api/v1/calls/c1/transfer/complete", None,
     CommandError("no_consultation", "call c1 has no warm transfer in progress")),
    ("wrapup", "/api/v1/agents/a1/wrapup", {"codes": ["nope"]},
     CommandError("bad_code", "codes: 'nope' not in queue sales's list", 400)),
    ("wrapup", "/api/v1/agents/a1/wrapup", {"done": True},
     CommandError("code_required", "a code is needed before the wrap-up ends")),
    ("reason_history", "/api/v1/reasons/history?reason=gone", None,
     CommandError("not_found", "unknown reason 'gone'", 404)),
])
async def test_command_errors_keep_their_status(what: str, path: str, body: Any,
                                                error: CommandError) -> None:
    backend = FakeBackend(figures())
    backend.fail[what] = error
    async with api(backend) as client:
        if path.startswith("/api/v1/reasons"):
            resp = await client.get(path, headers=auth("viewer"))
        else:
            resp = await client.post(path, json=body, headers=auth("supervisor"))
        assert resp.status == error.status
        assert await resp.json() == {"code": error.code, "message": error.message}


async def test_reason_reads_and_their_query() -> None:
    backend = FakeBackend(figures())
    backend.reason_snapshot = {}
    async with api(backend) as client:
        resp = await client.get("/api/v1/reasons", headers=auth("viewer"))
        assert resp.status == 503  # no figures yet
        resp = await client.get("/api/v1/reasons/history?step=month", headers=auth("viewer"))
        assert resp.status == 400 and (await resp.json())["field"] == "step"
        resp = await client.get("/api/v1/reasons/history?reason=a%20b", headers=auth("viewer"))
        assert resp.status == 400 and (await resp.json())["field"] == "reason"
        resp = await client.get("/api/v1/reasons/history?reason=(none)&step=day&from=0&to=900",
                                headers=auth("viewer"))
        assert resp.status == 200
        assert await resp.json() == {"reason": "(none)", "step": "day", "start": 0.0,
                                     "end": 900.0, "rows": []}
        resp = await client.get("/api/v1/reasons")  # no token
        assert resp.status == 401
    assert backend.commands == [("reason_history", "(none)", 0.0, 900.0, "day")]


REASONS = reason_board([("refund", "Refund", 1, 4, 0.5, 1.0, 0.25, 75.0)])
TRENDS = trend_board([("refund", "Refund", 4, 2)])


async def test_answers_match_the_openapi_document() -> None:
    backend = FakeBackend(figures())
    backend.reason_snapshot = REASONS
    backend.trends = TRENDS
    backend.reason_rows = [{"reason": "refund", "start": 0.0, "end": 900.0,
                            "figures": REASONS["reasons"][0]["today"]}]
    app = create_app(backend, http_config())
    checks: list[tuple[str, str, str, Any, str]] = [
        ("GET", "/api/v1/reasons", "/api/v1/reasons", None, "viewer"),
        ("GET", "/api/v1/reasons/history?from=0&to=900", "/api/v1/reasons/history", None,
         "viewer"),
        ("GET", "/api/v1/reasons/history?step=x", "/api/v1/reasons/history", None, "viewer"),
        ("GET", "/api/v1/reasons/trends", "/api/v1/reasons/trends", None, "viewer"),
        ("POST", "/api/v1/agents/a1/wrapup", "/api/v1/agents/{id}/wrapup",
         {"codes": ["paid"]}, "supervisor"),
        ("POST", "/api/v1/calls/c1/transfer", "/api/v1/calls/{id}/transfer",
         {"queue": "support"}, "supervisor"),
        ("POST", "/api/v1/calls/c1/transfer", "/api/v1/calls/{id}/transfer", {}, "supervisor"),
        ("POST", "/api/v1/calls/c1/transfer/complete", "/api/v1/calls/{id}/transfer/complete",
         None, "supervisor"),
        ("POST", "/api/v1/calls/c1/transfer/cancel", "/api/v1/calls/{id}/transfer/cancel",
         None, "supervisor"),
        ("POST", "/api/v1/calls/c1/escalate", "/api/v1/calls/{id}/escalate", None,
         "supervisor"),
        ("POST", "/api/v1/calls/c1/escalate", "/api/v1/calls/{id}/escalate", None, "viewer"),
    ]
    async with TestClient(TestServer(app)) as client:
        doc = await (await client.get("/api/v1/openapi.json", headers=auth("viewer"))).json()
        for method, path, template, body, role in checks:
            resp = await client.request(method, path, json=body, headers=auth(role))
            op = doc["paths"][template][method.lower()]
            assert str(resp.status) in op["responses"], (method, path, resp.status)
            schema = op["responses"][str(resp.status)]["content"]["application/json"]["schema"]
            validator(doc, schema).validate(await resp.json())
