"""Replay recorded AMI sessions against the simulator and compare what comes out.

For each trace: the SIP side (who calls, presses, answers, hangs up, when) is a scenario read
from the trace; the client's recorded actions are sent at their recorded times over TCP while a
ManualClock follows the trace's time line. Call-relevant events must match in order and key
headers after normalising channel names and Uniqueids by order of first appearance.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from acd.pbxsim import AgentPhone, CallerSpec, ManualClock, PbxSim
from acd.pbxsim.frames import parse

TRACES = Path(__file__).parent / "fixtures" / "traces"
RELEVANT = {
    "Newchannel", "Newstate", "AsyncAGIStart", "AsyncAGIExec", "AsyncAGIEnd", "DialBegin",
    "DialEnd", "BridgeEnter", "BridgeLeave", "Hangup", "UserEvent", "OriginateResponse",
}
KEYS = ("Channel", "DestChannel", "ChannelStateDesc", "Context", "Exten", "Priority", "Cause",
        "DialStatus", "Response", "Reason", "UserEvent", "Action", "Agent", "ReadStatus",
        "Result", "CommandId", "Uniqueid", "Queue", "Interface", "Paused", "PausedReason",
        "Position", "Count", "Direction", "State")
# Per-trace events compared on top of RELEVANT. QueueMemberStatus (device state) is not compared.
EXTRA: dict[str, set[str]] = {
    "app_queue": {"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled",
                  "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "QueueMemberPause"},
    "mixmonitor_and_bridge_action": {"MixMonitorStart", "MixMonitorStop", "MixMonitorMute"},
}
Step = tuple[float, Callable[[PbxSim], Any]]


def load(name: str) -> list[dict[str, Any]]:
    lines = (TRACES / f"{name}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def wall_start(records: list[dict[str, Any]]) -> float:
    for r in records:
        m = re.search(r"Uniqueid: (\d{10})\.\d+", r["frame"]) if r["dir"] == "in" else None
        if m:
            return int(m.group(1)) - r["t"] + 0.5
    return 1_800_000_000.0


def frames_of(raw: str) -> list[list[tuple[str, str]]]:
    return [parse(f) for f in raw.split("\r\n\r\n") if f.strip() and ":" in f]


class Normaliser:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def norm(self, value: str) -> str:
        if value not in self.names:
            self.names[value] = f"<{len(self.names)}>"
        return self.names[value]

    def event(self, hs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        d = dict(hs)
        out = [("Event", d["Event"])]
        for k in KEYS:
            if k in d:
                v = d[k]
                if k in ("Channel", "DestChannel", "Uniqueid") and re.search(r"[-.]", v):
                    v = self.norm(v)
                out.append((k, v))
        return tuple(out)


def settle_races(events: list[Any]) -> list[Any]:
    """Put each documented hangup race in one order.

    When one side of a two-party bridge hangs up, Asterisk emits that side's ``BridgeLeave``
    first; the other side's ``BridgeLeave`` and the first side's ``Hangup`` race (README of
    both trace sets: "the first Hangup can come before or after the second BridgeLeave").
    A ``Hangup`` of A directly followed by a ``BridgeLeave`` of another channel B is reordered
    to ``BridgeLeave`` B, ``Hangup`` A, in the recording and in the simulator's output alike.
    """
    out = list(events)
    changed = True
    while changed:
        changed = False
        for i in range(len(out) - 1):
            a, b = dict(out[i]), dict(out[i + 1])
            if (a["Event"] == "Hangup" and b["Event"] == "BridgeLeave"
                    and a.get("Channel") != b.get("Channel")):
                out[i], out[i + 1] = out[i + 1], out[i]
                changed = True
    return out


def summarise(frame_list: list[list[tuple[str, str]]],
              extra: frozenset[str] = frozenset()) -> tuple[list[Any], list[Any], list[Any]]:
    n = Normaliser()
    events: list[Any] = []
    originates: list[Any] = []
    responses: list[Any] = []
    for hs in frame_list:
        d = dict(hs)
        if "Response" in d and "Event" not in d:
            responses.append((d["Response"], d.get("Message", "")))
            continue
        if "ActionID" in d and d.get("Event") not in RELEVANT:
            # An item of a list action's answer: compared by name (and so by count).
            responses.append(("list", d["Event"]))
            continue
        if d.get("Event") not in RELEVANT and d.get("Event") not in extra:
            continue
        e = n.event(hs)
        (originates if d["Event"] == "OriginateResponse" else events).append(e)
    return settle_races(events), originates, responses


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.raw = ""
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            data = await self.reader.read(65536)
            if not data:
                return
            self.raw += data.decode()

    async def wait_response(self, action_id: str, timeout: float = 2.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while f"ActionID: {action_id}\r\n" not in self.raw:
            if loop.time() > end or self.task.done():
                return
            await asyncio.sleep(0.002)

    async def settle(self) -> None:
        # Let the server's writes reach us (no clock movement happens meanwhile).
        size = -1
        while size != len(self.raw):
            size = len(self.raw)
            await asyncio.sleep(0.01)


def channel_order(text: str) -> list[str]:
    seen: list[str] = []
    for m in re.finditer(r"^(?:Dest)?Channel: (\S+-[0-9a-f]{8}(?:;[12])?)\r$", text, re.M):
        if m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


async def replay(name: str, steps: list[Step], phones: list[AgentPhone],
                 dialplan: str = "extensions_set2.conf") -> tuple[Any, Any]:
    records = load(name)
    clock = ManualClock(wall_start=wall_start(records))
    sim = PbxSim(
        dialplan_path=TRACES / dialplan, clock=clock, inbound_context="from-caller",
        caller_interface="SIP/caller", prompt_durations={"beep": 0.44},
        queue_members={"support": ["SIP/agent1", "SIP/agent2", "SIP/agent3"]},
    )
    for p in phones:
        sim.add_phone(p)
    port = await sim.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = Client(reader, writer)
    recorded_in = "".join(r["frame"] for r in records if r["dir"] == "in")
    timeline: list[tuple[float, int, Any]] = [(t, 0, fn) for t, fn in steps]
    timeline += [(r["t"], 1, r["frame"]) for r in records if r["dir"] == "out"]
    timeline.sort(key=lambda x: (x[0], x[1]))
    try:
        for t, kind, item in timeline:
            clock.advance_to(t)
            await client.settle()
            if kind == 0:
                item(sim)
                continue
            frame: str = item
            rec_names = channel_order(recorded_in)
            sim_names = channel_order(client.raw)
            for rec, mine in zip(rec_names, sim_names, strict=False):
                frame = frame.replace(rec, mine)
            writer.write(frame.encode())
            aid = re.search(r"ActionID: (\S+)", frame)
            if aid:
                await client.wait_response(aid.group(1))
        clock.advance(3.0)
        await client.settle()
    finally:
        writer.close()
        await sim.stop()
        await asyncio.wait_for(client.task, 2)
    extra = frozenset(EXTRA.get(name, set()))
    return summarise(frames_of(recorded_in), extra), summarise(frames_of(client.raw), extra)


def call(spec: CallerSpec) -> Callable[[PbxSim], Any]:
    return lambda sim: sim.place_call(spec)


def hang(n: int) -> Callable[[PbxSim], Any]:
    return lambda sim: sim.hangup_caller(f"c{n}")


def dials(t: float, dnis: str, inputs: list[str | None] | None = None) -> Step:
    """At ``t`` the customer (5551234, "Customer") dials ``dnis``."""
    spec = CallerSpec(number="5551234", name="Customer", dnis=dnis, inputs=inputs or [])
    return (t, call(spec))


def phone_hangs(t: float, interface: str) -> Step:
    return (t, lambda sim: sim.agent_hangup(interface))


def customer_phone() -> AgentPhone:
    """The callback customer's phone (peer ``customer``, context from-caller): answers in 2 s."""
    return AgentPhone("SIP/customer", "", "", answer_after_s=2.0, talk_s=None,
                      context="from-caller")


