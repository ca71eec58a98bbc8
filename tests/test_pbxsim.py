"""The simulator with OUR dialplan, end to end over TCP with a raw AMI client."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from pathlib import Path

import pytest

from acd.pbxsim import AgentPhone, CallerSpec, ManualClock, PbxSim, Traffic
from acd.pbxsim.dialplan import Dialplan, pattern_matches
from acd.pbxsim.expr import evaluate, substitute
from acd.pbxsim.frames import parse

WALL = 1_800_000_000.0


class Raw:
    """A minimal AMI client: sends frames, collects everything it receives."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.buf = reader, writer, ""
        self.n = 0
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while data := await self.reader.read(65536):
            self.buf += data.decode()

    def frames(self) -> list[dict[str, str]]:
        return [dict(parse(f)) for f in self.buf.split("\r\n\r\n") if ": " in f]

    def events(self, name: str, **match: str) -> list[dict[str, str]]:
        return [f for f in self.frames() if f.get("Event") == name
                and all(f.get(k) == v for k, v in match.items())]

    async def action(self, name: str, **headers: str) -> dict[str, str]:
        self.n += 1
        aid = f"t-{self.n}"
        text = f"Action: {name}\r\nActionID: {aid}\r\n"
        text += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.writer.write(text.encode())
        await self.until(lambda: any(f.get("ActionID") == aid and "Response" in f
                                     for f in self.frames()))
        return next(f for f in self.frames() if f.get("ActionID") == aid and "Response" in f)

    async def until(self, cond: object, timeout: float = 3.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not cond():  # type: ignore[operator]
            if loop.time() > end:
                raise TimeoutError
            await asyncio.sleep(0.002)

    async def settle(self) -> None:
        size = -1
        while size != len(self.buf):
            size = len(self.buf)
            await asyncio.sleep(0.01)


async def setup(**phones: tuple[float | None, float | None]) -> tuple[PbxSim, ManualClock, Raw]:
    clock = ManualClock(wall_start=WALL)
    sim = PbxSim(secret="s3cret", clock=clock, prompt_durations={"beep": 0.5},
                 queue_members={"support": ["PJSIP/1001", "PJSIP/1002"]})
    for i, (iface, (ans, talk)) in enumerate(phones.items()):
        sim.add_phone(AgentPhone(f"PJSIP/{iface[1:]}", iface[1:], f"Agent {i}",
                                 answer_after_s=ans, talk_s=talk))
    port = await sim.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    raw = Raw(reader, writer)
    resp = await raw.action("Login", Username="acd", Secret="s3cret")
    assert resp["Message"] == "Authentication accepted"
    return sim, clock, raw


async def teardown(sim: PbxSim, raw: Raw) -> None:
    raw.writer.close()
    await sim.stop()
    await asyncio.wait_for(raw.task, 2)


async def heartbeat(raw: Raw, clock: ManualClock, age: float = 0) -> None:
    await raw.action("Setvar", Variable="ACD_HEARTBEAT", Value=str(int(clock.wall() - age)))


async def advance(raw: Raw, clock: ManualClock, seconds: float) -> None:
    clock.advance(seconds)
    await raw.settle()


async def to_hold(sim: PbxSim, clock: ManualClock, raw: Raw) -> tuple[str, str]:
    await heartbeat(raw, clock)
    cid = sim.place_call(CallerSpec("5550001", "100", name="Ann"))
    await advance(raw, clock, 0.6)
    start = raw.events("AsyncAGIStart")[-1]
    assert "agi_context%3A%20acd-inbound" in start["Env"]
    chan = start["Channel"]
    assert chan.startswith("PJSIP/trunk-")
    resp = await raw.action("Redirect", Channel=chan, Context="acd-hold", Exten="s", Priority="1")
    assert resp["Message"] == "Redirect successful"
    await raw.settle()
    assert raw.events("MusicOnHoldStart", Channel=chan)
    return cid, chan


async def test_agent_first_call_end_to_end(tmp_path: Path) -> None:
    sim, clock, raw = await setup(p1001=(1.0, 20.0))
    try:
        cid, chan = await to_hold(sim, clock, raw)
        await advance(raw, clock, 5.0)  # one music slice, heartbeat still fresh
        assert len(raw.events("MusicOnHoldStart", Channel=chan)) == 2
        await raw.action("Originate", Channel="PJSIP/1001", Context="acd-agent", Exten="s",
                         Priority="1", Timeout="30000", CallerID='"Ann" <5550001>',
                         Async="true", ChannelId="leg-1", Variable=f"ACD_CALLER={chan}")
        await advance(raw, clock, 1.0)
        enters = raw.events("BridgeEnter")
        assert [e["Channel"] for e in enters] == [chan, "PJSIP/1001-00000002"]
        hold = sim.pbx.dialplan.find("acd-hold", "s")
        assert hold is not None
        music = next(p for p, step in hold.steps.items() if step.app == "MusicOnHold")
        assert enters[0]["Priority"] == str(music + 1)  # the step after MusicOnHold
        assert raw.events("OriginateResponse")[0]["Response"] == "Success"
        await raw.action("Setvar", Channel=chan, Variable="ACD_DONE", Value="1")
        await advance(raw, clock, 20.0)  # agent hangs up after talk_s
        after = raw.events("Newexten", Channel=chan, Context="acd-after")
        assert [e["Application"] for e in after] == ["NoOp", "GotoIf", "Hangup"]  # no survey
        assert raw.events("Hangup", Channel=chan)[0]["Cause"] == "16"
        (t,) = sim.truth()
        assert t["id"] == cid and t["outcome"] == "answered" and t["agent"] == "PJSIP/1001"
        assert t["wait_s"] == pytest.approx(6.0, abs=0.1)
        sim.write_truth(tmp_path / "truth.json")
        assert json.loads((tmp_path / "truth.json").read_text())[0]["outcome"] == "answered"
    finally:
        await teardown(sim, raw)


async def test_stale_heartbeat_falls_back_to_queue() -> None:
    sim, clock, raw = await setup(p1001=(1.0, 5.0))
    try:
        await heartbeat(raw, clock, age=3600)
        sim.place_call(CallerSpec("5550002", "100"))
        await advance(raw, clock, 3.0)
        goto = raw.events("Newexten", Application="GotoIf")[0]
        assert goto["AppData"] == "1?fallback"
        assert raw.events("QueueCallerJoin") and raw.events("AgentConnect")
        await advance(raw, clock, 6.0)
        assert sim.truth()[0]["outcome"] == "fallback"
        assert not sim.channels()
    finally:
        await teardown(sim, raw)


async def test_ring_no_answer_then_abandon() -> None:
    sim, clock, raw = await setup(p1001=(None, None))
    try:
        cid, chan = await to_hold(sim, clock, raw)
        await raw.action("Originate", Channel="PJSIP/1001", Context="acd-agent", Exten="s",
                         Priority="1", Timeout="8000", Async="true", ChannelId="leg-rna",
                         Variable=f"ACD_CALLER={chan}")
        await advance(raw, clock, 8.5)
        resp = raw.events("OriginateResponse")[0]
        assert (resp["Response"], resp["Reason"], resp["Uniqueid"]) == ("Failure", "3", "leg-rna")
        assert raw.events("Hangup", Uniqueid="leg-rna")[0]["Cause"] == "19"
        await raw.action("Originate", Channel="PJSIP/1001", Context="acd-agent", Exten="s",
                         Priority="1", Async="true", ChannelId="leg-2",
                         Variable=f"ACD_CALLER={chan}")
        await advance(raw, clock, 1.0)
        sim.hangup_caller(cid)
        await raw.settle()
        assert raw.events("Hangup", Channel=chan)[0]["Cause"] == "0"
        resp = await raw.action("Hangup", Channel="leg-2")
        assert resp["Message"] == "Channel Hungup"
        await raw.settle()
        assert raw.events("OriginateResponse")[-1]["Reason"] == "0"
        assert sim.truth()[0]["outcome"] == "abandoned"
    finally:
        await teardown(sim, raw)


async def test_ivr_get_data_and_unknown_interface() -> None:
    sim, clock, raw = await setup()
    try:
        await heartbeat(raw, clock)
        sim.place_call(CallerSpec("5550003", "100", inputs=["12", None]))
        await advance(raw, clock, 0.6)
        chan = raw.events("AsyncAGIStart")[0]["Channel"]
        await raw.action("AGI", Channel=chan, Command="GET DATA beep 3000 4", CommandID="g1")
        await advance(raw, clock, 5.0)
        await raw.action("AGI", Channel=chan, Command="GET DATA beep 3000 4", CommandID="g2")
        await advance(raw, clock, 5.0)
        results = [e["Result"] for e in raw.events("AsyncAGIExec")]
        assert results == ["200%20result%3D12%20(timeout)%0A", "200%20result%3D%20(timeout)%0A"]
        await raw.action("Originate", Channel="PJSIP/9999", Context="acd-agent", Exten="s",
                         Async="true")
        await raw.settle()
        resp = raw.events("OriginateResponse")[0]
        assert (resp["Reason"], resp["Uniqueid"]) == ("0", "<unknown>")
        await raw.action("AGI", Channel=chan, Command="HANGUP", CommandID="h")
        await advance(raw, clock, 0.2)
        assert sim.truth()[0]["outcome"] == "ended_by_pbx"
    finally:
        await teardown(sim, raw)


async def test_feature_codes_and_bad_requests() -> None:
    sim, clock, raw = await setup(p1001=(1.0, None))
    try:
        sim.dial_feature("1001", "*52", digits="3")
        await advance(raw, clock, 3.0)
        (ev,) = raw.events("UserEvent")
        assert (ev["UserEvent"], ev["Action"], ev["Agent"], ev["Reason"]) == (
            "AcdAgent", "pause", "1001", "3")
        resp = await raw.action("NoSuchAction")
        assert resp["Response"] == "Error"
        await raw.settle()
        assert raw.events("RequestBadFormat")
        pong = await raw.action("Ping")
        assert pong["Ping"] == "Pong"
        got = await raw.action("Getvar", Variable="ACD_FALLBACK_QUEUE")
        assert got["Value"] == "support"
    finally:
        await teardown(sim, raw)


async def test_failed_login_and_drop() -> None:
    clock = ManualClock(wall_start=WALL)
    sim = PbxSim(secret="right", clock=clock)
    port = await sim.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    raw = Raw(reader, writer)
    try:
        assert (await raw.action("Ping"))["Message"] == "Permission denied"
        writer.write(b"Action: Login\r\nActionID: x\r\nUsername: acd\r\nSecret: wrong\r\n\r\n")
        await raw.settle()
        clock.advance(1.1)
        await asyncio.wait_for(raw.task, 2)
        assert "Authentication failed" in raw.buf
        assert "wrong" not in raw.buf
    finally:
        writer.close()
        await sim.stop()


def test_dialplan_and_expressions() -> None:
    assert pattern_matches("_X.", "100") and not pattern_matches("_X.", "*51")
    assert pattern_matches("_1XXX", "1234") and pattern_matches("_[1-5]N!", "32")
    assert not pattern_matches("_Z", "0")
    assert evaluate('"a" = "a" & 2 + 3 * 2 >= 8') == "1"
    assert substitute("${X:1:2}-$[${X} / 2]", {"X": "1234"}.get) == "23-617"  # type: ignore[arg-type]
    values = {"X": "1234", "CUT(X,:,2)": "cut"}
    for text, expected in [("${X:-2}", "34"), ("${X:1}", "234"), ("${X:0:-1}", "123"),
                           ("${X:-3:2}", "23"), ("${CUT(X,:,2)}", "cut"), ("${Y:1}", ""),
                           ("${X}${X:2:1}", "12343")]:
        for _ in range(2):  # (the second time from the parsed spec)
            assert substitute(text, lambda n: values.get(n, "")) == expected, text
    text = "[a]\nexten => _X.,1(x),NoOp(hi ; a comment)\n same => n,Hangup()\n"
    plan = Dialplan.from_text(text)
    ext = plan.find("a", "55")
    assert ext is not None and ext.labels["x"] == 1 and ext.steps[2].app == "Hangup"


async def test_traffic_places_callers() -> None:
    clock = ManualClock(wall_start=WALL)
    sim = PbxSim(clock=clock)
    traffic = Traffic(rate_per_min=60, dnis=["100"], input_script="1|2;-", seed=3,
                      patience_mean_s=30)
    traffic.start(sim)
    clock.advance(60)
    traffic.stop()
    assert 30 < len(sim.truth()) < 100
    assert all(t["inputs"][0] in ("1", "2") for t in sim.truth())


async def test_mixmonitor_truth_and_mute_without_recording() -> None:
    sim, clock, raw = await setup()
    try:
        _cid, chan = await to_hold(sim, clock, raw)
        # as Asterisk: no MixMonitor on the channel, no mute flag to set
        resp = await raw.action("MixMonitorMute", Channel=chan, Direction="both", State="1")
        assert resp["Response"] == "Error" and resp["Message"] == "Cannot set mute flag"
        resp = await raw.action("MixMonitor", Channel=chan, File="x/rec-1.wav", Options="b")
        assert resp["Response"] == "Success" and raw.events("MixMonitorStart", Channel=chan)
        await advance(raw, clock, 2.0)
        resp = await raw.action("MixMonitorMute", Channel=chan, Direction="both", State="1")
        assert resp["Response"] == "Success"
        assert raw.events("MixMonitorMute", Channel=chan)[0]["State"] == "1"
        await raw.action("StopMixMonitor", Channel=chan)
        (t,) = sim.truth()
        [rec] = t["recordings"]
        assert rec["file"] == "x/rec-1.wav" and rec["options"] == "b"
        assert [m[1] for m in rec["mutes"]] == ["1"] and rec["stopped_at"] is not None
    finally:
        await teardown(sim, raw)


async def test_a_gone_agent_leg_is_freed_without_the_collector() -> None:
    """The leg's callbacks close over it: dropped at hangup, or every rung leg stays a
    cycle for the collector (the bench's simulator paused up to 380 ms to collect them)."""
    sim, clock, raw = await setup(p1001=(None, None))
    gc.disable()
    try:
        _cid, chan = await to_hold(sim, clock, raw)
        await raw.action("Originate", Channel="PJSIP/1001", Context="acd-agent", Exten="s",
                         Priority="1", Async="true", ChannelId="leg-gone",
                         Variable=f"ACD_CALLER={chan}")
        await raw.settle()
        leg = next(c for c in sim.pbx.channels.values() if c.uniqueid == "leg-gone")
        assert leg.answer_cb is not None  # (ringing: it would answer through it)
        gone = weakref.ref(leg)
        del leg
        sim.agent_hangup("PJSIP/1001")
        await raw.settle()
        assert raw.events("Hangup", Uniqueid="leg-gone")
        assert gone() is None
    finally:
        gc.enable()
        await teardown(sim, raw)
