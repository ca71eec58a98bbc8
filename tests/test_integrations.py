"""Integrations: the runner (consumer group, exactly once), the queue_log format, call records
and their API route, through the real service with the simulated PBX where it matters."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.config import ConfigError, parse_config
from acd.core.model import Call, CallState
from acd.integrations import Integrations
from acd.integrations.queue_log import line
from acd.integrations.runner import Event, Runner
from acd.integrations.stream import IntegrationRedis
from acd.store import Store
from acd.testing.harness import Harness, wait_for
from tests.test_e2e_callpath import call_of, config, login, place, rings

# --- the queue_log format -------------------------------------------------------------------

# Lines as Asterisk's app_queue writes them (docs "Queue Logs" / app_queue.c ast_queue_log
# calls): epoch|callid|queuename|agent|event|data...
ASTERISK_LINES = {
    "ENTERQUEUE": "1366720340|1366720340.303267|sales|NONE|ENTERQUEUE||8005551212|1",
    "RINGNOANSWER": "1366720345|1366720340.303267|sales|PJSIP/1001|RINGNOANSWER|15000",
    "RINGCANCELED": "1366720345|1366720340.303267|sales|PJSIP/1001|RINGCANCELED|3000",
    "CONNECT": "1366720350|1366720340.303267|sales|PJSIP/1001|CONNECT|10|1366720345.303270|5",
    "COMPLETECALLER": "1366720470|1366720340.303267|sales|PJSIP/1001|COMPLETECALLER|10|120|1",
    "COMPLETEAGENT": "1366720470|1366720340.303267|sales|PJSIP/1001|COMPLETEAGENT|10|120|1",
    "ABANDON": "1366720400|1366720340.303267|sales|NONE|ABANDON|2|3|60",
    "EXITWITHTIMEOUT": "1366720400|1366720340.303267|sales|NONE|EXITWITHTIMEOUT|1|3|300",
    "EXITEMPTY": "1366720400|1366720340.303267|sales|NONE|EXITEMPTY|1|3|12",
    "AGENTLOGIN": "1366720000|NONE|NONE|PJSIP/1001|AGENTLOGIN|PJSIP/1001",
    "AGENTLOGOFF": "1366723600|NONE|NONE|PJSIP/1001|AGENTLOGOFF|PJSIP/1001|3600",
    "PAUSE": "1366720100|NONE|NONE|PJSIP/1001|PAUSE|lunch",
    "UNPAUSE": "1366720200|NONE|NONE|PJSIP/1001|UNPAUSE|",
    # app_queue.c (Asterisk 12+) handle_blind_transfer / log_attended_transfer
    "BLINDTRANSFER": "1366720470|1366720340.303267|sales|PJSIP/1001|BLINDTRANSFER|200|"
                     "from-internal|10|120|1",
    "ATTENDEDTRANSFER": "1366720470|1366720340.303267|sales|PJSIP/1001|ATTENDEDTRANSFER|"
                        "BRIDGE|4fc4e556-8e5d-4f3c-a4bd-5f7a57ae0a4c|10|120|1",
}
DATA_FIELDS = {event: len(text.split("|")) - 5 for event, text in ASTERISK_LINES.items()}


def test_line_matches_asterisk_layout() -> None:
    ours = {
        "ENTERQUEUE": line(1366720340.7, "1366720340.303267", "sales", "NONE", "ENTERQUEUE",
                           "", "8005551212", 1),
        "CONNECT": line(1366720350, "1366720340.303267", "sales", "PJSIP/1001", "CONNECT", 10,
                        "1366720345.303270", 5),
        "ABANDON": line(1366720400, "1366720340.303267", "sales", "", "ABANDON", 2, 3, 60),
        "UNPAUSE": line(1366720200, "", "", "PJSIP/1001", "UNPAUSE", ""),
    }
    for event, text in ours.items():
        assert text.endswith("\n")
        assert text.rstrip("\n") == ASTERISK_LINES[event]


def test_line_keeps_one_line_per_fact() -> None:
    text = line(1, "u", "q", "a", "PAUSE", "bad|reason\nhere")
    assert text.count("\n") == 1
    assert text.rstrip("\n").split("|") == ["1", "u", "q", "a", "PAUSE", "bad reason here"]


def check_layout(text: str) -> list[str]:
    """A queue_log line of ours: integer epoch, and exactly Asterisk's data fields."""
    parts = text.split("|")
    assert parts[0].isdigit(), text
    event = parts[4]
    assert event in DATA_FIELDS, text
    assert len(parts) - 5 == DATA_FIELDS[event], f"{text}: {len(parts) - 5} data fields"
    return parts


# --- config ---------------------------------------------------------------------------------

def test_screen_pop_template_fields_are_checked() -> None:
    data = config()
    data["queues"]["sales"]["screen_pop"] = {"url_template": "https://crm/x?n={number}"}
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert any("queues.sales.screen_pop" in p and "number" in p for p in err.value.problems)


