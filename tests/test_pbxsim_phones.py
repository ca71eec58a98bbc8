"""Agent phones driven by hand (agent_answer / agent_hangup) when rung by Dial(), Queue() and
Originate, and the AMI actions added for the status/queue/MixMonitor traces (no TCP needed)."""

from __future__ import annotations

from pathlib import Path

from acd.pbxsim import AgentPhone, CallerSpec, ManualClock, PbxSim
from acd.pbxsim.frames import get
from acd.pbxsim.model import Channel

TRACES = Path(__file__).parent / "fixtures" / "traces"


def make_sim(*silent: str) -> tuple[PbxSim, ManualClock]:
    clock = ManualClock()
    sim = PbxSim(dialplan_path=TRACES / "extensions.conf", clock=clock,
                 inbound_context="from-caller", caller_interface="SIP/caller",
                 queue_members={"support": ["SIP/agent1", "SIP/agent2"]})
    for n in ("1", "2"):
        sim.add_phone(AgentPhone(f"SIP/agent{n}", f"700{n}", f"Agent {n}",
                                 answer_after_s=None, talk_s=None))
    sim.record_events = True
    return sim, clock


def names(sim: PbxSim, event: str) -> list[str]:
    return [get(h, "Channel") for e, h in sim.events if e == event]


def leg(sim: PbxSim, interface: str) -> Channel:
    ch = sim.pbx.phones[interface].channel
    assert ch is not None
    return ch


def caller(sim: PbxSim) -> Channel:
    return next(c for c in sim.pbx.channels.values() if c.kind == "caller")


def test_dial_rung_phone_answers_and_hangs_up_by_hand() -> None:
    sim, clock = make_sim()
    sim.place_call(CallerSpec(number="5551234", dnis="1003"))
    clock.advance(1.0)
    ch = caller(sim)
    sim.pbx.set_var(ch, "AGENT", "agent1")
    sim.pbx.redirect(ch, "acd-connect", "s", "1")
    clock.advance(3.0)
    assert [get(h, "DialStatus") for e, h in sim.events if e == "DialEnd"] == []
    sim.agent_answer("SIP/agent1")
    assert names(sim, "BridgeEnter") == [leg(sim, "SIP/agent1").name, ch.name]
    assert [get(h, "DialStatus") for e, h in sim.events if e == "DialEnd"] == ["ANSWER"]
    sim.agent_hangup("SIP/agent1")
    hangups = [(get(h, "Channel"), get(h, "Cause"), get(h, "Priority"))
               for e, h in sim.events if e == "Hangup"]
    assert hangups[-1] == (ch.name, "16", "2")  # Dial() without g: the caller goes too
    assert not sim.pbx.channels


def test_queue_rung_phone_answers_and_hangs_up_by_hand() -> None:
    sim, clock = make_sim()
    sim.place_call(CallerSpec(number="5551234", dnis="2001"))
    clock.advance(1.0)
    assert leg(sim, "SIP/agent1").state == 5
    sim.agent_answer("SIP/agent1")
    assert [e for e, _ in sim.events if e.startswith("Agent")] == ["AgentCalled", "AgentConnect"]
    clock.advance(4.0)
    sim.agent_hangup("SIP/agent1")
    complete = [h for e, h in sim.events if e == "AgentComplete"]
    assert [get(h, "Reason") for h in complete] == ["agent"]


def test_paused_members_are_skipped() -> None:
    sim, clock = make_sim()
    from acd.pbxsim import queue

    queue.pause(sim.pbx, "support", "SIP/agent1", True, "break")
    sim.place_call(CallerSpec(number="5551234", dnis="2001"))
    clock.advance(1.0)
    assert sim.pbx.phones["SIP/agent1"].channel is None
    assert sim.pbx.phones["SIP/agent2"].channel is not None


def test_originated_phone_answers_by_hand() -> None:
    sim, clock = make_sim()
    from acd.pbxsim import originate

    originate.originate(sim.pbx, [("Channel", "SIP/agent2"), ("Context", "acd-wait"),
                                  ("Exten", "s"), ("Priority", "1"), ("ChannelId", "o-1")])
    clock.advance(2.0)
    sim.agent_answer("SIP/agent2")
    resp = [h for e, h in sim.events if e == "OriginateResponse"]
    assert [get(h, "Reason") for h in resp] == ["4"]
    assert leg(sim, "SIP/agent2").context == "acd-wait"
