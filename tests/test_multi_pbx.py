"""Several PBXs (issue 6): one service attached to two simulated Asterisks over TCP, one real
Redis. A call is only ever given to an agent of its own PBX; calls and agents carry their PBX's
name; the merged figures are the per-PBX figures added up; `?pbx=` shows one PBX; readiness
names the PBX that is missing; config mistakes are reported by key path.

Every step waits for a condition (with a timeout), never for a fixed time.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from acd.config import ConfigError, parse_config
from acd.core.model import AgentState, Call, CallState
from acd.pbxsim import AgentPhone, CallerSpec
from acd.service.app import Service
from acd.service.backend import ServiceBackend, check_reloadable
from acd.stats.fig_merge import RawFigures, add_intervals, merge_raw
from acd.stats.raw import AgentCounts, FunnelCounts, QueueCounts
from acd.stats.schema import AgentFigures, CallView, Snapshot
from acd.testing.harness import Harness, wait_for

BOSS = "token-boss-7f1d"
QUEUE = {"skills": {"sales": 1}, "wrapup_s": 0.2, "ring_timeout_s": 5, "max_wait_s": 600}


def two_pbx_config() -> dict[str, Any]:
    """east and west; each has an agent on PJSIP/1001 (ext 1001): the same phone name on two
    PBXs, so a call rung on the wrong PBX would show."""
    return {
        "pbxs": {"east": {}, "west": {}},
        "http": {"port": 0, "snapshot_interval_s": 0.2, "anonymous_read": True, "tokens": [
            {"name": "boss", "role": "supervisor",
             "sha256": hashlib.sha256(BOSS.encode()).hexdigest()}]},
        "queues": {"sales": dict(QUEUE)},
        "agents": {
            "e1": {"interface": "PJSIP/1001", "extension": "1001", "skills": {"sales": 3},
                   "pbx": "east", "login_at_start": True},
            "w1": {"interface": "PJSIP/1001", "extension": "1001", "skills": {"sales": 3},
                   "pbx": "west", "login_at_start": True},
            "w2": {"interface": "PJSIP/1002", "extension": "1002", "skills": {"sales": 1},
                   "pbx": "west"},
        },
        "flows": {"main": {"dnis": ["100"], "start": "to_sales",
                           "nodes": {"to_sales": {"type": "queue", "queue": "sales"}}}},
    }


def manual_phone(iface: str, ext: str) -> AgentPhone:
    return AgentPhone(interface=iface, extension=ext, answer_after_s=None, talk_s=None)


@pytest.fixture
async def two(redis_url: str) -> AsyncIterator[Harness]:
    h = await Harness.start(two_pbx_config(), redis_url, phone=manual_phone)
    try:
        await wait_for(lambda: h.service.backend is not None and h.service.backend.snapshot(),
                       10, "a first snapshot")
        yield h
    finally:
        await h.stop()


@pytest.fixture(params=[False, True], ids=["one-process", "own-process"])
async def two_either(redis_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """`two`, and the same with the API in a process of its own (http.own_process)."""
    cfg = two_pbx_config()
    cfg["http"]["own_process"] = request.param
    h = await Harness.start(cfg, redis_url, phone=manual_phone)
    try:
        async with asyncio.timeout(20):
            while (await get(h, "/api/v1/queues"))[0] != 200:
                await asyncio.sleep(0.05)  # a first snapshot
        yield h
    finally:
        await h.stop()


def call_of(h: Harness, pbx: str, number: str) -> Call | None:
    return next((c for c in h.engines[pbx].calls.values() if c.caller_num == number), None)


def state_of(h: Harness, pbx: str, number: str) -> CallState | None:
    call = call_of(h, pbx, number)
    return None if call is None else call.state


def place(h: Harness, pbx: str, number: str) -> str:
    return h.sims[pbx].place_call(CallerSpec(number=number, dnis="100", inputs=[]))


async def rings(h: Harness, pbx: str, number: str, agent_id: str) -> None:
    def ringing() -> bool:
        c = call_of(h, pbx, number)
        return c is not None and c.state is CallState.RINGING and c.agent_id == agent_id

    await wait_for(ringing, 10, f"{number} on {pbx} to ring {agent_id}")
    iface = h.cfg.agents[agent_id].interface
    await wait_for(lambda: h.sims[pbx].pbx.phones[iface].channel is not None, 10,
                   f"{iface} rings on {pbx}")


async def answer(h: Harness, pbx: str, number: str, agent_id: str) -> None:
    await rings(h, pbx, number, agent_id)
    h.sims[pbx].agent_answer(h.cfg.agents[agent_id].interface)
    await wait_for(lambda: state_of(h, pbx, number) is CallState.CONNECTED, 10,
                   f"{number} connected on {pbx}")


async def settled(h: Harness) -> None:
    """Every engine has applied what it received and routed after it (a no-op in order)."""
    for engine in h.engines.values():
        async def noop() -> None:
            return None

        await engine.run_in_order(noop)
        await engine.run_in_order(noop)  # the routing pass that followed the last event


def phone_idle(h: Harness, pbx: str, agent_id: str) -> bool:
    return h.sims[pbx].pbx.phones[h.cfg.agents[agent_id].interface].channel is None


async def get(h: Harness, path: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"http://127.0.0.1:{h.service.http_port}{path}"
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        return r.status, await r.json()


async def post(h: Harness, path: str, body: Any = None) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{h.service.http_port}{path}"
    async with aiohttp.ClientSession() as s, s.post(
            url, json=body, headers={"Authorization": f"Bearer {BOSS}"}) as r:
        return r.status, await r.json()


# --- routing stays on its own PBX ---

async def test_each_call_goes_to_an_agent_of_its_own_pbx(two: Harness) -> None:
    h = two
    assert set(h.engines) == {"east", "west"}
    assert set(h.engines["east"].agents) == {"e1"}
    assert set(h.engines["west"].agents) == {"w1", "w2"}
    place(h, "east", "5101")
    await answer(h, "east", "5101", "e1")
    call = call_of(h, "east", "5101")
    assert call is not None and call.pbx == "east"
    truth = next(t for t in h.sims["east"].truth() if t["number"] == "5101")
    assert truth["agent"] == "PJSIP/1001"
    # w1 has the same phone name on west, is ready and idle: never rung for an east call
    assert h.engines["west"].agents["w1"].state is AgentState.READY
    assert phone_idle(h, "west", "w1") and not h.engines["west"].calls

    # e1 is busy: a second east caller waits, though w1 (west) is ready
    place(h, "east", "5102")
    await wait_for(lambda: state_of(h, "east", "5102") is CallState.WAITING, 10,
                   "5102 to wait on east")
    await settled(h)
    assert state_of(h, "east", "5102") is CallState.WAITING
    assert h.engines["west"].agents["w1"].state is AgentState.READY
    assert phone_idle(h, "west", "w1") and phone_idle(h, "west", "w2")

    # a west caller goes to w1 at once, on west
    place(h, "west", "5201")
    await answer(h, "west", "5201", "w1")
    west_call = call_of(h, "west", "5201")
    assert west_call is not None and west_call.pbx == "west"
    assert state_of(h, "east", "5102") is CallState.WAITING  # still: e1 is on its call
    assert not any(t["number"] == "5201" for t in h.sims["east"].truth())

    # e1 hangs up: after its wrap-up the waiting east caller reaches it
    h.sims["east"].agent_hangup(h.cfg.agents["e1"].interface)
    await answer(h, "east", "5102", "e1")


# --- the API: PBX names, ?pbx=, merged = sum ---

def window_counts(snap: dict[str, Any], queue: str, window: str) -> tuple[int, int]:
    q = snap["centre"] if queue == "*" else next(q for q in snap["queues"]
                                                 if q["name"] == queue)
    w = q["windows"][window]
    return w["offered"], w["answered"]


async def test_api_carries_pbx_names_filters_and_merges(two: Harness) -> None:
    h = two
    place(h, "east", "6101")
    await answer(h, "east", "6101", "e1")
    place(h, "west", "6201")
    await answer(h, "west", "6201", "w1")
    place(h, "west", "6202")  # w2 is logged out: this one waits
    await wait_for(lambda: state_of(h, "west", "6202") is CallState.WAITING, 10, "6202 waits")
    backend = h.service.backend
    assert backend is not None

    def merged_offered() -> int:
        return window_counts(backend.snapshot(), "sales", "today")[0]

    await wait_for(lambda: merged_offered() == 3, 10, "three calls offered in the figures")
    await backend.refresh()
    merged, east, west = (backend.snapshot(), backend.pbx_snapshot("east"),
                          backend.pbx_snapshot("west"))  # one refresh: consistent
    assert east is not None and west is not None
    assert merged["pbxs"] == ["east", "west"]
    assert east["pbxs"] == ["east"] and west["pbxs"] == ["west"]
    for window in ("15m", "60m", "today"):
        for queue in ("sales", "*"):
            m, e, w = (window_counts(s, queue, window) for s in (merged, east, west))
            assert m == (e[0] + w[0], e[1] + w[1]), (window, queue)
    assert window_counts(east, "sales", "today") == (1, 1)
    assert window_counts(west, "sales", "today") == (2, 1)
    assert merged["centre"]["waiting"] == east["centre"]["waiting"] + west["centre"]["waiting"]
    assert merged["centre"]["agents"]["on_call"] == 2
    for snap in (merged, east, west):
        Snapshot.model_validate(snap)

    # calls and agents carry their PBX, in the merged view and filtered
    status, body = await get(h, "/api/v1/calls")
    assert status == 200
    calls = {c["caller_num"]: CallView.model_validate(c) for c in body["calls"]}
    assert {n: c.pbx for n, c in calls.items()} == {"6101": "east", "6201": "west",
                                                    "6202": "west"}
    assert calls["6202"].position == 1  # first among west's waiting sales callers
    status, body = await get(h, "/api/v1/agents")
    assert status == 200
    agents = {a["id"]: AgentFigures.model_validate(a) for a in body["agents"]}
    assert {aid: a.pbx for aid, a in agents.items()} == {"e1": "east", "w1": "west",
                                                         "w2": "west"}
    status, body = await get(h, "/api/v1/agents?pbx=west")
    assert status == 200 and {a["id"] for a in body["agents"]} == {"w1", "w2"}
    status, body = await get(h, "/api/v1/calls?pbx=east")
    assert status == 200 and [c["caller_num"] for c in body["calls"]] == ["6101"]
    status, body = await get(h, "/api/v1/queues?pbx=west")
    assert status == 200
    assert body["centre"]["windows"]["today"]["offered"] == 2
    status, body = await get(h, "/api/v1/queues/sales?pbx=east")
    assert status == 200 and body["windows"]["today"]["answered"] == 1
    for path in ("/api/v1/queues?pbx=north", "/api/v1/agents?pbx=north",
                 "/api/v1/calls?pbx=north"):
        status, body = await get(h, path)
        assert status == 404 and body["code"] == "not_found" and "north" in body["message"]
    status, body = await get(h, "/api/v1/openapi.json")
    params = body["paths"]["/api/v1/queues"]["get"]["parameters"]
    assert [p["name"] for p in params] == ["pbx"]


async def test_commands_reach_the_engine_of_the_agent_and_the_call(
        two_either: Harness) -> None:
    h = two_either
    status, body = await post(h, "/api/v1/agents/w2/login")
    assert status == 200, body
    assert body["pbx"] == "west" and body["state"] == "ready"
    assert h.engines["west"].agents["w2"].state is AgentState.READY
    status, body = await post(h, "/api/v1/agents/e1/not_ready", {"reason": "lunch"})
    assert status == 200 and body["pbx"] == "east", body
    place(h, "east", "7101")  # e1 is not ready: waits
    await wait_for(lambda: state_of(h, "east", "7101") is CallState.WAITING, 10, "7101 waits")
    call = call_of(h, "east", "7101")
    assert call is not None
    status, body = await post(h, f"/api/v1/calls/{call.id}/priority", {"priority": 5})
    assert status == 200 and body["pbx"] == "east" and body["priority"] == 5, body
    status, body = await post(h, "/api/v1/agents/nobody/login")
    assert status == 404 and body["code"] == "unknown_agent"


# --- readiness ---

async def test_readiness_names_the_pbx_that_is_down(two: Harness) -> None:
    h = two
    status, body = await get(h, "/readyz")
    assert status == 200 and body["ready"] is True
    await h.sims["west"].stop()
    backend = h.service.backend
    assert backend is not None
    await wait_for(lambda: not backend.readiness().ready, 10, "readiness to drop")
    status, body = await get(h, "/readyz")
    assert status == 503 and body["ready"] is False and body["ami"] is False
    assert "west" in body["reason"] and "east" not in body["reason"]
    assert body["redis"] is True
    # east still routes
    place(h, "east", "8101")
    await answer(h, "east", "8101", "e1")


# --- pure parts: config, reload checks, merging ---

def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def with_secrets(data: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    for port, table in enumerate(out["pbxs"].values(), start=5038):
        table.update({"secret": "s", "port": port})
    return out


def test_config_splits_agents_by_pbx() -> None:
    cfg = parse_config(with_secrets(two_pbx_config()))
    assert cfg.pbx_names() == ["east", "west"] and cfg.pbx.name == "east"
    assert [p.port for p in cfg.pbx_list()] == [5038, 5039]
    west = cfg.for_pbx("west")
    assert west.pbx.name == "west" and west.pbx.port == 5039 and not west.pbxs
    assert list(west.agents) == ["w1", "w2"] and west.queues == cfg.queues
    assert west.pbx_names() == ["west"]
    assert list(cfg.for_pbx("east").agents) == ["e1"]
    with pytest.raises(KeyError):
        cfg.for_pbx("north")
    assert cfg.agent_pbx("w2") == "west" and cfg.agent_pbx("ghost") == ""


def test_one_pbx_config_works_as_before() -> None:
    data = two_pbx_config()
    del data["pbxs"]
    data["pbx"] = {"name": "lab", "secret": "s"}
    for agent in data["agents"].values():
        del agent["pbx"]
    data["agents"]["w1"]["extension"] = "1003"
    cfg = parse_config(data)
    assert cfg.pbx_names() == ["lab"] and not cfg.pbxs
    assert {cfg.agent_pbx(a) for a in cfg.agents} == {"lab"}
    assert cfg.for_pbx("lab").agents == cfg.agents
    data["agents"]["e1"]["pbx"] = "lab"  # naming the one PBX is fine
    parse_config(data)


def test_config_mistakes_are_reported_by_key_path() -> None:
    base = with_secrets(two_pbx_config())
    data = copy.deepcopy(base)
    del data["agents"]["e1"]["pbx"]
    data["agents"]["w1"]["pbx"] = "north"
    assert problems(data) == [
        "agents.e1.pbx: required when there are several PBXs (one of 'east', 'west')",
        "agents.w1.pbx: unknown PBX 'north'"]

    data = copy.deepcopy(base)
    data["pbx"] = {"secret": "s"}
    assert problems(data) == [
        "pbxs: give either [pbx] (one PBX) or [pbxs.NAME] tables (several), not both"]

    data = copy.deepcopy(base)
    data["pbxs"]["west"]["port"] = 70000
    data["pbxs"]["east"]["secret_env"] = "X"  # two secret sources
    found = problems(data)
    assert found == ["pbxs.east: give exactly one of secret, secret_env, secret_file",
                     "pbxs.west.port: Input should be less than or equal to 65535"]

    data = copy.deepcopy(base)
    data["pbxs"]["west"]["port"] = 5038  # the same AMI as east
    data["pbxs"]["west"]["name"] = "other"
    data["agents"]["w2"]["extension"] = "1001"  # w1's extension, on the same PBX
    assert problems(data) == [
        "pbxs.west.name: must be the table's key 'west' (or left out)",
        "pbxs.west: AMI 127.0.0.1:5038 is also the address of PBX 'east'",
        "agents.w2.extension: '1001' is also the extension of agent 'w1'"]

    data = copy.deepcopy(base)
    del data["pbxs"]
    assert problems(data) == [
        "pbx: required key is missing (or [pbxs.NAME] tables, for several PBXs)"]


def test_each_pbx_secret_is_named_by_its_table(monkeypatch: pytest.MonkeyPatch) -> None:
    data = with_secrets(two_pbx_config())
    for name, table in data["pbxs"].items():
        del table["secret"]
        table["secret_env"] = f"ACD_TEST_SECRET_{name.upper()}"
    monkeypatch.setenv("ACD_TEST_SECRET_EAST", "e")
    monkeypatch.delenv("ACD_TEST_SECRET_WEST", raising=False)
    cfg = parse_config(data)
    with pytest.raises(ConfigError) as info:
        Service(cfg, redis_url="redis://127.0.0.1:1/0")
    assert info.value.problems == [
        "pbxs.west.secret_env: environment variable ACD_TEST_SECRET_WEST is not set"]
    Service(cfg, redis_url="redis://127.0.0.1:1/0", secrets={"west": "w"})


def test_reload_may_not_move_an_agent_or_change_the_pbxs() -> None:
    old = parse_config(with_secrets(two_pbx_config()))
    data = with_secrets(two_pbx_config())
    data["agents"]["w2"]["pbx"] = "east"
    data["pbxs"]["west"]["ping_interval_s"] = 1.0
    assert check_reloadable(old, parse_config(data)) == [
        "pbxs: changes need a restart",
        "agents.w2.pbx: moving an agent to another PBX needs a restart"]
    data = with_secrets(two_pbx_config())
    data["queues"]["sales"]["wrapup_s"] = 3
    assert check_reloadable(old, parse_config(data)) == []


def test_merging_adds_every_pbx_and_changes_no_input() -> None:
    east = RawFigures(
        windows={"15m": {"sales": QueueCounts(offered=2, answered=1, answered_waits={3: 1})},
                 "60m": {}, "today": {"sales": QueueCounts(offered=2, answered=1)}},
        agents_today={"e1": AgentCounts(handled=1, talk_s=30.0)},
        funnel_today={"main": FunnelCounts(reached={"a": 2}, left={"a": {"queue": 2}})})
    west = RawFigures(
        windows={"15m": {"sales": QueueCounts(offered=1, answered=1, answered_waits={3: 1,
                                                                                   9: 2})},
                 "60m": {"support": QueueCounts(offered=4)}, "today": {}},
        agents_today={"w1": AgentCounts(handled=2)},
        funnel_today={"main": FunnelCounts(reached={"a": 1, "b": 1},
                                           left={"a": {"queue": 1, "hangup": 1}})})
    total = merge_raw([east, west])
    sales = total.windows["15m"]["sales"]
    assert (sales.offered, sales.answered, sales.answered_waits) == (3, 2, {3: 2, 9: 2})
    assert total.windows["60m"]["support"].offered == 4
    assert total.windows["today"]["sales"].offered == 2
    assert set(total.agents_today) == {"e1", "w1"}
    assert total.funnel_today["main"].reached == {"a": 3, "b": 1}
    assert total.funnel_today["main"].left == {"a": {"queue": 3, "hangup": 1}}
    assert east.windows["15m"]["sales"].offered == 2  # inputs untouched
    assert east.funnel_today["main"].reached == {"a": 2}
    history = add_intervals([{"sales": {900: QueueCounts(offered=1)}},
                             {"sales": {0: QueueCounts(offered=2), 900: QueueCounts(offered=3)}}])
    assert {s: c.offered for s, c in history["sales"].items()} == {0: 2, 900: 4}
    assert list(history["sales"]) == [0, 900]


def test_backend_needs_an_engine() -> None:
    with pytest.raises(ValueError, match="at least one engine"):
        ServiceBackend({})
