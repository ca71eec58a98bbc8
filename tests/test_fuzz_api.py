"""Schema-driven fuzzing of the HTTP API from its own OpenAPI document (schemathesis).

The app (`acd.api.create_app` over the in-memory FakeBackend) is served on a loopback port by
`acd.api.testing.serving()` in a thread of its own, so schemathesis' blocking `case.call()` can
reach it. Every operation of the document gets positive and negative cases (derandomized, a few
dozen each) as admin, as viewer and anonymously, with anonymous_read off and on. For every
response: never a 5xx; every 4xx is JSON `{"code", "message"}` (plus `field` on a 400) with
nothing else; a 2xx or 4xx status is one the document declares for the operation; a JSON 200
validates against the declared schema (schemathesis' own conformance check).

`GET /api/v1/stream` never ends by design (SSE): it is fuzzed only with an unknown token (answered
at once); its 200 path is covered by tests/test_api.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from acd.api import create_app
from acd.api.auth import AuthLimiter
from acd.api.keys import OPENAPI
from acd.api.testing import FakeBackend, agent, call, queue, serving, snapshot
from acd.config import HttpConfig, TokenConfig

TOKENS = {"viewer": "fuzz-view-token", "supervisor": "fuzz-sup-token", "admin": "fuzz-adm-token"}
MAX_EXAMPLES = 20
STREAM = ("GET", "/api/v1/stream")


def http_config(anonymous_read: bool) -> HttpConfig:
    return HttpConfig(anonymous_read=anonymous_read, tokens=[
        TokenConfig(name=role, role=role, sha256=hashlib.sha256(tok.encode()).hexdigest())
        for role, tok in TOKENS.items()])


def figures() -> dict[str, Any]:
    return snapshot([queue("sales", waiting=1, ready=1, sl=0.5, offered=2, answered=1),
                     queue("support")],
                    [agent("a1", "Ann", "ready", queues=["sales"])],
                    [call("c1", "sales", wait_s=3.0)])


class ServedApp:
    """The app on a loopback port, its event loop in a daemon thread."""

    def __init__(self, anonymous_read: bool) -> None:
        self.anonymous_read = anonymous_read
        self.url = ""
        self.doc: dict[str, Any] = {}
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = create_app(FakeBackend(figures()), http_config(self.anonymous_read),
                         heartbeat_s=60, auth_limiter=AuthLimiter(max_failures=1_000_000))
        self.doc = app[OPENAPI]
        async with serving(app) as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ServedApp:
        self._thread.start()
        assert self._ready.wait(10), "the app did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture(scope="module", params=[False, True], ids=["auth", "anonymous_read"])
def served(request: pytest.FixtureRequest) -> Iterator[ServedApp]:
    with ServedApp(request.param) as app:
        yield app


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """(method, path, mode) for every operation of the document; negative cases only where
    there is a parameter or a body to make invalid."""
    doc = create_app(FakeBackend(), http_config(False))[OPENAPI]
    out = []
    for path, ops in doc["paths"].items():
        for method, spec in ops.items():
            out.append((method.upper(), path, GenerationMode.POSITIVE))
            if spec.get("parameters") or spec.get("requestBody"):
                out.append((method.upper(), path, GenerationMode.NEGATIVE))
    return out


def content_type(response: Any) -> str:
    return str(response.headers.get("content-type", [""])[0])


def check_response(case: schemathesis.Case[Any], response: Any, declared: set[str]) -> None:
    status = response.status_code
    where = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"
    assert status < 500, f"{where}: {status} {response.text[:500]}"
    assert str(status) in declared, f"{where}: undeclared status {status}: {response.text[:300]}"
    if status >= 400:
        assert content_type(response).startswith("application/json"), where
        body = json.loads(response.text)
        assert isinstance(body, dict), where
        assert {"code", "message"} <= set(body) <= {"code", "message", "field"}, (where, body)
        assert isinstance(body["code"], str) and body["code"], (where, body)
        assert isinstance(body["message"], str) and body["message"], (where, body)
        if status == 400:
            assert isinstance(body.get("field"), str) and body["field"], (where, body)


@pytest.mark.parametrize(("method", "path", "mode"), _cases(),
                         ids=[f"{m} {p} {mode.value}" for m, p, mode in _cases()])
def test_schema_fuzz(served: ServedApp, method: str, path: str,
                     mode: GenerationMode) -> None:
    spec = served.doc["paths"][path][method.lower()]
    schema = schemathesis.openapi.from_dict(served.doc)
    operation = schema[path][method]
    declared = set(spec["responses"])
    # None: whatever schemathesis generates for the security schemes (often nothing); the
    # stream only with a token that answers at once (its 200 never ends)
    roles: list[str | None] = ["bad-token-never-configured"]
    if (method, path) != STREAM:
        roles += [None, "viewer", "admin"]
    session = requests.Session()

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case[Any]) -> None:
        for role in roles:
            headers = {} if role is None else {
                "Authorization": f"Bearer {TOKENS.get(role, role)}"}
            response = case.call(base_url=served.url, session=session, headers=headers,
                                 timeout=10)
            check_response(case, response, declared)
            if response.status_code == 200 and content_type(response).startswith(
                    "application/json"):
                case.validate_response(response, checks=[response_schema_conformance],
                                       headers=headers)

    try:
        run()
    except Unsatisfiable:
        # every parameter is a plain string and there is no body: nothing can be made invalid
        assert mode == GenerationMode.NEGATIVE
        assert "requestBody" not in spec
        # nothing to send that the document calls invalid: asserted above, so this passes
    finally:
        session.close()
