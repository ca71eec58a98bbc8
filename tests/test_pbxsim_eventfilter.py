"""manager.conf `eventfilter` in the simulated PBX (acd/pbxsim/eventfilter.py): Asterisk's
rules, and the service working end to end behind the filters we ship (the benchmark runs so)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from acd.pbxsim.eventfilter import EventFilter, manager_conf_filters
from acd.pbxsim.sim import SHIPPED_MANAGER_CONF
from acd.testing.harness import Harness

from . import test_e2e_callpath as callpath

SHIPPED = manager_conf_filters(SHIPPED_MANAGER_CONF)


def test_no_filter_passes_everything_and_drops_nothing() -> None:
    f = EventFilter()
    assert f.passes("Newexten", [("Channel", "x")]) and f.dropped == {}


def test_including_filters_pass_only_what_they_name_and_excluding_ones_win() -> None:
    f = EventFilter(["^Event: Hangup[^A-Za-z0-9]", "^Event: UserEvent[^A-Za-z0-9]",
                     "!^Event: UserEvent[^A-Za-z0-9]"])
    assert f.passes("Hangup", [])
    assert not f.passes("HangupRequest", [])  # the name must end where the filter says
    assert not f.passes("UserEvent", [])  # included, then excluded
    assert not f.passes("Newexten", [])
    assert f.dropped == {"HangupRequest": 1, "UserEvent": 1, "Newexten": 1}


def test_a_filter_on_other_headers_reads_the_whole_frame() -> None:
    f = EventFilter(["!Channel: Local/"])  # exclude-only: everything else passes
    assert f.passes("Newexten", [("Channel", "PJSIP/trunk-1")])
    assert not f.passes("Newexten", [("Channel", "Local/7001@from-agent-1;1")])


def test_the_shipped_filters_are_read_from_manager_acd_conf() -> None:
    assert "^Event: AsyncAGIStart[^A-Za-z0-9]" in SHIPPED
    assert all(f.startswith("^Event: ") for f in SHIPPED) and len(SHIPPED) >= 8


@pytest.mark.parametrize("scenario", [
    callpath.test_vip_caller_overtakes_normal_callers,
    callpath.test_ring_no_answer_requeues_at_old_position,
    callpath.test_abandon_during_ivr_and_during_wait,
], ids=["vip_and_answer", "ring_no_answer", "abandon"])
async def test_the_call_path_works_behind_the_shipped_filters(
        lab: Callable[..., Any], scenario: Callable[[Callable[..., Any]], Any]) -> None:
    made: list[Harness] = []

    async def filtered(cfg: dict[str, Any] | None = None, **kwargs: Any) -> Harness:
        h: Harness = await lab(cfg, event_filters=SHIPPED, **kwargs)
        made.append(h)
        return h

    await scenario(filtered)
    dropped = made[0].sim.ami.filter.dropped
    assert dropped.get("Newexten", 0) > 0 and dropped.get("VarSet", 0) > 0
    assert "AsyncAGIStart" not in dropped and "UserEvent" not in dropped


def test_a_channel_event_no_listener_wants_is_not_built_and_still_counted_as_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from acd.pbxsim.model import Channel
    from acd.pbxsim.sim import PbxSim

    sim = PbxSim(event_filters=SHIPPED)
    ch = Channel(name="PJSIP/trunk-00000001", uniqueid="1.1", linkedid="1.1", kind="caller",
                 cid_num="7001", cid_name="", context="acd-hold", exten="s")
    built: list[str] = []
    snapshot = Channel.snapshot
    monkeypatch.setattr(Channel, "snapshot",
                        lambda self: built.append(self.name) or snapshot(self))
    sim.pbx.chan_event("Newexten", ch)  # the shipped filters drop it, nothing records
    assert built == [] and sim.ami.filter.dropped == {"Newexten": 1}
    sim.pbx.chan_event("Hangup", ch)  # the filters pass it: built
    assert built == [ch.name] and sim.ami.filter.dropped == {"Newexten": 1}
    sim.record_events = True  # a listener that wants everything now
    sim.pbx.chan_event("Newexten", ch)
    assert built == [ch.name] * 2 and sim.ami.filter.dropped == {"Newexten": 2}
    assert [e for e, _h in sim.events] == ["Newexten"]
    other: list[str] = []
    sim.record_events = False
    sim.pbx.listeners.append(lambda event, _h: other.append(event))  # no interest: all
    sim.pbx.chan_event("VarSet", ch, [("Variable", "X"), ("Value", "1")])
    assert other == ["VarSet"] and sim.ami.filter.dropped == {"Newexten": 2, "VarSet": 1}
    # A name answered "nobody" before is asked again once listeners come or change their mind.
    sim.pbx.listeners.pop()
    sim.pbx.chan_event("Newexten", ch)
    assert len(built) == 3 and sim.ami.filter.dropped["Newexten"] == 3
    sim.pbx.chan_event("Newexten", ch)
    assert len(built) == 3 and sim.ami.filter.dropped["Newexten"] == 4  # (answered "nobody")
    sim.pbx.listeners.append(lambda event, _h: other.append(event))
    sim.pbx.chan_event("Newexten", ch)
    assert other == ["VarSet", "Newexten"] and len(built) == 4
    sim.record_events = True
    sim.pbx.chan_event("Newexten", ch)
    assert [e for e, _h in sim.events] == ["Newexten", "Newexten"]
