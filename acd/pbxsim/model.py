"""Data model: simulated people (callers, agent phones), channels, bridges, truth records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from acd.pbxsim.clock import TimerHandle

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}


@dataclass
class CallerSpec:
    """A caller.

    ``inputs``: one item per digit-collecting step (AGI ``GET DATA`` / ``WAIT FOR DIGIT``,
    dialplan ``Read``), in order. ``None`` or ``""`` = press nothing (timeout). An item that
    starts with ``!`` (e.g. ``"!1"``) is pressed during a ``STREAM FILE`` that has escape digits
    (interrupting it); ``STREAM FILE`` consumes an item only when the next item is so marked.
    Digits after the inputs run out can still be sent with :meth:`PbxSim.press`.
    """

    number: str
    dnis: str
    name: str = ""
    inputs: list[str | None] = field(default_factory=list)
    patience_s: float | None = None
    talk_s: float | None = None
    vip: bool = False
    tag: str = ""
    # When called back (a callback dialled to ``number`` through the trunk): per attempt, answer
    # after this many seconds, ``None`` = let it ring out, ``"busy"`` = busy. Attempts beyond
    # the list ring out. ``callback_talk_s``: hang up after talking this long (None: never).
    callback_answers: list[float | str | None] = field(default_factory=list)
    callback_talk_s: float | None = None


@dataclass
class AgentPhone:
    """An agent's SIP phone. ``answer_after_s=None``: only rings. ``talk_s=None``: never hangs
    up first. ``registered=False``: Originate fails with Reason 0."""

    interface: str
    extension: str
    name: str = ""
    answer_after_s: float | None = 1.0
    talk_s: float | None = 30.0
    registered: bool = True
    # Dialplan context of the peer (shown on legs dialled to it); None = the PBX's phone context.
    context: str | None = None
    channel: Channel | None = field(default=None, repr=False)
    # What the phone's display showed for each ring: (caller name, caller number).
    shown: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Truth:
    id: str
    number: str
    dnis: str
    vip: bool
    tag: str
    inputs: list[str | None]
    arrived_at: float
    hold_entered_at: float | None = None
    answered_at: float | None = None
    agent: str | None = None
    ended_at: float | None = None
    outcome: str = "waiting"
    fallback: bool = False
    channel: str = ""
    # MixMonitor on the caller's channel: file, options, started_at, mutes [(at, "1"/"0")],
    # stopped_at (None: until the channel ended)
    recordings: list[dict[str, Any]] = field(default_factory=list)
    voicemail: str = ""  # the mailbox a message was left in
    # What the caller was played, in order: (time, "App(data)") of Playback, SayNumber, Read.
    heard: list[tuple[float, str]] = field(default_factory=list)
    # Each time the caller was called back: {"at", "agent", "result", "answered_at"}.
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)  # every agent bridged with, in order

    def as_dict(self) -> dict[str, Any]:
        wait = None
        if self.answered_at is not None and self.hold_entered_at is not None:
            wait = round(self.answered_at - self.hold_entered_at, 3)
        return {
            "id": self.id, "number": self.number, "dnis": self.dnis, "vip": self.vip,
            "tag": self.tag, "inputs": self.inputs, "channel": self.channel,
            "arrived_at": self.arrived_at, "hold_entered_at": self.hold_entered_at,
            "answered_at": self.answered_at, "agent": self.agent, "ended_at": self.ended_at,
            "outcome": self.outcome, "wait_s": wait, "recordings": self.recordings,
            "voicemail": self.voicemail, "agents": list(self.agents),
            "heard": list(self.heard), "callbacks": [dict(c) for c in self.callbacks],
        }


class AppRun:
    """A blocking application the channel is in (MusicOnHold, AGI, Queue, Bridge, ...)."""

    def __init__(self, name: str, data: str) -> None:
        self.name = name
        self.data = data
        self.timers: list[TimerHandle] = []
        # Called with a reason ("hangup", "redirect", "bridge") when the app is cut short.
        self.on_interrupt: Callable[[str], None] | None = None
        # Called on the app's channel when the bridge it made/joined ends (peer left).
        self.on_peer_left: Callable[[], None] | None = None
        self.extra: dict[str, Any] = {}

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    kind: str  # "caller", "agent", "feature", "member"
    cid_num: str
    cid_name: str
    context: str
    exten: str
    priority: int = 1
    state: int = 0
    conn_num: str = "<unknown>"
    conn_name: str = "<unknown>"
    created_at: float = 0.0
    dnid: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    app: AppRun | None = None
    bridge: Bridge | None = None
    hungup: bool = False
    phone: AgentPhone | None = None
    caller: CallerSpec | None = None
    truth: Truth | None = None
    inputs: list[str | None] = field(default_factory=list)
    dtmf: list[str] = field(default_factory=list)
    agi_queue: list[tuple[str, str]] = field(default_factory=list)
    # Inbound media seen (DTMF): AsyncAGI then polls its queue every 20 ms instead of 100 ms.
    heard_dtmf: bool = False
    dtmf_listener: Callable[[], None] | None = None
    timers: list[TimerHandle] = field(default_factory=list)
    # What to do when the bridge peer leaves (set by whoever bridged this channel).
    after_bridge: Callable[[], None] | None = None
    originate: dict[str, str] | None = None
    # How the SIP phone of an outgoing leg picks up (set by Dial, Queue and Originate).
    answer_cb: Callable[[], None] | None = None
    application: str = ""
    app_data: str = ""

    def snapshot(self, prefix: str = "") -> list[tuple[str, str]]:
        p = prefix
        return [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (f"{p}CallerIDNum", self.cid_num or "<unknown>"),
            (f"{p}CallerIDName", self.cid_name or "<unknown>"),
            (f"{p}ConnectedLineNum", self.conn_num),
            (f"{p}ConnectedLineName", self.conn_name),
            (f"{p}Language", "en"),
            (f"{p}AccountCode", ""),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    channels: list[Channel] = field(default_factory=list)
    technology: str = "simple_bridge"
    # Called with the channel that hangs up while in this bridge (app_queue's AgentComplete).
    hook: Callable[[Channel], None] | None = None

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", self.technology),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", str(len(self.channels))),
            ("BridgeVideoSourceMode", "none"),
        ]
