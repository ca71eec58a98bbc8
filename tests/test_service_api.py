"""The HTTP API of the real service (simulated PBX over TCP, real Redis): figures, supervisor
commands carried out by the engine, config reload, readiness."""

from __future__ import annotations

import asyncio
import hashlib
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.api.models import FunnelOut, QueuesOut
from acd.core.model import AgentState, CallState
from acd.pbxsim import AgentPhone, CallerSpec
from acd.stats.schema import AgentFigures, CallView
from acd.testing.harness import Harness, wait_for

from .test_e2e_callpath import call_of, config, until_waiting

TOKENS = {"view": "viewer", "boss": "supervisor", "root": "admin"}


def secret(name: str) -> str:
    return f"token-{name}-0c5e"


@pytest.fixture(params=[False, True], ids=["one-process", "own-process"])
async def centre(redis_url: str, tmp_path: Path, request: pytest.FixtureRequest
                 ) -> AsyncIterator[tuple[Harness, str, Path]]:
    """The service with its API in the routing process, and (http.own_process) in a figures
    process of its own, a real child process: every test here runs against both."""
    cfg = config()
    cfg["http"] = {"port": 0, "snapshot_interval_s": 0.2, "own_process": request.param,
                   "tokens": [
        {"name": n, "role": r, "sha256": hashlib.sha256(secret(n).encode()).hexdigest()}
        for n, r in TOKENS.items()]}
    path = tmp_path / "acd.toml"
    h = await Harness.start(cfg, redis_url, config_path=path, phone=lambda i, e: AgentPhone(
        interface=i, extension=e, answer_after_s=None, talk_s=None))
    base = f"http://127.0.0.1:{h.service.http_port}"
    try:
        async with asyncio.timeout(20):
            while (await call_api("GET", f"{base}/readyz", None))[0] != 200 or (
                    await call_api("GET", f"{base}/api/v1/queues", "view"))[0] != 200:
                await asyncio.sleep(0.05)  # attached, and a first snapshot made
        yield h, base, path
    finally:
        await h.stop()


async def call_api(method: str, url: str, who: str | None, body: Any = None
                   ) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {secret(who)}"} if who else {}
    async with aiohttp.ClientSession() as s, s.request(method, url, json=body,
                                                       headers=headers) as r:
        return r.status, await r.json()


async def test_queues_match_the_schema_and_need_a_token(
        centre: tuple[Harness, str, Path]) -> None:
    _, base, _ = centre
    status, body = await call_api("GET", f"{base}/api/v1/queues", None)
    assert status == 401 and body["code"] == "unauthorized"
    status, body = await call_api("GET", f"{base}/api/v1/queues", "view")
    assert status == 200
    out = QueuesOut.model_validate(body)
    assert [q.name for q in out.queues] == ["sales", "support"]
    status, body = await call_api("GET", f"{base}/readyz", None)
    assert status == 200 and body["ready"] is True


async def test_supervisor_logs_an_agent_in_and_pauses_it(
        centre: tuple[Harness, str, Path]) -> None:
    h, base, _ = centre
    url = f"{base}/api/v1/agents/a1"
    status, body = await call_api("POST", f"{url}/login", "view")
    assert status == 403 and body["code"] == "forbidden"
    status, body = await call_api("POST", f"{url}/login", "boss")
    assert status == 200, body
    assert AgentFigures.model_validate(body).state == "ready"
    assert h.engine.agents["a1"].state is AgentState.READY
    status, body = await call_api("POST", f"{url}/login", "boss")
    assert status == 409 and body["code"] == "bad_transition"
    status, body = await call_api("POST", f"{url}/not_ready", "boss", {"reason": "lunch"})
    assert status == 200 and body["state"] == "not_ready" and body["reason"] == "lunch"
    assert h.engine.agents["a1"].reason == "lunch"
    status, body = await call_api("POST", f"{base}/api/v1/agents/nobody/login", "boss")
    assert status == 404 and body["code"] == "unknown_agent"


