"""`acd run -c acd.example.toml` against `acd pbxsim`, both as separate processes over TCP:
the service's own records must match what the simulated callers lived (the truth file)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from acd.config import load_config
from acd.core.hours import is_open
from acd.store import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "acd.example.toml"
SECRET = "test-secret-7f3a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def acd(*args: str, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "ACD_AMI_SECRET": SECRET}
    with log.open("w") as err:
        return subprocess.Popen([sys.executable, "-m", "acd", "--log-json", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=err, text=True)


async def service_records(url: str) -> dict[str, dict[str, Any]]:
    """Every call the service saw, by caller channel name."""
    cfg = load_config(EXAMPLE)
    store = await Store.open(url, prefix=cfg.redis.prefix, pbx=cfg.pbx.name)
    try:
        out: dict[str, dict[str, Any]] = {}
        for _, ev in await store.read_events("0", 100_000):
            if ev["type"] == "call_created":
                call = await store.get_call(ev["call"])
                if call is not None:
                    out[call.channel] = {"state": call.state.value,
                                         "outcome": call.outcome.value if call.outcome else None,
                                         "answered": call.answered_at is not None}
        return out
    finally:
        await store.close()


def expected(truth_outcome: str) -> set[str]:
    return {"answered": {"answered"}, "abandoned": {"abandoned", "ivr_hangup"},
            "ended_by_pbx": {"closed"}, "fallback": {"fallback", "timeout"}}[truth_outcome]


def mismatches(truth: list[dict[str, Any]], seen: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    for t in truth:
        if t["outcome"] == "waiting":
            continue  # still on the line when the PBX stopped
        rec = seen.get(t["channel"])
        if rec is None and t["outcome"] == "fallback" and t["hold_entered_at"] is None:
            continue  # came before acd was attached: the dialplan's Queue() took it
        if rec is None:
            out.append(f"{t['channel']}: {t['outcome']}, unknown to the service")
        elif t["outcome"] == "answered" and not rec["answered"]:
            out.append(f"{t['channel']}: answered, the service says {rec}")
        elif t["outcome"] != "answered" and rec["outcome"] not in expected(t["outcome"]):
            out.append(f"{t['channel']}: {t['outcome']}, the service says {rec}")
    return out


async def test_run_example_config_against_pbxsim_matches_truth(
        redis_url: str, procs: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    port = free_port()
    truth_file = tmp_path / "truth.json"
    sim = acd("pbxsim", "--listen", f"127.0.0.1:{port}", "--secret-env", "ACD_AMI_SECRET",
              "--config", str(EXAMPLE), "--rate", "90", "--duration", "25", "--seed", "11",
              "--inputs", "1|2;12345|9001|-;1|2|0", "--patience-mean", "25",
              "--talk-mean", "4", "--answer-delay", "0.5", "--truth", str(truth_file),
              "--wait-for-acd", "60",  # a slow start of acd (a busy machine) costs no calls
              log=tmp_path / "pbxsim.log")
    procs.append(sim)
    # The example config as it is, on a free HTTP port: test runs side by side on one machine
    # (two checkouts, say) must not meet on the example's port 8080.
    config = tmp_path / "acd.toml"
    data = tomllib.loads(EXAMPLE.read_text())
    data["http"]["port"] = free_port()
    config.write_text(tomli_w.dumps(data))
    service = acd("run", "-c", str(config), "--redis-url", redis_url,
                  "--pbx", f"127.0.0.1:{port}", log=tmp_path / "acd.log")
    procs.append(service)
    sim.wait(120)
    assert sim.returncode == 0, (tmp_path / "pbxsim.log").read_text()[-2000:]
    truth = json.loads(truth_file.read_text())
    assert len(truth) > 10
    deadline = time.monotonic() + 20
    while mismatches(truth, seen := await service_records(redis_url)):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert mismatches(truth, seen) == []
    # Every caller an agent answered, including those still talking when the PBX stopped.
    answered = sum(t["answered_at"] is not None for t in truth)
    assert answered == sum(r["answered"] for r in seen.values())
    if is_open(load_config(EXAMPLE).hours["office"], time.time()):
        assert answered > 0
    log = (tmp_path / "acd.log").read_text()
    assert SECRET not in log and SECRET not in (tmp_path / "pbxsim.log").read_text()
    assert service.poll() is None, log[-2000:]  # still running, reconnecting to the PBX


async def test_run_with_the_api_in_its_own_process(
        redis_url: str, procs: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    """http.own_process from the command line: `acd run` starts the figures process, whose
    API shows the calls the routing process takes, and both end on SIGTERM."""
    import aiohttp

    port = free_port()
    sim = acd("pbxsim", "--listen", f"127.0.0.1:{port}", "--secret-env", "ACD_AMI_SECRET",
              "--config", str(EXAMPLE), "--rate", "120", "--duration", "8", "--seed", "5",
              "--inputs", "1|2", "--talk-mean", "2", "--answer-delay", "0.3",
              "--wait-for-acd", "60", log=tmp_path / "pbxsim.log")
    procs.append(sim)
    config = tmp_path / "acd.toml"
    data = tomllib.loads(EXAMPLE.read_text())
    data["http"].update(port=free_port(), own_process=True, anonymous_read=True)
    config.write_text(tomli_w.dumps(data))
    service = acd("run", "-c", str(config), "--redis-url", redis_url,
                  "--pbx", f"127.0.0.1:{port}", log=tmp_path / "acd.log")
    procs.append(service)
    base = f"http://127.0.0.1:{data['http']['port']}"

    async def reached() -> int:
        """Callers the IVR took (open or closed, whatever the time of day)."""
        try:
            async with aiohttp.ClientSession() as s, s.get(f"{base}/api/v1/ivr/funnel") as r:
                if r.status != 200:
                    return 0
                body = await r.json()
        except aiohttp.ClientError:
            return 0
        return sum(node["reached"] for nodes in body["ivr_funnel"].values()
                   for node in nodes.values())

    deadline = time.monotonic() + 60
    while await reached() == 0:
        assert time.monotonic() < deadline, (tmp_path / "acd.log").read_text()[-2000:]
        assert service.poll() is None, (tmp_path / "acd.log").read_text()[-2000:]
        await asyncio.sleep(0.2)
    children = subprocess.run(["pgrep", "-P", str(service.pid)], capture_output=True,
                              text=True, check=False).stdout.split()
    assert len(children) == 1  # the figures process
    service.send_signal(signal.SIGTERM)
    assert service.wait(30) == 0
    with pytest.raises(ProcessLookupError):  # stopped with it
        os.kill(int(children[0]), 0)
    log = (tmp_path / "acd.log").read_text()
    assert SECRET not in log and "figures process" in log
