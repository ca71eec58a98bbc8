"""Faults the service survives with nothing lost: Redis restarted, the service killed (-9) and
restarted, the PBX restarted, the service gone while callers wait (the PBX takes them).

Each test reports its measured recovery time in the summary of the test run."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from acd.core.model import CallState
from acd.pbxsim import AgentPhone, CallerSpec, PbxSim
from acd.store import Store
from acd.testing.harness import Harness, wait_for
from acd.testing.redis_server import RedisServer

from .conftest import RECOVERY
from .test_e2e_callpath import answer, call_of, config, login, place, until_waiting


def manual(iface: str, ext: str) -> AgentPhone:
    return AgentPhone(interface=iface, extension=ext, answer_after_s=None, talk_s=None)


def report(what: str, seconds: float) -> None:
    RECOVERY.append((what, seconds))


async def ended_outcomes(store: Store) -> dict[str, str]:
    return {e["call"]: e["outcome"] for _, e in await store.read_events("0", 100_000)
            if e["type"] == "call_ended"}


async def test_redis_restart_pauses_routing_and_loses_nothing() -> None:
    redis = RedisServer(appendonly=True).start()
    h = await Harness.start(config(), redis.url, phone=manual)
    try:
        await login(h, "a3")
        h.sim.place_call(CallerSpec(number="7701", dnis="100", inputs=["1"]))
        await answer(h, "7701", "a3")
        h.sim.place_call(CallerSpec(number="7702", dnis="100", inputs=["1"]))
        second = await until_waiting(h, "7702")
        redis.kill()
        h.sim.agent_hangup("PJSIP/1003")  # the first call ends while Redis is away
        backend = h.service.backend
        assert backend is not None
        await wait_for(lambda: not backend.readiness().ready, 15, "readiness to say Redis")
        assert "Redis" in backend.readiness().reason
        h.sim.place_call(CallerSpec(number="7703", dnis="100", inputs=["1"]))  # arrives meanwhile
        back = time.monotonic()
        redis.start()
        await wait_for(lambda: (c := call_of(h, "7702")) is not None
                       and c.state is CallState.RINGING, 20, "routing to resume")
        report("Redis back -> routing again", time.monotonic() - back)
        h.sim.agent_answer("PJSIP/1003")
        await until_waiting(h, "7703")  # the caller who came during the outage got its IVR
        await wait_for(lambda: backend.readiness().ready, 15, "ready again")
        outcomes = await ended_outcomes(h.engine.store)
        assert list(outcomes.values()) == ["answered"]  # counted once
        assert call_of(h, "7702").entered_at == second.entered_at  # type: ignore[union-attr]
    finally:
        await h.stop()
        redis.stop()


async def test_pbx_restart_closes_the_calls_it_lost(redis_url: str) -> None:
    h = await Harness.start(config(), redis_url, phone=manual)
    port = h.sim.port
    try:
        await login(h, "a3")
        h.sim.place_call(CallerSpec(number="7801", dnis="100", inputs=["1"]))
        await answer(h, "7801", "a3")
        h.sim.place_call(CallerSpec(number="7802", dnis="100", inputs=["1"]))
        await until_waiting(h, "7802")
        await h.sim.stop()  # the PBX goes away with every channel
        fresh = PbxSim(username="acd", secret=h.cfg.pbx.resolve_secret(), default_prompt_s=0.05)
        for agent in h.cfg.agents.values():
            fresh.add_phone(manual(agent.interface, agent.extension))
        started = time.monotonic()
        await fresh.start(host="127.0.0.1", port=port)
        h.sim = fresh
        await wait_for(lambda: not h.engine.calls and h.engine.routing_enabled, 20,
                       "the lost calls to be closed")
        report("PBX back -> resynced", time.monotonic() - started)
        outcomes = sorted((await ended_outcomes(h.engine.store)).values())
        assert outcomes == ["abandoned", "answered"]
        # Routing goes on with the new PBX: a3 (freed by the lost call) takes the next one.
        fresh.place_call(CallerSpec(number="7803", dnis="100", inputs=["1"]))
        await wait_for(lambda: (c := call_of(h, "7803")) is not None
                       and c.state is CallState.RINGING and c.agent_id == "a3", 15,
                       "routing on the new PBX")
    finally:
        await h.stop()


async def test_callers_go_to_the_pbx_queue_when_the_service_dies(redis_url: str) -> None:
    h = await Harness.start(config(), redis_url, phone=manual)
    try:
        caller = h.sim.place_call(CallerSpec(number="7901", dnis="100", inputs=["1"]))
        await until_waiting(h, "7901")
        await h.service.stop()
        # 15 s without a heartbeat make it stale; the test moves the PBX's clock of it instead.
        h.sim.set_global("ACD_HEARTBEAT", str(int(time.time()) - 60))
        gone = time.monotonic()
        await wait_for(lambda: any(c["context"] == "acd-fallback" and c["application"] == "Queue"
                                   for c in h.sim.channels()), 15, "the caller in Queue()")
        report("heartbeat stale -> caller in Queue()", time.monotonic() - gone)
        h.sim.hangup_caller(caller)
        truth = next(t for t in h.sim.truth() if t["number"] == "7901")
        assert truth["outcome"] == "fallback"
    finally:
        await h.sim.stop()


# --- kill -9 of a real `acd run` process ---------------------------------------------------

@pytest.fixture
async def pbx() -> AsyncIterator[PbxSim]:
    sim = PbxSim(username="acd", secret="kill9-secret", default_prompt_s=0.05)
    sim.pbx.digit_delay_s = sim.pbx.digit_gap_s = 0.02
    for i in (1, 2, 3):
        sim.add_phone(manual(f"PJSIP/100{i}", f"100{i}"))
    await sim.start(host="127.0.0.1", port=0)
    yield sim
    await sim.stop()


def start_service(cfg_path: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ACD_AMI_SECRET": "kill9-secret"}
    with log.open("a") as err:
        return subprocess.Popen([sys.executable, "-m", "acd", "--log-json", "run", "-c",
                                 str(cfg_path)], env=env, stdout=subprocess.DEVNULL, stderr=err)


async def test_kill_9_with_calls_in_every_state(pbx: PbxSim, redis_url: str,
                                                tmp_path: Path) -> None:
    data: dict[str, Any] = config()
    data["pbx"].update({"port": pbx.port, "secret_env": "ACD_AMI_SECRET"})
    data["redis"] = {"url": redis_url}
    # A fixed HTTP port gives the instance a stable id: after the restart it takes its calls
    # back at once instead of waiting for its old leases to lapse.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        data["http"] = {"port": probe.getsockname()[1]}
    cfg_path = tmp_path / "acd.toml"
    cfg_path.write_text(tomli_w.dumps(data))
    log = tmp_path / "acd.log"
    proc = start_service(cfg_path, log)
    store = await Store.open(redis_url, pbx="lab")
    try:
        async def state_of(number: str) -> str:
            for call in await store.load_live_calls():
                if call.caller_num == number:
                    return call.state.value
            return "none"

        async def until(number: str, state: str) -> None:
            deadline = time.monotonic() + 20
            while await state_of(number) != state:
                assert time.monotonic() < deadline, f"{number} never {state}: {log.read_text()}"
                await asyncio.sleep(0.05)

        await wait_for(lambda: "ACD_HEARTBEAT" in pbx.pbx.globals, 20, "the service to attach")
        pbx.dial_feature("1003", "*51")
        pbx.dial_feature("1002", "*51")
        pbx.place_call(CallerSpec(number="8001", dnis="100", inputs=["1"]))  # a3 answers
        await until("8001", "ringing")
        pbx.agent_answer("PJSIP/1003")
        await until("8001", "connected")
        pbx.place_call(CallerSpec(number="8002", dnis="100", inputs=["2"]))  # a2 rings
        await until("8002", "ringing")
        pbx.place_call(CallerSpec(number="8003", dnis="100", inputs=["1"]))  # waits
        await until("8003", "waiting")
        waited = next(c for c in await store.load_live_calls() if c.caller_num == "8003")
        in_ivr = pbx.place_call(CallerSpec(number="8004", dnis="100"))  # in the menu
        await until("8004", "ivr")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        pbx.hangup_caller(in_ivr)  # ends while the service is down
        restarted = time.monotonic()
        proc = start_service(cfg_path, log)
        await until("8004", "none")  # closed as an IVR hang-up on resync
        await until("8002", "waiting")  # its unseen ring was stopped; back in its place
        report("restart -> routing again", time.monotonic() - restarted)
        again = next(c for c in await store.load_live_calls() if c.caller_num == "8003")
        assert again.entered_at == waited.entered_at
        assert await state_of("8001") == "connected"
        pbx.agent_hangup("PJSIP/1003")  # the connected call finishes, counted once
        await until("8001", "none")
        outcomes = await ended_outcomes(store)
        assert sorted(outcomes.values()) == ["answered", "ivr_hangup"]
        events = [e for _, e in await store.read_events("0", 100_000)]
        assert sum(e["type"] == "call_answered" for e in events) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        await store.close()


async def test_a_failed_resync_is_tried_again_on_the_same_link(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """CoreShowChannels refused (a PBX too loaded to list its channels in time) at the first
    resync: routing must not stay paused until some later login, but resume on its own."""
    import acd.pbxsim.ami as sim_ami

    plain = sim_ami.ACTIONS["coreshowchannels"]
    refused: list[int] = []

    def flaky(s: Any, a: Any) -> None:
        if len(refused) < 2:
            refused.append(1)
            s.error(a, "too busy")
            return
        plain(s, a)

    monkeypatch.setitem(sim_ami.ACTIONS, "coreshowchannels", flaky)
    h = await Harness.start(config(), redis_url)  # waits for routing to be enabled
    try:
        assert len(refused) == 2
        assert h.engine.link.connected.is_set() and h.engine.routing_enabled
        assert h.engine.logins == 1  # the same link: no reconnect was needed
        await login(h, "a1")
        await place(h, "5550100", "1")
        await wait_for(lambda: (c := call_of(h, "5550100")) is not None
                       and c.state in (CallState.RINGING, CallState.CONNECTED), 10,
                       "the caller routed after the resync")
    finally:
        await h.stop()


async def test_a_stop_that_hangs_shows_what_every_task_waits_for(
        lab: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A hung teardown is diagnosable: the harness prints every task's stack and raises,
    before the test's own time-out would show only the threads."""
    import acd.testing.harness as harness_mod

    h: Harness = await lab()
    stuck = asyncio.Event()

    async def never_done() -> None:
        await stuck.wait()

    plain = h.service.stop
    monkeypatch.setattr(harness_mod, "STOP_TIMEOUT_S", 0.2)
    monkeypatch.setattr(h.service, "stop", lambda **_kw: never_done())
    with pytest.raises(TimeoutError):
        await h.stop()
    err = capsys.readouterr().err
    assert "not done in 0.2 s" in err and "never_done" in err  # the stuck task's frame
    monkeypatch.setattr(h.service, "stop", plain)  # the fixture stops it for real
