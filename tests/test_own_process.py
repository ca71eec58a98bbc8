"""http.own_process: the routing process's internal API (commands, readiness) and its client in
the figures process, and the figures process as a real child process that is restarted when it
dies (simulated PBX over TCP, real Redis). The public API in this mode: test_service_api.py."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from acd.api.backend import CommandError
from acd.core.model import AgentState
from acd.service.internal_api import PREFIX, create_internal_app
from acd.service.routing_client import UNREACHABLE, RoutingClient
from acd.testing.harness import Harness, wait_for

from .test_e2e_callpath import config

TOKEN = "internal-token-5b1d"


@pytest.fixture
async def routing(redis_url: str) -> AsyncIterator[tuple[Harness, str]]:
    """The service, and its internal API on a loopback port."""
    h = await Harness.start(config(), redis_url)
    assert h.service.backend is not None
    runner = web.AppRunner(create_internal_app(h.service.backend, TOKEN))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield h, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await h.stop()


async def post(url: str, body: bytes, token: str | None = TOKEN) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=headers) as r:
        return r.status, await r.json()


async def test_internal_api_needs_its_token_and_names_what_is_wrong(
        routing: tuple[Harness, str]) -> None:
    h, base = routing
    url = f"{base}{PREFIX}/commands/agent_command"
    good = b'{"agent_id": "a1", "action": "login", "reason": ""}'
    assert (await post(url, good, token=None))[0] == 401
    assert (await post(url, good, token="wrong"))[0] == 401
    status, body = await post(f"{base}{PREFIX}/commands/format_disk", b"{}")
    assert status == 404 and "format_disk" in body["message"]
    status, body = await post(url, b"{not json")
    assert status == 400 and body["code"] == "bad_request"
    status, body = await post(url, b"[1, 2]")
    assert status == 400 and "object" in body["message"]
    status, body = await post(url, b'{"agent_id": "a1", "reason": ""}')
    assert status == 400 and body["message"].startswith("action:")
    status, body = await post(url, b'{"agent_id": "a1", "action": "dance", "reason": ""}')
    assert status == 400 and "dance" in body["message"]
    status, body = await post(f"{base}{PREFIX}/commands/set_call_priority",
                              b'{"call_id": "x", "priority": "high"}')
    assert status == 400 and body["message"].startswith("priority:")
    assert h.engine.agents["a1"].state is not AgentState.READY  # nothing was carried out
    status, body = await post(url, b'{"agent_id": "nobody", "action": "login", "reason": ""}')
    assert status == 404 and body["code"] == "unknown_agent"
    status, body = await post(url, good)
    assert status == 200 and body == {"pbx": h.cfg.pbx.name}
    assert h.engine.agents["a1"].state is AgentState.READY


async def test_client_carries_commands_errors_and_readiness(
        routing: tuple[Harness, str]) -> None:
    h, base = routing
    client = RoutingClient(base, TOKEN)
    try:
        assert client.status(h.cfg.pbx.name) == (False, UNREACHABLE)  # not heard from yet
        await client.poll_status()
        assert client.status(h.cfg.pbx.name) == (True, "")
        assert client.status("elsewhere")[0] is False
        done = await client.command("agent_command", agent_id="a1", action="login", reason="")
        assert done == {"pbx": h.cfg.pbx.name}
        with pytest.raises(CommandError) as err:
            await client.command("agent_command", agent_id="a1", action="login", reason="")
        assert (err.value.code, err.value.status) == ("bad_transition", 409)
        with pytest.raises(CommandError) as err:
            await client.command("set_call_priority", call_id="nope", priority=3)
        assert (err.value.code, err.value.status) == ("unknown_call", 404)
    finally:
        await client.close()


async def test_client_says_when_the_routing_process_does_not_answer() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = RoutingClient(f"http://127.0.0.1:{port}", TOKEN)
    try:
        with pytest.raises(CommandError) as err:
            await client.command("escalate_call", call_id="c1")
        assert (err.value.code, err.value.status) == ("routing_unavailable", 503)
        assert TOKEN not in err.value.message
        await client.poll_status()
        assert client.status("pbx1") == (False, UNREACHABLE)
    finally:
        await client.close()


async def test_figures_process_is_started_again_when_it_dies(redis_url: str) -> None:
    cfg = config()
    cfg["http"] = {"port": 0, "anonymous_read": True, "own_process": True,
                   "snapshot_interval_s": 0.2}
    h = await Harness.start(cfg, redis_url)
    try:
        child = h.service.figures
        assert child is not None and child.pid is not None and child.pid != os.getpid()
        first = child.pid
        url = f"http://127.0.0.1:{h.service.http_port}/readyz"

        async def ready() -> bool:
            try:
                async with aiohttp.ClientSession() as s, s.get(url) as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        async def until_ready() -> None:
            async with asyncio.timeout(30):
                while not await ready():
                    await asyncio.sleep(0.05)

        await until_ready()
        os.kill(first, signal.SIGKILL)
        await wait_for(lambda: child.pid != first and child.ready.is_set(), 30,
                       "the figures process to be started again")
        assert child.starts == 2
        h.service.http_port = child.http_port  # port 0: the new one listens elsewhere
        url = f"http://127.0.0.1:{child.http_port}/readyz"
        await until_ready()
    finally:
        await h.stop()
    assert child.pid is not None
    with pytest.raises(ProcessLookupError):  # stopped with the service
        os.kill(child.pid, 0)


def test_figures_command_refuses_to_start_without_its_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ACD_ROUTING_TOKEN"}
    out = subprocess.run([sys.executable, "-m", "acd", "figures", "--routing-url",
                          "http://127.0.0.1:1", "--instance", "x"], env=env, input="{}",
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "ACD_ROUTING_TOKEN is not set" in out.stderr


async def test_call_commands_through_the_figures_process(redis_url: str) -> None:
    """A blind transfer, an escalation refused, wrap-up codes and their end, each asked of the
    figures process's API and carried out by the routing process (the issue-9 lab)."""
    from acd.pbxsim import AgentPhone

    from .test_e2e_wrapup import api, connect, hang_up_agent, login, reason_config, waiting

    cfg = reason_config(wrapup_s=60)
    cfg["http"]["own_process"] = True
    h = await Harness.start(cfg, redis_url, phone=lambda i, e: AgentPhone(
        interface=i, extension=e, answer_after_s=None, talk_s=None))
    try:
        assert h.service.figures is not None
        await login(h, "a1", "a3")
        call_id = await waiting(h, "7801", "1")
        await connect(h, "7801", "a1")
        status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer",
                                 {"agent": "a1"})
        assert status == 409 and body["code"] == "same_agent"
        status, body = await api(h, "POST", f"/api/v1/calls/{call_id}/transfer",
                                 {"agent": "a3"})
        assert status == 200 and (body["state"], body["agent_id"]) == ("ringing", "a3"), body
        await connect(h, "7801", "a3")
        await hang_up_agent(h, "a3")
        status, body = await api(h, "POST", "/api/v1/agents/a3/wrapup",
                                 {"codes": ["invoice"], "resolved": True})
        assert status == 200 and body["codes"] == ["invoice"] and body["resolved"] is True
        status, body = await api(h, "POST", "/api/v1/agents/a3/wrapup", {"codes": ["nope"]})
        assert status == 400 and body["code"] == "bad_code"
        status, body = await api(h, "POST", "/api/v1/agents/a3/wrapup", {"done": True})
        assert status == 200 and body["state"] == "ready"
        assert h.engine.agents["a3"].state is AgentState.READY
        status, body = await api(h, "POST", "/api/v1/calls/nope/escalate")
        assert status == 404 and body["code"] == "unknown_call"
    finally:
        await h.stop()


