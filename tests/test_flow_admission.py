"""Admission and overflow, end to end: the real service over TCP to the simulated PBX (which
runs dialplans/extensions_acd.conf) with a real Redis. Each trigger (EWT limit, no agent logged
in, length cap) and each action (overflow, voicemail, closed), at entry and while waiting, and
a reload that lowers a limit for callers already waiting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acd.core.model import AgentState, CallState
from acd.testing.harness import Harness, wait_for
from tests.flowkit import (
    answer,
    apps_run,
    call_of,
    centre,
    ended_events,
    figures,
    lab,
    login,
    place,
    reload,
    truth_of,
    until_waiting,
)

__all__ = ["lab"]


async def test_ewt_over_the_limit_overflows_to_another_queue(lab: Any) -> None:
    # a1 is busy with a 5-minute handle time assumed: a new sales caller would wait ~300 s.
    cfg = centre(sales={"assumed_aht_s": 300, "admission": {
        "max_ewt_s": 60, "action": "overflow", "overflow_queue": "support"}})
    h: Harness = await lab(cfg)
    await login(h, "a1")
    place(h, "5001", "1")
    await answer(h, "5001", "a1")
    place(h, "5002", "1")
    moved = await until_waiting(h, "5002", "support")
    assert moved.overflow_path == ["sales"]
    assert moved.required == {"support": 1}  # the new queue's skills
    # It kept its entry time, and a support agent takes it there.
    events = [e for _, e in await h.engine.store.read_events()]
    queued = next(e for e in events if e["type"] == "call_queued" and e["call"] == moved.id)
    assert float(queued["entered_at"]) == moved.entered_at
    assert queued["queue"] == "sales"
    assert [(e["from_queue"], e["queue"]) for e in events
            if e["type"] == "call_overflowed"] == [("sales", "support")]
    await login(h, "a2")
    await answer(h, "5002", "a2")
    sales, support = await figures(h, "sales"), await figures(h, "support")
    assert (sales.offered, sales.overflowed, sales.answered) == (2, 1, 1)
    assert (support.offered, support.overflowed, support.answered) == (1, 0, 1)


async def test_no_agent_logged_in_sends_the_caller_to_voicemail(lab: Any) -> None:
    cfg = centre(sales={"admission": {"no_agents": True, "action": "voicemail",
                                      "mailbox": "700@sales"}})
    h: Harness = await lab(cfg)
    caller = place(h, "5101", "1")
    await wait_for(lambda: any(c["context"] == "acd-voicemail" and c["application"] ==
                               "VoiceMail" for c in h.sim.channels()), 10, "VoiceMail()")
    await wait_for(lambda: call_of(h, "5101") is None, 10, "the call to end in acd")
    # The caller records a message, then hangs up: app_voicemail keeps it.
    await wait_for(lambda: any(ch.app is not None and ch.app.extra.get("recording")
                               for ch in h.sim.pbx.channels.values()), 10, "recording")
    h.sim.hangup_caller(caller)
    await wait_for(lambda: truth_of(h, "5101")["ended_at"] is not None, 10, "caller gone")
    assert truth_of(h, "5101")["outcome"] == "voicemail"
    assert [m["from"] for m in h.sim.pbx.mailboxes["700@sales"]] == ["5101"]
    assert [e["outcome"] for e in (await ended_events(h)).values()] == ["voicemail"]
    sales = await figures(h, "sales")
    assert (sales.offered, sales.voicemail, sales.abandoned) == (1, 1, 0)


async def test_length_cap_plays_the_closed_message(lab: Any) -> None:
    cfg = centre(support={"admission": {"max_waiting": 1, "action": "closed",
                                        "closed_prompt": "acd/too-busy"}})
    h: Harness = await lab(cfg)
    h.sim.record_events = True
    place(h, "5201", "2")
    await until_waiting(h, "5201")
    place(h, "5202", "2")
    await wait_for(lambda: truth_of(h, "5202")["ended_at"] is not None, 10, "closed, hung up")
    assert truth_of(h, "5202")["outcome"] == "ended_by_pbx"
    assert "acd/too-busy" in apps_run(h, "Playback")
    assert call_of(h, "5201").state is CallState.WAITING  # type: ignore[union-attr]
    outcomes = [e["outcome"] for e in (await ended_events(h)).values()]
    assert outcomes == ["closed"]
    support = await figures(h, "support")
    assert (support.offered, support.closed) == (2, 1)


async def test_last_able_agent_logging_out_moves_waiting_callers(lab: Any) -> None:
    cfg = centre(sales={"admission": {"no_agents": True, "action": "overflow",
                                      "overflow_queue": "support", "check_every_s": 0.2}})
    h: Harness = await lab(cfg)
    await login(h, "a1")
    h.sim.dial_feature("1001", "*52", digits="2")  # paused: still logged in
    await wait_for(lambda: h.engine.agents["a1"].state is AgentState.NOT_READY, 10, "paused")
    place(h, "5301", "1")
    waiting = await until_waiting(h, "5301", "sales")
    # Still in sales after a few checks: a paused agent could take it later.
    ticks = h.engine.flow.ticks
    await wait_for(lambda: h.engine.flow.ticks >= ticks + 3, 10, "three checks")
    assert call_of(h, "5301").queue == "sales"  # type: ignore[union-attr]
    h.sim.dial_feature("1001", "*54")  # the only sales agent logs out
    moved = await until_waiting(h, "5301", "support")
    assert moved.entered_at == waiting.entered_at


async def test_reload_lowering_the_cap_reaches_callers_already_waiting(
        lab: Any, tmp_path: Path) -> None:
    cfg = centre(support={"admission": {"max_waiting": 5, "action": "closed",
                                        "check_every_s": 0.2}})
    h: Harness = await lab(cfg)
    place(h, "5401", "2")
    first = await until_waiting(h, "5401")
    place(h, "5402", "2")
    await until_waiting(h, "5402")
    cfg["queues"]["support"]["admission"]["max_waiting"] = 1
    await reload(h, tmp_path, cfg)
    await wait_for(lambda: truth_of(h, "5402")["ended_at"] is not None, 10,
                   "the caller beyond the new cap to be refused")
    assert call_of(h, "5401") is not None and call_of(h, "5401").id == first.id  # type: ignore[union-attr]
    assert [e["outcome"] for e in (await ended_events(h)).values()] == ["closed"]