def test_integrations_config_rejects_unknown_keys() -> None:
    data = config()
    data["integrations"] = {"records": {"maxlen": 5000, "colour": "red"}}
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert "integrations.records.colour: unknown key" in err.value.problems


# --- the runner: exactly once across instances -----------------------------------------------

class Collect:
    name = "collect"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def handle(self, ev: Event) -> None:
        self.seen.append((ev.id, ev.type))

    async def close(self) -> None:
        return None


async def test_two_runners_share_the_events_exactly_once(redis_url: str) -> None:
    data = config()
    data["pbx"]["secret"] = "unused"
    cfg = parse_config(data)
    store = await Store.open(redis_url, pbx="lab")
    redis = await IntegrationRedis.open(redis_url)
    first, second = Collect(), Collect()
    start_ms = int(time.time() * 1000) - 1000
    runners = [Runner(cfg, {"lab": store}, redis, [h], consumer=name, start_ms=start_ms,
                      block_ms=50)
               for name, h in (("one", first), ("two", second))]
    try:
        for runner in runners:
            await runner.start()
        for i in range(60):
            await store.create_call(Call(id=f"c{i}", channel=f"PJSIP/t-{i}", uniqueid=f"c{i}",
                                         caller_num="1", dnis="100", arrived_at=time.time()))
        await wait_for(lambda: len(first.seen) + len(second.seen) >= 60, 10, "60 events")
        ids = [eid for eid, _ in first.seen + second.seen]
        assert len(ids) == len(set(ids)) == 60
        assert {t for _, t in first.seen + second.seen} == {"call_created"}
        # every event was acked: nothing pending for the group
        pending = await redis._r.xpending(store.keys.events, cfg.integrations.group)
        assert pending["pending"] == 0
    finally:
        for runner in runners:
            await runner.stop()
        await redis.close()
        await store.close()


# --- the real service ---------------------------------------------------------------------------



def integrations_of(h: Harness) -> Integrations:
    assert h.service.integrations is not None
    return h.service.integrations


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_queue_log_and_records_of_a_real_call_path(lab: Callable[..., Any],
                                                         tmp_path: Path) -> None:
    qlog = tmp_path / "log" / "queue_log"
    data = config()
    data["integrations"] = {"queue_log": {"path": str(qlog)}, "records": {"maxlen": 5000}}
    data["http"] = {"anonymous_read": True}
    h: Harness = await lab(data)
    started = time.time()

    await login(h, "a3")
    first = await place(h, "4001", "1")
    ringing = await rings(h, "4001", "a3")
    uid = ringing.uniqueid
    h.sim.agent_hangup("PJSIP/1003")  # ring-no-answer: back to its place, a3 paused
    await wait_for(lambda: (c := call_of(h, "4001")) is not None
                   and c.state is CallState.WAITING and c.rona_count == 1, 10, "requeue")
    await login(h, "a1")
    await rings(h, "4001", "a1")
    h.sim.agent_answer("PJSIP/1001")
    await wait_for(lambda: (c := call_of(h, "4001")) is not None
                   and c.state is CallState.CONNECTED, 10, "4001 connected")
    second = await place(h, "4002", "1")
    await wait_for(lambda: (c := call_of(h, "4002")) is not None
                   and c.state is CallState.WAITING, 10, "4002 waits")
    uid2 = call_of(h, "4002").uniqueid  # type: ignore[union-attr]
    h.sim.hangup_caller(second)  # abandons while waiting
    await wait_for(lambda: call_of(h, "4002") is None, 10, "4002 ended")
    h.sim.hangup_caller(first)
    await wait_for(lambda: call_of(h, "4001") is None, 10, "4001 ended")

    await wait_for(lambda: any("|COMPLETECALLER|" in x for x in read_lines(qlog)), 10,
                   "COMPLETECALLER in the queue_log")
    lines = read_lines(qlog)
    for text in lines:
        check_layout(text)
    of_first = [x.split("|") for x in lines if x.split("|")[1] == uid]
    assert [p[4] for p in of_first] == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT",
                                        "COMPLETECALLER"]
    enter, rona, connect, complete = of_first
    assert enter[2:4] == ["sales", "NONE"] and enter[5:] == ["", "4001", "1"]
    assert rona[3] == "PJSIP/1003" and int(rona[5]) >= 0
    assert connect[3] == "PJSIP/1001" and connect[6] and int(connect[5]) >= 0
    assert complete[3] == "PJSIP/1001" and complete[7] == "1"
    of_second = [x.split("|") for x in lines if x.split("|")[1] == uid2]
    assert [p[4] for p in of_second] == ["ENTERQUEUE", "ABANDON"]
    assert of_second[0][7] == "1"  # 4001 was connected: first in line
    agent_lines = [(p[3], p[4]) for p in (x.split("|") for x in lines) if p[1] == "NONE"]
    assert ("PJSIP/1003", "AGENTLOGIN") in agent_lines
    assert ("PJSIP/1003", "PAUSE") in agent_lines
    assert ("PJSIP/1001", "AGENTLOGIN") in agent_lines
    assert all(int(x.split("|")[0]) >= int(started) - 1 for x in lines)

    # records, through the API
    base = f"http://127.0.0.1:{h.service.http_port}/api/v1/records"
    reader = integrations_of(h).records
    assert reader is not None
    await wait_for(lambda: integrations_of(h).runner.counts["events"] > 0, 5, "events")

    async def two_records() -> list[dict[str, Any]]:
        return await reader.call_records(started - 5, time.time() + 5, 100)

    deadline = time.monotonic() + 10
    while len(await two_records()) < 2:
        assert time.monotonic() < deadline, "two call records"
        await asyncio.sleep(0.02)
    async with aiohttp.ClientSession() as http:
        params = {"from": str(started - 5), "to": str(time.time() + 5)}
        async with http.get(base, params=params) as resp:
            assert resp.status == 200
            body = await resp.json()
        recs = {r["caller_num"]: r for r in body["records"]}
        assert body["truncated"] is False
        done = recs["4001"]
        assert done["outcome"] == "answered" and done["agent_id"] == "a1"
        assert done["queue"] == "sales" and done["rona_count"] == 1
        assert [(r["agent"], r["result"]) for r in done["rings"]] == [("a3", "rona"),
                                                                      ("a1", "answered")]
        assert done["arrived_at"] <= done["queued_at"] <= done["answered_at"] <= done["ended_at"]
        assert done["wait_s"] >= 0 and done["talk_s"] >= 0
        # written once a1's wrap-up (0.2 s) ended, with it
        assert done["wrapup_s"] >= 0.15 and done["wrapup_start"] == done["ended_at"]
        assert done["ivr_path"] and done["ivr_path"][-1] == "to_sales"
        gone = recs["4002"]
        assert gone["outcome"] == "abandoned" and gone["answered_at"] is None
        assert gone["rings"] == [] and gone["talk_s"] is None and gone["wrapup_s"] is None

        async with http.get(base, params={**params, "format": "csv"}) as resp:
            assert resp.status == 200 and resp.content_type == "text/csv"
            rows = list(csv.reader(io.StringIO(await resp.text())))
        assert rows[0][:3] == ["call_id", "pbx", "uniqueid"]
        assert len(rows) == 3 and all(len(r) == len(rows[0]) for r in rows)

        for query, field in (({"format": "xml"}, "format"), ({"from": "yesterday"}, "from"),
                             ({"from": "100", "to": "50"}, "from"), ({"limit": "0"}, "limit"),
                             ({"from": "0", "to": str(40 * 86400)}, "to")):
            async with http.get(base, params=query) as resp:
                assert resp.status == 400, query
                assert (await resp.json())["field"] == field

        # outside the range: nothing
        async with http.get(base, params={"from": "1000", "to": "2000"}) as resp:
            assert (await resp.json())["records"] == []


