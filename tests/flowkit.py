"""Helpers of the caller-facing policy tests (test_flow_*.py): a two-queue centre, the real
service over TCP to the simulated PBX with a real Redis, and waits on conditions (never sleeps).

Agents' phones answer only when a test says so (answer_after_s=None), so each step is awaited.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from acd.core.model import AgentState, Call, CallState
from acd.pbxsim import AgentPhone, CallerSpec
from acd.stats.schema import QueueFigures, WindowFigures
from acd.testing.harness import Harness, wait_for

QUEUE = {"wrapup_s": 0.2, "ring_timeout_s": 5, "max_wait_s": 600}


def centre(sales: dict[str, Any] | None = None,
           support: dict[str, Any] | None = None) -> dict[str, Any]:
    """sales (a1, a3) and support (a2); a caller presses 1 for sales, 2 for support."""
    return {
        "pbx": {"name": "lab", "secret": "not-used"},
        "queues": {"sales": {"skills": {"sales": 1}, **QUEUE, **(sales or {})},
                   "support": {"skills": {"support": 1}, **QUEUE, **(support or {})}},
        "agents": {
            "a1": {"interface": "PJSIP/1001", "extension": "1001", "skills": {"sales": 3}},
            "a2": {"interface": "PJSIP/1002", "extension": "1002", "skills": {"support": 3}},
            "a3": {"interface": "PJSIP/1003", "extension": "1003", "skills": {"sales": 2}},
        },
        "flows": {"main": {
            "dnis": ["100"], "start": "menu",
            "nodes": {
                "menu": {"type": "menu", "prompt": "menu", "timeout_s": 3, "retries": 1,
                         "options": {"1": "to_sales", "2": "to_support"}},
                "to_sales": {"type": "queue", "queue": "sales"},
                "to_support": {"type": "queue", "queue": "support"},
            }}},
    }


def manual_phone(iface: str, ext: str) -> AgentPhone:
    return AgentPhone(interface=iface, extension=ext, answer_after_s=None, talk_s=None)


@pytest.fixture
async def lab(redis_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[Harness] = []

    async def make(cfg: dict[str, Any], **kwargs: Any) -> Harness:
        kwargs.setdefault("phone", manual_phone)
        kwargs.setdefault("config_path", tmp_path / "acd.toml")
        h = await Harness.start(cfg, redis_url, **kwargs)
        started.append(h)
        return h

    yield make
    for h in started:
        await h.stop()


async def reload(h: Harness, tmp_path: Path, cfg: dict[str, Any]) -> None:
    """Write `cfg` (with the harness's PBX address) and reload it through the API backend."""
    data = copy.deepcopy(cfg)
    data["pbx"] = {**data.get("pbx", {}), "host": "127.0.0.1", "port": h.sim.port,
                   "username": "acd", "secret": h.service.cfg.pbx.resolve_secret()}
    data.setdefault("http", {})["port"] = 0
    (tmp_path / "acd.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    assert h.service.backend is not None
    await h.service.backend.reload_config()


def call_of(h: Harness, number: str) -> Call | None:
    return next((c for c in h.engine.calls.values() if c.caller_num == number), None)


def truth_of(h: Harness, number: str) -> dict[str, Any]:
    return next(t for t in h.sim.truth() if t["number"] == number)


def place(h: Harness, number: str, *inputs: str | None, **spec: Any) -> str:
    return h.sim.place_call(CallerSpec(number=number, dnis="100", inputs=list(inputs), **spec))


async def until_waiting(h: Harness, number: str, queue: str | None = None) -> Call:
    def ready() -> bool:
        c = call_of(h, number)
        return c is not None and c.state is CallState.WAITING and (
            queue is None or c.queue == queue)

    await wait_for(ready, 10, f"call from {number} to wait" + (f" in {queue}" if queue else ""))
    call = call_of(h, number)
    assert call is not None
    return call


async def login(h: Harness, agent_id: str) -> None:
    h.sim.dial_feature(h.cfg.agents[agent_id].extension, "*51")
    await wait_for(lambda: h.engine.agents[agent_id].state is not AgentState.LOGGED_OUT, 10,
                   f"{agent_id} to log in")


async def answer(h: Harness, number: str, agent_id: str) -> None:
    iface = h.cfg.agents[agent_id].interface

    def ringing() -> bool:
        c = call_of(h, number)
        return c is not None and c.state is CallState.RINGING and c.agent_id == agent_id \
            and h.sim.pbx.phones[iface].channel is not None

    await wait_for(ringing, 10, f"call from {number} to ring {agent_id}")
    h.sim.agent_answer(iface)
    await wait_for(lambda: (c := call_of(h, number)) is not None
                   and c.state is CallState.CONNECTED, 10, f"{number} connected")


async def ended_events(h: Harness) -> dict[str, dict[str, str]]:
    """call id -> its call_ended event."""
    return {e["call"]: e for _, e in await h.engine.store.read_events()
            if e["type"] == "call_ended"}


async def figures(h: Harness, queue: str, window: str = "15m") -> WindowFigures:
    return (await queue_figures(h, queue)).windows[window]  # type: ignore[index]


async def queue_figures(h: Harness, queue: str) -> QueueFigures:
    assert h.service.backend is not None
    snap = await h.service.backend.refresh()
    return next(q for q in snap.queues if q.name == queue)


def apps_run(h: Harness, application: str) -> list[str]:
    """AppData of every Newexten of `application` seen (needs sim.record_events)."""
    return [dict(hd).get("AppData", "") for ev, hd in h.sim.events
            if ev == "Newexten" and dict(hd).get("Application") == application]
