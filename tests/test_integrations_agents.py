"""The agent's side of issue 8, end to end (real service, simulated PBX over TCP, real Redis):
the per-agent push channel (SSE read by an HTTP client), agent-scoped tokens, the caller-name
tag on the agent's phone, recording with pause / resume through the API, and the call record
with wrap-up and recording."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from acd.core.model import Call, CallState
from acd.core.phone_tag import phone_tag
from acd.testing.harness import Harness, wait_for
from tests.test_e2e_callpath import call_of, config, login, place, rings

TOKENS = {"sup": "sup-token-1", "desk1": "desk-token-a1", "desk2": "desk-token-a2",
          "view": "viewer-token"}
POP_KEYS = {"event", "at", "pbx", "call_id", "uniqueid", "caller_num", "dnis", "queue",
            "agent", "agent_name", "vip", "account", "language", "ivr_path", "flow", "wait_s",
            "previous_calls", "last_agent", "customer_name", "crm_reason"}


def lab_config() -> dict[str, Any]:
    data = config()
    sales = data["queues"]["sales"]
    sales["recording"] = {"file_template": "{date}/{queue}-{agent}-{caller_num}-{call_id}",
                          "options": "b"}
    sales["phone_tag"] = '{vip}{queue} "{language}" <x>'
    data["integrations"] = {"agent_push": True, "records": {}}
    data["http"] = {"tokens": [
        {"name": "sup", "role": "supervisor", "sha256": _sha(TOKENS["sup"])},
        {"name": "desk1", "role": "agent", "agent": "a1", "sha256": _sha(TOKENS["desk1"])},
        {"name": "desk2", "role": "agent", "agent": "a2", "sha256": _sha(TOKENS["desk2"])},
        {"name": "view", "role": "viewer", "sha256": _sha(TOKENS["view"])}]}
    return data


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Sse:
    """What one SSE connection received: (id, event, data) per event."""

    events: list[tuple[str, str, dict[str, Any]]]
    task: asyncio.Task[None]


async def open_stream(http: aiohttp.ClientSession, url: str, token: str,
                      last_id: str = "") -> Sse:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_id:
        headers["Last-Event-ID"] = last_id
    resp = await http.get(url, headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "text/event-stream"
    got = Sse([], asyncio.create_task(asyncio.sleep(0)))

    async def read() -> None:
        fields: dict[str, str] = {}
        try:
            async for raw in resp.content:
                line = raw.decode().rstrip("\n")
                if line == "":
                    if fields.get("event") == "pop":
                        got.events.append((fields.get("id", ""), "pop",
                                           json.loads(fields["data"])))
                    fields = {}
                elif not line.startswith(":"):
                    key, _, value = line.partition(": ")
                    fields[key] = value
        finally:
            resp.close()

    got.task = asyncio.create_task(read())
    return got


async def close_streams(*streams: Sse) -> None:
    for s in streams:
        s.task.cancel()
    await asyncio.gather(*(s.task for s in streams), return_exceptions=True)




async def post(http: aiohttp.ClientSession, url: str, token: str) -> tuple[int, dict[str, Any]]:
    async with http.post(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, await resp.json()


def connected(h: Harness, number: str) -> Call:
    call = call_of(h, number)
    assert call is not None and call.state is CallState.CONNECTED
    return call


@pytest.mark.parametrize("own_process", [False, True], ids=["one-process", "own-process"])
async def test_agent_desktop_push_tag_recording_and_record(lab: Callable[..., Any],
                                                           own_process: bool) -> None:
    """(own-process: the push channel and the records in the figures process, the
    recording commands carried to the routing process)"""
    cfg = lab_config()
    cfg["http"]["own_process"] = own_process
    h: Harness = await lab(cfg)
    base = f"http://127.0.0.1:{h.service.http_port}/api/v1"
    started = time.time()
    async with aiohttp.ClientSession() as http:
        # an agent token reads its own stream only; a viewer reads any
        async with http.get(f"{base}/agents/a2/stream",
                            headers={"Authorization": f"Bearer {TOKENS['desk1']}"}) as resp:
            assert resp.status == 403 and (await resp.json())["code"] == "forbidden"
        async with http.get(f"{base}/queues",
                            headers={"Authorization": f"Bearer {TOKENS['desk1']}"}) as resp:
            assert resp.status == 403
        async with http.get(f"{base}/agents/nobody/stream",
                            headers={"Authorization": f"Bearer {TOKENS['view']}"}) as resp:
            assert resp.status == 404
        mine = await open_stream(http, f"{base}/agents/a1/stream", TOKENS["desk1"])
        other = await open_stream(http, f"{base}/agents/a2/stream", TOKENS["desk2"])
        try:
            await _scenario(h, http, base, mine, other, started)
        finally:
            await close_streams(mine, other)


async def _scenario(h: Harness, http: aiohttp.ClientSession, base: str, mine: Sse,
                    other: Sse, started: float) -> None:
    await login(h, "a1")
    await place(h, "999", "1")  # a VIP, to sales
    await rings(h, "999", "a1")
    await wait_for(lambda: len(mine.events) == 1, 5, "a1's desktop to get the ringing pop")
    # the phone's display: the tag, cleaned of what breaks a caller id
    assert h.sim.pbx.phones["PJSIP/1001"].shown == [("VIP sales x", "999")]
    h.sim.agent_answer("PJSIP/1001")
    await wait_for(lambda: len(mine.events) == 2, 5, "a1's desktop to get the answered pop")
    ringing, answered = (e[2] for e in mine.events)
    assert (ringing["event"], answered["event"]) == ("ringing", "answered")
    for pop in (ringing, answered):
        assert set(pop) >= POP_KEYS, POP_KEYS - set(pop)
        assert pop["agent"] == "a1" and pop["caller_num"] == "999" and pop["vip"] is True
        assert pop["queue"] == "sales" and pop["ivr_path"][-1] == "to_sales"
    assert other.events == []

    call = connected(h, "999")
    await wait_for(lambda: connected(h, "999").recording_file != "", 10, "recording started")
    call = connected(h, "999")
    assert re.fullmatch(rf"\d{{8}}/sales-a1-999-{re.escape(call.id)}\.wav",
                        call.recording_file), call.recording_file
    truth = next(t for t in h.sim.truth() if t["number"] == "999")
    [rec] = truth["recordings"]
    assert rec["file"] == call.recording_file and rec["options"] == "b" and rec["mutes"] == []

    url = f"{base}/calls/{call.id}/recording"
    status, body = await post(http, f"{url}/pause", TOKENS["desk1"])  # a1's own call
    assert status == 200 and body["paused"] is True and len(body["pauses"][0]) == 1
    assert [m[1] for m in rec["mutes"]] == ["1"]  # the PBX muted the caller channel
    assert (await post(http, f"{url}/pause", TOKENS["sup"]))[1]["code"] == "already_paused"
    assert (await post(http, f"{url}/resume", TOKENS["desk2"]))[0] == 403  # not a2's call
    assert (await post(http, f"{url}/resume", TOKENS["view"]))[0] == 403
    status, body = await post(http, f"{url}/resume", TOKENS["sup"])
    assert status == 200 and body["paused"] is False and len(body["pauses"][0]) == 2
    assert [m[1] for m in rec["mutes"]] == ["1", "0"]
    assert (await post(http, f"{url}/resume", TOKENS["sup"]))[1]["code"] == "not_paused"
    assert (await post(http, f"{base}/calls/nope/recording/pause", TOKENS["sup"]))[0] == 404

    # a waiting call, then a connected call of a queue that does not record
    await place(h, "5002", "2")
    await wait_for(lambda: (c := call_of(h, "5002")) is not None
                   and c.state is CallState.WAITING, 10, "5002 waits")
    waiting = call_of(h, "5002")
    assert waiting is not None
    status, body = await post(http, f"{base}/calls/{waiting.id}/recording/pause", TOKENS["sup"])
    assert (status, body["code"]) == (409, "not_connected")
    await login(h, "a2")
    await rings(h, "5002", "a2")
    h.sim.agent_answer("PJSIP/1002")
    await wait_for(lambda: (c := call_of(h, "5002")) is not None
                   and c.state is CallState.CONNECTED, 10, "5002 connected")
    status, body = await post(http, f"{base}/calls/{waiting.id}/recording/pause",
                              TOKENS["desk2"])
    assert (status, body["code"]) == (409, "recording_off")
    await wait_for(lambda: len(other.events) == 2, 5, "a2's pops")
    assert {e[2]["agent"] for e in other.events} == {"a2"}
    assert {e[2]["caller_num"] for e in mine.events} == {"999"} and len(mine.events) == 2

    # a desktop that reconnects gets what it missed since its last event id
    again = await open_stream(http, f"{base}/agents/a1/stream", TOKENS["desk1"],
                              last_id=mine.events[0][0])
    try:
        await wait_for(lambda: len(again.events) == 1, 5, "the missed pop replayed")
        assert again.events[0][0] == mine.events[1][0]
    finally:
        await close_streams(again)

    # the record: after a1's wrap-up (0.2 s), with the recording and its pause
    h.sim.hangup_caller(next(t["id"] for t in h.sim.truth() if t["number"] == "999"))
    params = {"from": str(started - 5), "to": str(time.time() + 60)}

    async def record() -> dict[str, Any] | None:
        async with http.get(f"{base}/records", params=params,
                            headers={"Authorization": f"Bearer {TOKENS['view']}"}) as resp:
            body = await resp.json()
        return next((r for r in body["records"] if r["caller_num"] == "999"), None)

    deadline = time.monotonic() + 10
    while (done := await record()) is None:
        assert time.monotonic() < deadline, "the record of 999"
        await asyncio.sleep(0.05)
    assert done["recording_file"] == call.recording_file
    assert len(done["recording_pauses"]) == 1 and len(done["recording_pauses"][0]) == 2
    assert done["ended_at"] == done["wrapup_start"] < done["wrapup_end"]
    assert done["wrapup_s"] == pytest.approx(done["wrapup_end"] - done["wrapup_start"])
    assert 0.15 <= done["wrapup_s"] < 5
    async with http.get(f"{base}/records", params={**params, "format": "csv"},
                        headers={"Authorization": f"Bearer {TOKENS['view']}"}) as resp:
        rows = list(csv.DictReader(io.StringIO(await resp.text())))
    row = next(r for r in rows if r["caller_num"] == "999")
    assert row["recording_file"] == call.recording_file
    assert json.loads(row["recording_pauses"]) == done["recording_pauses"]
    assert float(row["wrapup_s"]) == pytest.approx(done["wrapup_s"])


def test_phone_tag_is_cut_and_cleaned() -> None:
    call = Call(id="1", channel="PJSIP/t-1", uniqueid="1", caller_num="5", dnis="1",
                queue="billing", vip=True, customer_name='Ada "<Lovelace>"\r\nX')
    assert phone_tag("{vip}{queue} {customer_name}", 80, call) == "VIP billing Ada Lovelace X"
    assert phone_tag("{vip}{queue} {customer_name}", 11, call) == "VIP billing"
    call.vip = False
    assert phone_tag("{vip}{queue}", 24, call) == "billing"
