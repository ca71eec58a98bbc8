"""CRM lookup in the IVR, end to end: the real service over the simulated PBX and a real Redis,
a local aiohttp server as the CRM (fast, slow beyond the timeout, 500, invalid JSON, down)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from acd.config import ConfigError, parse_config
from acd.core.crm import MISSING, AnswerError, caller_info, resolve
from acd.core.model import Call, CallState
from acd.service.app import Service
from acd.testing.harness import Harness, wait_for
from tests.test_e2e_callpath import config, manual_phone

TOKEN = "crm-token-for-tests-9f2c"
FOUND = {"customer": {"vip": "yes", "name": "Ada Lovelace", "lang": "es", "queue": "support",
                      "case": "open ticket 42", "accounts": [{"id": "A-77"}]}}


class FakeCrm:
    """Answers by caller number; counts the requests; `slow` numbers wait for `gate`."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()
        self.auth: list[str] = []
        self.gate = asyncio.Event()
        self.port = 0

    async def caller(self, request: web.Request) -> web.StreamResponse:
        number = request.match_info["number"]
        self.asked[number] += 1
        self.auth.append(request.headers.get("Authorization", ""))
        if number.startswith("71"):
            return web.json_response(FOUND)
        if number.startswith("72"):
            return web.Response(status=404)
        if number.startswith("73"):
            return web.Response(status=500, text="boom")
        if number.startswith("74"):
            return web.Response(text="{not json", content_type="application/json")
        if number.startswith("75"):
            await self.gate.wait()
            return web.json_response(FOUND)
        return web.json_response({"customer": {"vip": False}})


@pytest.fixture
async def crm() -> AsyncIterator[FakeCrm]:
    fake = FakeCrm()
    app = web.Application()
    app.router.add_get("/callers/{number}", fake.caller)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.port = runner.addresses[0][1]
    yield fake
    fake.gate.set()
    await runner.cleanup()


