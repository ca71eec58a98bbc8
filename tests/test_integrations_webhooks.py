"""Screen pop webhooks from the real service (harness + simulated PBX) to a local aiohttp
server: signature, retry after a 500, and routing going on while the CRM is slow."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from acd.config import ConfigError, parse_config
from acd.core.model import CallState
from acd.integrations.webhooks import ScreenPops
from acd.service.app import Service
from acd.testing.harness import Harness, wait_for
from tests.test_e2e_callpath import call_of, config, login, place, rings

SECRET = "s3cret-for-tests"


class Crm:
    """Records every POST; answers 500 to the first `fail_first`, and holds each answer while
    `gate` is clear."""

    def __init__(self) -> None:
        self.hits: list[dict[str, Any]] = []
        self.fail_first = 1
        self.gate = asyncio.Event()
        self.gate.set()
        self.in_flight = 0
        self.port = 0

    async def pop(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.hits.append({"query": dict(request.query), "body": body,
                          "signature": request.headers.get("X-Acd-Signature", "")})
        if len(self.hits) <= self.fail_first:
            return web.Response(status=500)
        self.in_flight += 1
        try:
            await self.gate.wait()
        finally:
            self.in_flight -= 1
        return web.Response(text="ok")

    def ok_events(self) -> list[dict[str, Any]]:
        return [json.loads(h["body"]) for h in self.hits[self.fail_first:]]


@pytest.fixture
async def crm() -> AsyncIterator[Crm]:
    server = Crm()
    app = web.Application()
    app.router.add_post("/pop", server.pop)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    yield server
    server.gate.set()
    await runner.cleanup()




def pops_of(h: Harness) -> ScreenPops:
    assert h.service.integrations is not None
    handler = h.service.integrations.handler("screen_pop")
    assert isinstance(handler, ScreenPops)
    return handler


async def test_screen_pops_signed_retried_and_never_blocking(
        lab: Callable[..., Any], crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_TEST_POP_SECRET", SECRET)
    data = config()
    data["queues"]["sales"]["screen_pop"] = {
        "url_template": f"http://127.0.0.1:{crm.port}/pop?agent={{agent}}&number={{caller_num}}",
        "secret_env": "ACD_TEST_POP_SECRET", "timeout_s": 30, "retries": 3, "backoff_s": 0.01,
        "events": ["ringing", "answered"]}
    h: Harness = await lab(data)
    pops = pops_of(h)

    await login(h, "a1")
    first = await place(h, "6001", "1")
    await rings(h, "6001", "a1")
    h.sim.agent_answer("PJSIP/1001")
    await wait_for(lambda: pops.counts["sent"] == 2, 10, "two screen pops delivered")
    assert pops.counts["retried"] == 1 and pops.counts["failed"] == 0
    # the 500 was retried with the same body (the other pop may have come in between)
    assert len(crm.hits) == 3 and crm.hits[0]["body"] in [x["body"] for x in crm.hits[1:]]
    for hit in crm.hits:
        expected = hmac.new(SECRET.encode(), hit["body"], hashlib.sha256).hexdigest()
        assert hit["signature"] == f"sha256={expected}"
        assert hit["query"] == {"agent": "a1", "number": "6001"}
    answered, ringing = sorted(crm.ok_events(), key=lambda p: str(p["event"]))
    assert ringing["event"] == "ringing" and answered["event"] == "answered"
    for pop in (ringing, answered):
        assert pop["caller_num"] == "6001" and pop["queue"] == "sales" and pop["agent"] == "a1"
        assert pop["vip"] is False and pop["ivr_path"][-1] == "to_sales"
        assert pop["wait_s"] >= 0 and pop["previous_calls"] == [] and pop["last_agent"] == ""
    assert answered["wait_s"] >= ringing["wait_s"]

    h.sim.hangup_caller(first)
    await wait_for(lambda: call_of(h, "6001") is None, 10, "6001 ended")
    await wait_for(lambda: h.engine.agents["a1"].state.value == "ready", 10, "a1 ready")

    # The CRM now hangs: routing must go on regardless.
    crm.gate.clear()
    await place(h, "6001", "1")  # the same caller again
    await rings(h, "6001", "a1")
    await wait_for(lambda: crm.in_flight == 1, 10, "the ringing pop to be stuck at the CRM")
    h.sim.agent_answer("PJSIP/1001")
    await wait_for(lambda: (c := call_of(h, "6001")) is not None
                   and c.state is CallState.CONNECTED, 10, "connected while the CRM hangs")
    assert crm.in_flight >= 1 and pops.counts["sent"] == 2  # nothing delivered meanwhile
    crm.gate.set()
    await wait_for(lambda: pops.counts["sent"] == 4, 10, "the held pops delivered")
    again = crm.ok_events()[2:]
    assert sorted(p["event"] for p in again) == ["answered", "ringing"]
    for pop in again:
        assert [p["agent"] for p in pop["previous_calls"]] == ["a1"]
        assert pop["previous_calls"][0]["outcome"] == "answered"
        assert pop["last_agent"] == "a1"


def test_missing_secret_variable_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACD_TEST_POP_NOPE", raising=False)
    data = config()
    data["pbx"]["secret"] = "x"
    data["queues"]["sales"]["screen_pop"] = {
        "url_template": "http://127.0.0.1:1/pop", "secret_env": "ACD_TEST_POP_NOPE"}
    with pytest.raises(ConfigError) as err:  # at construction: before attaching to anything
        Service(parse_config(data), redis_url="redis://127.0.0.1:1")
    assert err.value.problems == ["queues.sales.screen_pop.secret_env: environment variable "
                                  "ACD_TEST_POP_NOPE is not set"]


async def test_failures_are_counted_and_logged_without_the_secret(
        lab: Callable[..., Any], crm: Crm, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ACD_TEST_POP_SECRET", SECRET)
    crm.fail_first = 100
    data = config()
    data["queues"]["sales"]["screen_pop"] = {
        "url_template": f"http://127.0.0.1:{crm.port}/pop?n={{caller_num}}",
        "secret_env": "ACD_TEST_POP_SECRET", "retries": 2, "backoff_s": 0.01}
    h: Harness = await lab(data)
    pops = pops_of(h)
    await login(h, "a1")
    await place(h, "6101", "1")
    await rings(h, "6101", "a1")
    await wait_for(lambda: pops.counts["failed"] == 1, 10, "the pop to fail")
    assert len(crm.hits) == 3 and pops.counts["retried"] == 2 and pops.counts["sent"] == 0
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "screen pop" in logged and SECRET not in logged and "6101" not in logged
