"""End to end: the routing policies of issue #4 (skill expansion, VIP experts, last-agent
routing, priority aging, service objective, reload) through the simulated PBX over TCP with a
real Redis. Waits are conditions with timeouts; the claim times come from the store's events.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from acd.core.model import AgentState, CallState
from acd.testing.harness import Harness, wait_for

from .test_e2e_callpath import (
    answer,
    call_of,
    config,
    login,
    place,
    rings,
    until_waiting,
)

Lab = Any


def with_routing(queue: str, cfg: dict[str, Any] | None = None, **routing: Any
                 ) -> dict[str, Any]:
    data = copy.deepcopy(cfg or config())
    data["queues"][queue]["routing"] = routing
    return data


async def claimed_at(h: Harness, call_id: str) -> float:
    """When the store gave the call to an agent (the call_claimed event)."""
    events = [e for _, e in await h.engine.store.read_events()
              if e["type"] == "call_claimed" and e["call"] == call_id]
    assert events, f"{call_id} was never claimed"
    return float(events[-1]["at"])


async def hang_up_agent(h: Harness, agent_id: str, number: str) -> None:
    h.sim.agent_hangup(h.cfg.agents[agent_id].interface)
    await wait_for(lambda: call_of(h, number) is None, 10, f"call from {number} to end")


async def test_skill_expansion_after_the_wait(lab: Lab) -> None:
    data = config()
    data["queues"]["support"]["skills"] = {"support": 4}
    h: Harness = await lab(with_routing("support", data,
                                        expand=[{"after_s": 1.0, "skills": {"support": 2}}]))
    await login(h, "a1")  # support 2: only after the expansion step
    await place(h, "5101", "2")
    call = await until_waiting(h, "5101")
    await rings(h, "5101", "a1")
    assert call.entered_at is not None
    assert await claimed_at(h, call.id) >= call.entered_at + 1.0


async def test_vip_waits_for_an_expert(lab: Lab) -> None:
    data = config()
    data["queues"]["support"]["skills"] = {"support": 2}
    h: Harness = await lab(with_routing("support", data, vip_expert_s=60, expert_level=5))
    await login(h, "a1")  # support 2: no expert
    await place(h, "999", "2")  # VIP
    await until_waiting(h, "999")
    await place(h, "5201", "2")  # a normal caller is not held back by the VIP's preference
    await answer(h, "5201", "a1")
    await hang_up_agent(h, "a1", "5201")
    await wait_for(lambda: h.engine.agents["a1"].state is AgentState.READY, 10, "a1 ready")
    assert call_of(h, "999").state is CallState.WAITING  # type: ignore[union-attr]
    await login(h, "a2")  # the expert comes: the VIP goes to it, though a1 is free too
    await answer(h, "999", "a2")


async def test_vip_takes_anyone_after_the_expert_window(lab: Lab) -> None:
    data = config()
    data["queues"]["support"]["skills"] = {"support": 2}
    h: Harness = await lab(with_routing("support", data, vip_expert_s=1.0, expert_level=5))
    await login(h, "a1")
    await place(h, "999", "2")
    vip = await until_waiting(h, "999")
    await rings(h, "999", "a1")
    assert vip.entered_at is not None
    assert await claimed_at(h, vip.id) >= vip.entered_at + 1.0


async def test_last_agent_routing_and_repeat_calls(lab: Lab) -> None:
    data = config(wrapup_s=3)
    h: Harness = await lab(with_routing("support", data, last_agent_s=20))
    await login(h, "a1")
    await place(h, "5301", "2")
    await answer(h, "5301", "a1")
    await login(h, "a2")  # a2 is free and idle longest from now on
    await hang_up_agent(h, "a1", "5301")
    # The same caller calls again while a1 wraps up: held for a1, not given to idle a2.
    await place(h, "5301", "2")
    again = await until_waiting(h, "5301")
    assert again.last_agent == "a1"
    await rings(h, "5301", "a1")
    assert h.engine.agents["a2"].state is AgentState.READY
    # Another caller goes to the longest idle agent as usual.
    await place(h, "5302", "2")
    await rings(h, "5302", "a2")

    def repeats() -> tuple[int, int]:
        snap = h.service.backend.snapshot() if h.service.backend else {}
        support = next((q for q in snap.get("queues", []) if q["name"] == "support"), None)
        a1 = next((a for a in snap.get("agents", []) if a["id"] == "a1"), None)
        if support is None or a1 is None:
            return (-1, -1)
        return support["windows"]["15m"]["repeats"], a1["repeats_today"]

    await wait_for(lambda: repeats() == (1, 1), 10, "the repeat to be counted")
    assert h.service.backend is not None
    support = next(q for q in h.service.backend.snapshot()["queues"] if q["name"] == "support")
    assert support["windows"]["15m"]["repeat_rate"] == 1.0  # 1 answered, 1 repeated
    assert support["windows"]["15m"]["fcr_proxy"] == 0.0


async def test_last_agent_hold_ends_when_that_agent_pauses(lab: Lab) -> None:
    data = config(wrapup_s=30)
    h: Harness = await lab(with_routing("support", data, last_agent_s=60))
    await login(h, "a1")
    await place(h, "5401", "2")
    await answer(h, "5401", "a1")
    await login(h, "a2")
    await hang_up_agent(h, "a1", "5401")
    await place(h, "5401", "2")
    call = await until_waiting(h, "5401")
    assert call.last_agent == "a1" and call.state is CallState.WAITING
    h.sim.dial_feature("1001", "*54")  # a1 logs out: nobody to hold for
    await rings(h, "5401", "a2")


async def test_priority_aging_serves_a_long_waiting_normal_call_first(lab: Lab) -> None:
    h: Harness = await lab(with_routing("support", priority_step_s=0.1))  # VIP head start 1 s
    await place(h, "5501", "2")
    normal = await until_waiting(h, "5501")
    assert normal.entered_at is not None
    await wait_for(lambda: h.engine.now() > normal.entered_at + 1.2, 5,  # type: ignore[operator]
                   "the normal caller to wait past the VIP head start")
    await place(h, "999", "2")
    await until_waiting(h, "999")
    await login(h, "a2")
    await rings(h, "5501", "a2")
    assert call_of(h, "999").state is CallState.WAITING  # type: ignore[union-attr]


async def test_queue_behind_its_objective_wins_the_shared_agent(lab: Lab) -> None:
    data = config()
    data["queues"]["support"]["sla"] = {"threshold_s": 1, "target_pct": 80}
    h: Harness = await lab(with_routing("support", data, objective_boost_s=600))
    await place(h, "5601", "1")  # sales, first
    sales = await until_waiting(h, "5601")
    await place(h, "5602", "2")  # support, later, but its queue misses its 1 s threshold
    await until_waiting(h, "5602")
    await wait_for(lambda: h.engine.rules.offset("support") == 600, 10,
                   "the live figures to steer support ahead")
    assert h.service.backend is not None

    def shown() -> float | None:
        snap = h.service.backend.snapshot() if h.service.backend else {}
        return next((q["objective_offset_s"] for q in snap.get("queues", [])
                     if q["name"] == "support"), None)

    await wait_for(lambda: shown() == 600, 10, "the wallboard figures to show the steering")
    await login(h, "a1")  # serves both queues
    await rings(h, "5602", "a1")
    assert call_of(h, "5601").state is CallState.WAITING  # type: ignore[union-attr]
    assert sales.state is CallState.WAITING


async def test_reload_reaches_callers_already_waiting(lab: Lab, tmp_path: Path) -> None:
    path = tmp_path / "acd.toml"
    h: Harness = await lab(config(), config_path=path)
    await login(h, "a3")  # sales only
    await place(h, "5701", "2")  # support: nobody can take it
    await until_waiting(h, "5701")
    data = tomllib.loads(path.read_text())
    data["queues"]["support"]["routing"] = {"expand": [{"after_s": 0.5, "skills": {"sales": 1}}]}
    path.write_text(tomli_w.dumps(data))
    assert h.service.backend is not None
    await h.service.backend.reload_config()
    await rings(h, "5701", "a3")