def _gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaped counts as exited)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return True


PARENT = """
import json, os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-m", "acd", "figures", "--routing-url",
                          "http://127.0.0.1:9", "--instance", "t", "--redis-url", sys.argv[1]],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "ACD_ROUTING_TOKEN": "t0ken"})
child.stdin.write(sys.stdin.read())
child.stdin.close()
print(child.pid, child.stdout.readline().strip(), flush=True)
time.sleep(600)
"""


async def test_an_orphaned_figures_process_stops(redis_url: str) -> None:
    """`acd run` killed (SIGKILL: it cannot stop its child): the figures process notices and
    stops rather than serve figures nobody makes."""
    import json

    from acd.config import parse_config

    cfg = config()
    cfg["pbx"] = {"host": "127.0.0.1", "port": 9, "username": "acd", "secret": "x"}
    cfg["http"] = {"port": 0, "own_process": True}
    data = json.dumps(parse_config(cfg).as_data())
    parent = subprocess.Popen([sys.executable, "-c", PARENT, redis_url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdin is not None and parent.stdout is not None
        parent.stdin.write(data)
        parent.stdin.close()
        line = await asyncio.to_thread(parent.stdout.readline)
        pid_text, ready, _port = line.split()
        assert ready == "acd-figures-http-port"
        child = int(pid_text)
        assert not _gone(child)
        parent.kill()
        parent.wait(10)
        await wait_for(lambda: _gone(child), 20, "the orphaned figures process to stop")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()