def agents(**answers: tuple[float | None, float | None]) -> list[AgentPhone]:
    names = {"agent1": ("7001", "Agent One"), "agent2": ("7002", "Agent Two"),
             "agent3": ("7003", "Agent Three")}
    out = []
    for key, (ext, nm) in names.items():
        ans, talk = answers.get(key, (None, None))
        out.append(AgentPhone(f"SIP/{key}", ext, nm, answer_after_s=ans, talk_s=talk))
    return out


Scenario = tuple[list[Step], list[AgentPhone]]
SCENARIOS: dict[str, Scenario] = {  # set 2 (agent-first), dialplan extensions_set2.conf
    "agent_first_bridge": ([dials(0.939, "3001")], agents(agent1=(1.5, 5.0))),
    "agent_first_rna": ([dials(0.933, "3002"), (23.945, hang(1))], agents(agent2=(1.0, None))),
    "agent_first_caller_abandons": ([dials(0.935, "3003"), (7.939, hang(1))], agents()),
    "feature_codes_userevent": (
        [(0.433, lambda s: s.dial_feature("7001", "*51")),
         (3.497, lambda s: s.dial_feature("7001", "*52", digits="3")),
         (7.705, lambda s: s.dial_feature("7001", "*52")),
         (16.216, lambda s: s.dial_feature("7001", "*53"))],
        agents(),
    ),
    "mixmonitor_and_bridge_action": (
        [dials(0.936, "3006"), phone_hangs(19.999, "SIP/agent1"),
         dials(23.060, "3007"), phone_hangs(34.119, "SIP/agent2")],
        agents(agent1=(1.0, None), agent2=(1.0, None)),
    ),
    "heartbeat_fallback": (
        [dials(0.935, "3004"), (12.947, hang(1)), dials(16.064, "3005"), (32.075, hang(2))],
        agents(agent1=(1.0, None)),
    ),
}
SET1: dict[str, Scenario] = {  # set 1, dialplan extensions.conf
    "ivr_async_agi": (
        [dials(0.438, "1001", ["1234", "5"]), (13.266, hang(1)), dials(15.386, "1002"),
         dials(18.750, "1003", [None]), (26.757, hang(3))],
        agents(),
    ),
    "abandon": ([dials(0.434, "1004"), (6.442, hang(1))], agents()),
    "failed_login": ([], agents()),
    "connect_answer": ([dials(0.434, "1003"), (14.443, hang(1))], agents(agent1=(1.5, None))),
    "ring_no_answer": ([dials(0.434, "1005"), (34.438, hang(1))], agents(agent2=(1.0, None))),
    "agent_hangs_up_first": ([dials(0.432, "1006")], agents(agent1=(1.0, 5.0))),
    "originate_callback": ([phone_hangs(19.361, "SIP/customer")],
                           [*agents(agent2=(1.0, None)), customer_phone()]),
    "bridge_app_local": ([], agents()),
    "app_queue": (
        [dials(0.433, "2001"), (16.444, hang(1)), dials(19.062, "2002"), (25.070, hang(2))],
        agents(agent2=(1.0, None)),
    ),
    "status_actions": (
        # Devices whose state the PBX had cached from the sessions recorded before this one.
        [(0.0, lambda s: s.pbx.devices.update({"SIP/customer": "NOT_INUSE",
                                                "SIP/agent2": "NOT_INUSE"})),
         dials(1.336, "1007"), dials(2.336, "1007")],
        [*agents(agent1=(0.5, None)), customer_phone()],
    ),
}

# Traces whose dialplan differs from their set's file.
PLANS = {"bridge_app_local": "extensions_bridgetest.conf"}


@pytest.mark.parametrize("name", sorted(SCENARIOS) + sorted(SET1))
async def test_trace_fidelity(name: str) -> None:
    steps, phones = SCENARIOS[name] if name in SCENARIOS else SET1[name]
    plan = "extensions_set2.conf" if name in SCENARIOS else "extensions.conf"
    plan = PLANS.get(name, plan)
    (want_ev, want_or, want_resp), (got_ev, got_or, got_resp) = await replay(
        name, steps, phones, plan)
    assert got_resp == want_resp
    assert got_ev == want_ev
    assert got_or == want_or