async def test_priority_change_moves_a_waiting_call_ahead(
        centre: tuple[Harness, str, Path]) -> None:
    h, base, _ = centre
    h.sim.place_call(CallerSpec(number="6101", dnis="100", inputs=["2"]))
    first = await until_waiting(h, "6101")
    h.sim.place_call(CallerSpec(number="6102", dnis="100", inputs=["2"]))
    second = await until_waiting(h, "6102")
    assert await h.engine.store.waiting_ids("support") == [first.id, second.id]
    status, body = await call_api("POST", f"{base}/api/v1/calls/{second.id}/priority", "boss",
                                  {"priority": 50})
    assert status == 200, body
    view = CallView.model_validate(body)
    assert view.priority == 50 and view.position == 1
    assert await h.engine.store.waiting_ids("support") == [second.id, first.id]
    status, body = await call_api("POST", f"{base}/api/v1/calls/{second.id}/priority", "boss",
                                  {"priority": "high"})
    assert status == 400 and body["field"] == "priority"
    # The agent who logs in now takes the call that moved ahead.
    await call_api("POST", f"{base}/api/v1/agents/a2/login", "boss")
    await wait_for(lambda: (c := call_of(h, "6102")) is not None
                   and c.state is CallState.RINGING, 10, "the promoted call to ring")


async def test_config_reload_adds_an_agent_and_refuses_a_bad_file(
        centre: tuple[Harness, str, Path]) -> None:
    h, base, path = centre
    data = tomllib.loads(path.read_text())
    data["agents"]["a9"] = {"interface": "PJSIP/1009", "extension": "1009",
                            "skills": {"support": 1}}
    import tomli_w

    path.write_text(tomli_w.dumps(data))
    status, body = await call_api("POST", f"{base}/api/v1/config/reload", "boss")
    assert status == 403
    status, body = await call_api("POST", f"{base}/api/v1/config/reload", "root")
    assert status == 200 and "a9" in body["agents"]
    assert "a9" in h.engine.agents
    data["queues"]["sales"]["ring_timeout_s"] = -1
    path.write_text(tomli_w.dumps(data))
    status, body = await call_api("POST", f"{base}/api/v1/config/reload", "root")
    assert status == 400 and body["code"] == "bad_config"
    assert "queues.sales.ring_timeout_s" in body["message"]
    assert h.engine.cfg.queues["sales"].ring_timeout_s > 0  # the running config is kept
    assert secret("root") not in str(body)


async def test_ivr_funnel_counts_where_callers_left(centre: tuple[Harness, str, Path]) -> None:
    h, base, _ = centre
    quitter = h.sim.place_call(CallerSpec(number="6201", dnis="100"))  # presses nothing
    await wait_for(lambda: call_of(h, "6201") is not None, 10, "IVR call")
    h.sim.hangup_caller(quitter)
    h.sim.place_call(CallerSpec(number="6202", dnis="100", inputs=["1"]))
    await until_waiting(h, "6202")
    await wait_for(lambda: call_of(h, "6201") is None, 10, "the quitter's end")

    async def funnel() -> dict[str, Any]:
        status, body = await call_api("GET", f"{base}/api/v1/ivr/funnel", "view")
        assert status == 200
        FunnelOut.model_validate(body)
        nodes: dict[str, Any] = body["ivr_funnel"]["main"]
        return nodes

    deadline = asyncio.get_running_loop().time() + 10
    while (nodes := await funnel())["menu"]["reached"] < 2:  # the next snapshot shows it
        assert asyncio.get_running_loop().time() < deadline, nodes
        await asyncio.sleep(0.05)
    assert nodes["vipcheck"]["reached"] == 2 and nodes["menu"]["reached"] == 2
    assert nodes["menu"]["left"].get("hangup") == 1
    assert nodes["to_sales"]["left"].get("queue") == 1
