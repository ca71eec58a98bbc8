"""Issue 9 in the integrations (the real service, the simulated PBX, real Redis): the
queue_log lines of a blind and a warm transfer in Asterisk's layout, the call record with the
reason, the transfers and every agent's wrap-up codes, and the screen pop of the agent who
receives a transferred call, with its history."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from acd.api.models import CallRecordOut
from acd.core.model import AgentState
from acd.pbxsim import AgentPhone
from acd.testing.harness import Harness, wait_for
from tests.test_e2e_callpath import call_of
from tests.test_e2e_warm_transfer import answer_consult
from tests.test_e2e_wrapup import api, connect, login, reason_config, waiting
from tests.test_integrations import check_layout, integrations_of, read_lines
from tests.test_integrations_webhooks import Crm
from tests.test_integrations_webhooks import crm as crm  # the fixture, re-exported


@pytest.fixture
async def lab9(redis_url: str, tmp_path: Path, crm: Crm) -> AsyncIterator[Callable[..., Any]]:
    started: list[Harness] = []

    async def make() -> tuple[Harness, Path]:
        crm.fail_first = 0
        cfg = reason_config(wrapup_s=60)
        qlog = tmp_path / "queue_log"
        cfg["integrations"] = {"queue_log": {"path": str(qlog)}, "records": {"maxlen": 5000}}
        for q in ("billing", "support"):
            cfg["queues"][q]["screen_pop"] = {
                "url_template": f"http://127.0.0.1:{crm.port}/pop?agent={{agent}}",
                "events": ["ringing"], "retries": 0}
        h = await Harness.start(cfg, redis_url, phone=lambda i, e: AgentPhone(
            interface=i, extension=e, answer_after_s=None, talk_s=None))
        started.append(h)
        return h, qlog

    yield make
    for h in started:
        await h.stop()


async def records(h: Harness, since: float, count: int) -> list[dict[str, Any]]:
    reader = integrations_of(h).records
    assert reader is not None
    deadline = time.monotonic() + 10
    while len(found := await reader.call_records(since - 5, time.time() + 5, 100)) < count:
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.05)
    return found


async def test_blind_transfer_in_queue_log_records_and_screen_pop(
        lab9: Callable[..., Any], crm: Crm) -> None:
    h, qlog = await lab9()
    started = time.time()
    await login(h, "a1")
    call_id = await waiting(h, "9801", "1")  # invoice -> billing: a1
    await connect(h, "9801", "a1")
    status, _ = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer", {"queue": "support"})
    assert status == 200
    status, _ = await api(h, "POST", "/api/v1/agents/a1/wrapup",
                          {"codes": ["callback"], "resolved": False})
    assert status == 200
    status, _ = await api(h, "POST", "/api/v1/agents/a1/not_ready")  # ends a1's wrap-up
    assert status == 200
    await login(h, "a3")
    await connect(h, "9801", "a3")
    h.sim.agent_hangup("PJSIP/1003")
    await wait_for(lambda: h.engine.agents["a3"].state is AgentState.WRAP_UP, 10, "a3 wraps up")
    status, _ = await api(h, "POST", "/api/v1/agents/a3/wrapup",
                          {"codes": ["invoice"], "resolved": True, "done": True})
    assert status == 200

    (rec,) = await records(h, started, 1)
    CallRecordOut.model_validate(rec)
    assert (rec["reason"], rec["queue"], rec["agent_id"], rec["outcome"]) == (
        "invoice", "support", "a3", "answered")
    assert [(t["kind"], t["from_queue"], t["to_queue"], t["from_agent"])
            for t in rec["transfers"]] == [("blind", "billing", "support", "a1")]
    assert [(w["agent"], w["codes"], w["resolved"], w["final"]) for w in rec["wrapups"]] == [
        ("a1", ["callback"], False, False), ("a3", ["invoice"], True, True)]
    assert (rec["wrapup_codes"], rec["resolved"]) == (["invoice"], True)
    assert rec["first_answered_at"] < rec["answered_at"] and rec["wrapup_s"] >= 0

    await wait_for(lambda: any("|COMPLETEAGENT|" in x for x in read_lines(qlog)), 10,
                   "the queue_log")
    lines = [check_layout(x) for x in read_lines(qlog) if x.split("|")[1] == call_id]
    assert [(p[2], p[3], p[4]) for p in lines] == [
        ("billing", "NONE", "ENTERQUEUE"), ("billing", "PJSIP/1001", "CONNECT"),
        ("billing", "PJSIP/1001", "BLINDTRANSFER"), ("support", "NONE", "ENTERQUEUE"),
        ("support", "PJSIP/1003", "CONNECT"), ("support", "PJSIP/1003", "COMPLETEAGENT")]
    blind = lines[2]
    assert blind[5:7] == ["support", "acd-hold"] and blind[9] == "1"

    # a3's pop (rung for the transferred call) tells what happened before
    pops = crm.ok_events()
    for_a3 = [p for p in pops if p["agent"] == "a3"]
    assert len(for_a3) == 1
    pop = for_a3[0]
    assert (pop["reason"], pop["reason_label"], pop["queue"]) == (
        "invoice", "Invoice question", "support")
    assert [(t["from_agent"], t["to_queue"]) for t in pop["transfers"]] == [("a1", "support")]
    assert [(w["agent"], w["codes"]) for w in pop["wrapups"]] == [("a1", ["callback"])]
    assert pop["entered_at"] == rec["queued_at"]


async def test_warm_transfer_in_queue_log_and_screen_pop(lab9: Callable[..., Any],
                                                        crm: Crm) -> None:
    h, qlog = await lab9()
    await login(h, "a1", "a2")
    call_id = await waiting(h, "9901", "1")
    await connect(h, "9901", "a1")
    status, _ = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer",
                          {"agent": "a2", "mode": "warm"})
    assert status == 200
    await wait_for(lambda: h.sim.pbx.phones["PJSIP/1002"].channel is not None, 10, "a2 rings")
    await answer_consult(h, call_id, "a1", "a2")
    status, _ = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer/complete")
    assert status == 200
    h.sim.agent_hangup("PJSIP/1002")
    await wait_for(lambda: call_of(h, "9901") is None, 10, "the call's end")
    await wait_for(lambda: any("|COMPLETEAGENT|" in x for x in read_lines(qlog)), 10,
                   "the queue_log")
    lines = [check_layout(x) for x in read_lines(qlog) if x.split("|")[1] == call_id]
    assert [(p[3], p[4]) for p in lines] == [
        ("NONE", "ENTERQUEUE"), ("PJSIP/1001", "CONNECT"), ("PJSIP/1001", "ATTENDEDTRANSFER"),
        ("NONE", "ENTERQUEUE"), ("PJSIP/1002", "CONNECT"), ("PJSIP/1002", "COMPLETEAGENT")]
    assert lines[2][5:7] == ["APP", "Bridge"]
    await wait_for(lambda: any(p["agent"] == "a2" for p in crm.ok_events()), 10, "a2's pop")
    (pop,) = [p for p in crm.ok_events() if p["agent"] == "a2"]
    assert pop["event"] == "ringing" and pop["reason"] == "invoice"  # at the consultation