async def test_records_route_without_records_is_404(lab: Callable[..., Any]) -> None:
    data = config()
    data["http"] = {"anonymous_read": True}
    h: Harness = await lab(data)
    assert h.service.integrations is None
    url = f"http://127.0.0.1:{h.service.http_port}/api/v1/records"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 404


class Failing(Collect):
    name = "failing"

    async def handle(self, ev: Event) -> None:
        await super().handle(ev)
        raise RuntimeError("broken integration")


async def test_unacked_events_are_handled_after_a_restart_and_failures_still_ack(
        redis_url: str) -> None:
    data = config()
    data["pbx"]["secret"] = "unused"
    cfg = parse_config(data)
    store = await Store.open(redis_url, pbx="lab")
    redis = await IntegrationRedis.open(redis_url)
    stream, group = store.keys.events, cfg.integrations.group
    try:
        await redis.ensure_group(stream, group, "0")
        for i in range(3):
            await store.create_call(Call(id=f"c{i}", channel=f"PJSIP/t-{i}", uniqueid=f"c{i}",
                                         caller_num="1", dnis="100", arrived_at=time.time()))
        # "one" is given the events, then dies before acking them
        given = await redis.read_group(stream, group, "one", count=10, block_ms=None)
        assert len(given) == 3
        failing, collect = Failing(), Collect()
        runner = Runner(cfg, {"lab": store}, redis, [failing, collect], consumer="one",
                        block_ms=50)
        await runner.start()
        try:
            await wait_for(lambda: len(collect.seen) == 3, 10, "the unacked events again")
            assert [eid for eid, _ in collect.seen] == [eid for eid, _ in given]
            assert runner.counts["failing_errors"] == 3  # logged, counted, the next one ran
            await wait_for(lambda: runner.last_id.get("lab") == given[-1][0], 10, "acked")
            pending = await redis._r.xpending(stream, group)
            assert pending["pending"] == 0
        finally:
            await runner.stop()
    finally:
        await redis.close()
        await store.close()