def free_port() -> int:
    """A port nobody listens on (bound, then closed): the "CRM is down" case."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def crm_config(port: int, timeout_ms: int = 2500) -> dict[str, Any]:
    data = config()
    data["http"] = {"anonymous_read": True}
    data["integrations"] = {"crm": {
        "url_template": f"http://127.0.0.1:{port}/callers/{{caller_num}}",
        "token_env": "ACD_TEST_CRM_TOKEN", "timeout_ms": timeout_ms,
        "cache_ttl_s": 600, "negative_ttl_s": 600,
        "map": {"vip": "/customer/vip", "language": "customer.lang",
                "queue": "/customer/queue", "customer_name": "customer.name",
                "reason": "customer.case", "account": "customer.accounts.0.id"}}}
    data["flows"]["crm"] = {
        "dnis": ["300"], "start": "who",
        "nodes": {
            "who": {"type": "lookup", "next": "to_sales",
                    "defaults": {"language": "en"},
                    "language_skills": {"es": {"lang_es": 1}}},
            "to_sales": {"type": "queue", "queue": "sales"},
        }}
    return data


@pytest.fixture
async def lab(redis_url: str, monkeypatch: pytest.MonkeyPatch
              ) -> AsyncIterator[Callable[..., Any]]:
    monkeypatch.setenv("ACD_TEST_CRM_TOKEN", TOKEN)
    started: list[Harness] = []

    async def make(cfg: dict[str, Any]) -> Harness:
        h = await Harness.start(cfg, redis_url, phone=manual_phone)
        started.append(h)
        return h

    yield make
    for h in started:
        await h.stop()


def call_in(h: Harness, caller_id: str) -> Call | None:
    channel = next(t["channel"] for t in h.sim.truth() if t["id"] == caller_id)
    return next((c for c in h.engine.calls.values() if c.channel == channel), None)


async def waiting(h: Harness, caller_id: str) -> Call:
    await wait_for(lambda: (c := call_in(h, caller_id)) is not None
                   and c.state is CallState.WAITING, 10, f"{caller_id} to wait")
    call = call_in(h, caller_id)
    assert call is not None
    return call


def dial(h: Harness, number: str) -> str:
    from acd.pbxsim import CallerSpec

    return h.sim.place_call(CallerSpec(number=number, dnis="300"))


async def lookups(h: Harness) -> dict[str, int]:
    now = time.time()
    funnel = await h.engine.store.funnel(["crm"], now - 3600, now + 60)
    return dict(funnel["crm"].lookups.get("who", {}))


async def test_crm_marks_vip_picks_queue_and_language_and_is_cached(
        lab: Callable[..., Any], crm: FakeCrm, caplog: pytest.LogCaptureFixture) -> None:
    h: Harness = await lab(crm_config(crm.port))
    first = dial(h, "7101")
    call = await waiting(h, first)
    # the CRM's queue replaces the queue node's; its language sets the prompts and a skill
    assert call.queue == "support" and call.vip and call.priority == h.cfg.vip.priority
    assert call.language == "es" and call.required == {"support": 1, "lang_es": 1}
    assert call.customer_name == "Ada Lovelace" and call.crm_reason == "open ticket 42"
    assert call.account == "A-77"
    stored = await h.engine.store.get_call(call.id)
    assert stored is not None and stored.customer_name == "Ada Lovelace"
    assert crm.auth == [f"Bearer {TOKEN}"]
    h.sim.hangup_caller(first)
    await wait_for(lambda: call_in(h, first) is None, 10, "the first call to end")

    again = dial(h, "7101")  # the same caller: served from Redis, the CRM is not asked
    call = await waiting(h, again)
    assert call.queue == "support" and call.vip and call.customer_name == "Ada Lovelace"
    assert crm.asked["7101"] == 1
    assert await lookups(h) == {"hit": 1, "cache": 1}

    miss = dial(h, "7201")  # unknown to the CRM: the node's defaults
    call = await waiting(h, miss)
    assert call.queue == "sales" and not call.vip and call.language == "en"
    dial(h, "7201")  # a cached miss
    await wait_for(lambda: sum(1 for c in h.engine.calls.values() if c.caller_num == "7201"
                               and c.state is CallState.WAITING) == 2, 10, "second 7201")
    assert crm.asked["7201"] == 1
    assert await lookups(h) == {"hit": 1, "cache": 2, "miss": 1}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in logged

    # /metrics shows the counts of today
    url = f"http://127.0.0.1:{h.service.http_port}/metrics"

    async def scraped() -> dict[str, float]:
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            text = await resp.text()
        return {s.labels["outcome"]: s.value
                for fam in text_string_to_metric_families(text)
                if fam.name == "acd_ivr_lookups_today" for s in fam.samples
                if s.labels.get("flow") == "crm" and s.labels.get("node") == "who"}

    deadline = time.monotonic() + 10
    while await scraped() != {"hit": 1.0, "cache": 2.0, "miss": 1.0}:
        assert time.monotonic() < deadline, await scraped()
        await asyncio.sleep(0.05)


async def test_crm_failures_give_defaults_and_are_counted(
        lab: Callable[..., Any], crm: FakeCrm, caplog: pytest.LogCaptureFixture) -> None:
    h: Harness = await lab(crm_config(crm.port))
    for number in ("7301", "7401"):  # HTTP 500, then a body that is not JSON
        call = await waiting(h, dial(h, number))
        assert call.queue == "sales" and not call.vip and call.language == "en"
        assert call.customer_name == ""
    assert await lookups(h) == {"error": 2}
    assert crm.asked["7301"] == crm.asked["7401"] == 1

    # a slow CRM: the call waits for it in the IVR, while other callers go on
    slow = dial(h, "7501")
    await wait_for(lambda: crm.asked["7501"] == 1, 10, "the slow lookup to reach the CRM")
    other = await waiting(h, dial(h, "7601"))
    assert other.queue == "sales"
    pending = call_in(h, slow)
    assert pending is not None and pending.state is CallState.IVR
    call = await waiting(h, slow)  # after timeout_ms: the defaults
    assert call.queue == "sales" and not call.vip and call.language == "en"
    counts = await lookups(h)
    assert counts["timeout"] == 1 and counts["error"] == 2
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP 500" in logged and "no answer" in logged
    assert TOKEN not in logged and "7501" not in logged.replace(slow, "")


async def test_crm_down_gives_defaults(lab: Callable[..., Any]) -> None:
    h: Harness = await lab(crm_config(free_port()))
    call = await waiting(h, dial(h, "7101"))
    assert call.queue == "sales" and not call.vip and call.language == "en"
    assert await lookups(h) == {"error": 1}


async def test_caller_gone_during_the_lookup_is_counted_and_changes_nothing(
        lab: Callable[..., Any], crm: FakeCrm) -> None:
    h: Harness = await lab(crm_config(crm.port, timeout_ms=5000))
    slow = dial(h, "7502")
    await wait_for(lambda: crm.asked["7502"] == 1, 10, "the lookup to reach the CRM")
    h.sim.hangup_caller(slow)
    await wait_for(lambda: call_in(h, slow) is None, 10, "the call to end")
    crm.gate.set()  # the CRM answers after the caller left
    await wait_for(lambda: h.engine.events_applied > 0, 5)

    async def counted() -> bool:
        return await lookups(h) == {"hit": 1}

    deadline = time.monotonic() + 10
    while not await counted():
        assert time.monotonic() < deadline, await lookups(h)
        await asyncio.sleep(0.05)
    assert not h.engine.calls


# --- pure parts and config -------------------------------------------------------------------

def test_paths_pointer_and_dotted() -> None:
    doc = {"a": {"b/c": [10, {"d~": "x"}]}, "e": None}
    assert resolve(doc, "/a/b~1c/1/d~0") == "x"
    assert resolve(doc, "a.b/c.0") == 10
    assert resolve(doc, "/a/nope") is MISSING and resolve(doc, "a.b/c.9") is MISSING
    assert resolve(doc, "e") is None


def test_mapping_rejects_garbage_and_reads_found() -> None:
    from acd.config import CrmMapConfig

    mapping = CrmMapConfig(vip="vip", language="lang", found="/ok")
    assert caller_info({"ok": False, "vip": True}, mapping) is None
    info = caller_info({"ok": 1, "vip": "no", "lang": "fr"}, mapping)
    assert info is not None and info.vip is False and info.language == "fr"
    for bad in ({"ok": True, "vip": "perhaps"}, {"ok": True, "lang": "fr; rm -rf"},
                {"ok": True, "lang": {"x": 1}}, "a string"):
        with pytest.raises(AnswerError):
            caller_info(bad, mapping)


def test_crm_config_errors_name_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    data = crm_config(1)
    data["pbx"]["secret"] = "x"
    data["integrations"]["crm"]["url_template"] = "http://crm/{phone}"
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith("integrations.crm: url_template: unknown field(s) "
                                            "phone")
    data["integrations"]["crm"]["url_template"] = "http://crm/{caller_num}"
    data["integrations"]["crm"]["map"]["vip"] = "a..b"
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert [p.split(":")[0] for p in err.value.problems] == ["integrations.crm.map.vip"]

    data = crm_config(1)
    data["pbx"]["secret"] = "x"
    data["flows"]["crm"]["nodes"]["who"]["defaults"] = {"queue": "nope"}
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert err.value.problems == ["flows.crm.nodes.who.defaults.queue: unknown queue 'nope'"]

    data = crm_config(1)
    data["pbx"]["secret"] = "x"
    del data["integrations"]
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert err.value.problems == ["flows.crm.nodes.who: a lookup node needs "
                                  "[integrations.crm]"]

    monkeypatch.delenv("ACD_TEST_CRM_TOKEN", raising=False)
    data = crm_config(1)
    data["pbx"]["secret"] = "x"
    with pytest.raises(ConfigError) as err:
        Service(parse_config(data), redis_url="redis://127.0.0.1:1")
    assert err.value.problems == ["integrations.crm.token_env: environment variable "
                                  "ACD_TEST_CRM_TOKEN is not set"]
