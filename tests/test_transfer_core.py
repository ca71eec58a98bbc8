"""Issue 9 below the service: the transfer rules of the pure core, and the simulated PBX doing
what the transfers ask of Asterisk over raw AMI (a blind transfer's Redirect out of a bridge,
a dual Redirect with ExtraChannel, a consulted leg that waits in acd-consult)."""

from __future__ import annotations

from acd.config import parse_config
from acd.core import transfer
from acd.core.model import Call
from tests.test_pbxsim import advance, setup, teardown, to_hold
from tests.test_reasons_core import BASE


def test_skills_a_transferred_call_needs() -> None:
    cfg = parse_config(BASE)
    call = Call("c", "PJSIP/t", "c", "1", "1", queue="billing", reason="refund",
                required={"billing": 1, "refund_auth": 2, "lang_fr": 1})
    assert transfer.brought_skills(cfg, call) == {"lang_fr": 1}
    # a queue transfer keeps the reason's authority and the caller's language
    assert transfer.required_in(cfg, call, "support", "blind") == {
        "support": 1, "lang_fr": 1, "refund_auth": 2}
    # an escalation: the supervisors' queue's own skills stand for the authority
    assert transfer.required_in(cfg, call, "bosses", "escalation") == {"boss": 1, "lang_fr": 1}


def test_escalation_queue_and_phone_targets() -> None:
    data = {**BASE, "queues": {**BASE["queues"], "support": {
        **BASE["queues"]["support"], "escalation_queue": "billing"}}}
    cfg = parse_config(data)
    assert transfer.escalation_queue(cfg, "billing") == "bosses"  # the centre's
    assert transfer.escalation_queue(cfg, "support") == "billing"  # the queue's own
    assert transfer.target_of_digits(cfg, "20") == ("queue", "billing")
    assert transfer.target_of_digits(cfg, "1001") == ("agent", "a1")
    assert transfer.target_of_digits(cfg, "77") is None
    assert transfer.target_of_digits(cfg, "") is None
    entry = transfer.history_entry({"at": "12.5", "kind": "blind", "from_queue": "a"})
    assert entry == {"at": 12.5, "kind": "blind", "from_queue": "a", "to_queue": "",
                     "from_agent": "", "to_agent": ""}


async def test_blind_redirect_dual_redirect_and_consult_wait_in_the_sim() -> None:
    sim, clock, raw = await setup(p1001=(1.0, None), p1002=(1.0, None))
    try:
        cid, chan = await to_hold(sim, clock, raw)
        await raw.action("Originate", Channel="PJSIP/1001", Context="acd-agent", Exten="s",
                         Priority="1", Timeout="30000", CallerID='"Ann" <5550001>',
                         Async="true", ChannelId="leg-1", Variable=f"ACD_CALLER={chan}")
        await advance(raw, clock, 1.0)
        leg1 = "PJSIP/1001-00000002"
        assert [e["Channel"] for e in raw.events("BridgeEnter")] == [chan, leg1]

        # warm: caller to its music, the agent leg to acd-consult, in one Redirect
        resp = await raw.action("Redirect", Channel=chan, Context="acd-hold", Exten="s",
                                Priority="1", ExtraChannel=leg1, ExtraContext="acd-consult",
                                ExtraExten="s", ExtraPriority="1")
        assert resp["Message"] == "Dual Redirect successful"
        await raw.settle()
        assert {e["Channel"] for e in raw.events("BridgeLeave")} == {chan, leg1}
        assert len(raw.events("BridgeDestroy")) == 1
        assert raw.events("Newexten", Channel=leg1, Context="acd-consult",
                          Application="Wait")  # waits, alive: no Hangup
        assert not raw.events("Hangup", Channel=leg1)
        assert raw.events("MusicOnHoldStart", Channel=chan)
        resp = await raw.action("Redirect", Channel=chan, Context="acd-hold", Exten="s",
                                ExtraChannel="PJSIP/nosuch-1")
        assert resp["Response"] == "Error" and "ExtraChannel" in resp["Message"]

        # the one consulted: its Bridge() pulls the waiting leg out of Wait()
        await raw.action("Originate", Channel="PJSIP/1002", Context="acd-agent", Exten="s",
                         Priority="1", Timeout="30000", Async="true", ChannelId="leg-2",
                         Variable=f"ACD_CALLER={leg1},ACD_CONSULT=1")
        await advance(raw, clock, 1.0)
        leg2 = "PJSIP/1002-00000003"
        assert [e["Channel"] for e in raw.events("BridgeEnter")][-2:] == [leg1, leg2]
        # the first agent hangs up: leg 2 waits for the caller in acd-consult
        sim.agent_hangup("PJSIP/1001")
        await raw.settle()
        assert raw.events("Newexten", Channel=leg2, Context="acd-consult")
        assert not raw.events("Hangup", Channel=leg2)
        # complete: leg 2 runs acd-agent again, with the caller: bridged
        await raw.action("Setvar", Channel=leg2, Variable="ACD_CONSULT", Value="")
        await raw.action("Setvar", Channel=leg2, Variable="ACD_CALLER", Value=chan)
        resp = await raw.action("Redirect", Channel=leg2, Context="acd-agent", Exten="s",
                                Priority="1")
        assert resp["Message"] == "Redirect successful"
        await raw.settle()
        assert [e["Channel"] for e in raw.events("BridgeEnter")][-2:] == [chan, leg2]
        (truth,) = sim.truth()
        assert truth["id"] == cid and truth["agents"] == ["PJSIP/1001", "PJSIP/1002"]
        # a blind transfer: the caller alone is redirected out of the bridge; the agent leg's
        # Bridge() returns and, without ACD_CONSULT, it hangs up
        await raw.action("Redirect", Channel=chan, Context="acd-hold", Exten="s", Priority="1")
        await raw.settle()
        assert raw.events("Hangup", Channel=leg2)
        assert raw.events("MusicOnHoldStart", Channel=chan)
    finally:
        await teardown(sim, raw)
