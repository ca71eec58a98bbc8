"""The PBX's state: channels, events, identifiers, variables (base of :class:`Pbx`)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable

from acd.pbxsim import frames
from acd.pbxsim.clock import Clock
from acd.pbxsim.dialplan import Dialplan
from acd.pbxsim.expr import substitute
from acd.pbxsim.frames import Headers
from acd.pbxsim.model import AgentPhone, CallerSpec, Channel, Truth


class PbxCore:
    def __init__(
        self,
        dialplan: Dialplan,
        clock: Clock,
        *,
        queue_members: dict[str, list[str]] | None = None,
        prompt_durations: dict[str, float] | None = None,
        default_prompt_s: float = 1.0,
        answer_delay_s: float = 0.5,
        agi_delay_s: float = 0.1,
        digit_delay_s: float = 0.5,
        digit_gap_s: float = 0.3,
        phone_context: str = "from-agent",
    ) -> None:
        self.phone_context = phone_context
        self.dialplan = dialplan
        self.clock = clock
        self.globals: dict[str, str] = dict(dialplan.globals)
        self.queue_members = dict(queue_members or {})
        self.prompt_durations = dict(prompt_durations or {})
        self.default_prompt_s = default_prompt_s
        self.answer_delay_s = answer_delay_s
        self.agi_delay_s = agi_delay_s
        self.digit_delay_s = digit_delay_s
        self.digit_gap_s = digit_gap_s
        self.channels: dict[str, Channel] = {}
        self.phones: dict[str, AgentPhone] = {}
        self.listeners: list[Callable[[str, Headers], None]] = []
        # What a listener wants, by event name, and what it counts of what it did not get
        # (listen()): a channel event no listener wants is never built. At a big centre the
        # hold loops make ~12,000 Newexten a second that the shipped eventfilter drops.
        self.interests: dict[Callable[[str, Headers], None], Interest] = {}
        # Each event name's answer, kept until a listener comes, goes or changes its mind
        # (interests_changed): at 10,000 waiting callers the question was a sixth of the
        # simulator's time, asked of every listener for every dialplan step.
        self._wanted_names: dict[str, bool] = {}
        self._wanted_of = 0  # how many listeners those answers are of (some are appended)
        self.change_listeners: list[Callable[[], None]] = []
        self._chan_seq = itertools.count(1)
        self._uid_seq = itertools.count(1)
        self._cmd_seq = itertools.count(31062853)
        self.waiting_queue: dict[str, list[Channel]] = {}
        # app_queue member state, keyed by (queue, interface): paused, reason, calls, ...
        self.members: dict[tuple[str, str], dict[str, str]] = {}
        self.started_at = clock.wall()
        # Device state cache (DeviceStateList): every device whose state was published.
        self.devices: dict[str, str] = {}
        self.processed_calls = 0
        self.caller_interface = ""
        # app_voicemail: messages left, by mailbox@context; the longest recording.
        self.mailboxes: dict[str, list[dict[str, object]]] = {}
        # Callers by their number (the last one to call from it): who a callback reaches.
        self.customers: dict[str, tuple[CallerSpec, Truth]] = {}
        self.voicemail_max_s = 300.0

    # ---- events -------------------------------------------------------------------------
    def emit(self, event: str, headers: Headers) -> None:
        if event == "DeviceStateChange":
            self.devices[frames.get(headers, "Device")] = frames.get(headers, "State")
        for listener in list(self.listeners):
            listener(event, headers)

    def listen(self, listener: Callable[[str, Headers], None], wants: Callable[[str], bool],
               skipped: Callable[[str], None] | None = None) -> None:
        """A listener that wants only some events, by name (`skipped` is told of each event
        not built because no listener wanted it)."""
        self.listeners.append(listener)
        self.interests[listener] = (wants, skipped)
        self.interests_changed()

    def unlisten(self, listener: Callable[[str, Headers], None]) -> None:
        self.listeners.remove(listener)
        self.interests.pop(listener, None)
        self.interests_changed()

    def interests_changed(self) -> None:
        """A listener's `wants` answers otherwise from now on: ask them all again."""
        self._wanted_names.clear()

    def chan_event(self, event: str, ch: Channel, extra: Headers | None = None) -> None:
        if event == "Newchannel":
            self.processed_calls += 1
        if self.interests and not self._wanted(event):
            return
        self.emit(event, ch.snapshot() + (extra or []))

    def _wanted(self, event: str) -> bool:
        if len(self.listeners) != self._wanted_of:  # (a listener appended without listen())
            self._wanted_names.clear()
            self._wanted_of = len(self.listeners)
        wanted = self._wanted_names.get(event)
        if wanted is None:
            wanted = self._wanted_names[event] = self._asked(event)
        if wanted:
            return True
        interests = self.interests
        for listener in self.listeners:
            skipped = interests[listener][1]
            if skipped is not None:
                skipped(event)
        return False

    def _asked(self, event: str) -> bool:
        interests = self.interests
        for listener in self.listeners:
            interest = interests.get(listener)
            if interest is None or interest[0](event):
                return True
        return False

    def changed(self) -> None:
        for cb in list(self.change_listeners):
            cb()

    # ---- identifiers ----------------------------------------------------------------------
    def new_uniqueid(self) -> str:
        return f"{int(self.clock.wall())}.{next(self._uid_seq)}"

    def new_channel_name(self, interface: str) -> str:
        return f"{interface}-{next(self._chan_seq):08x}"

    def new_command_id(self) -> str:
        return str(next(self._cmd_seq))

    def new_bridge_id(self) -> str:
        return str(uuid.UUID(int=next(self._uid_seq) * 7919 + 0x3F2FC2A1_20FF_4F4A_88D6_2537))

    def find_channel(self, key: str) -> Channel | None:
        if key in self.channels:
            return self.channels[key]
        for ch in self.channels.values():
            if ch.uniqueid == key:
                return ch
        return None

    def later(self, ch: Channel | None, delay: float, fn: Callable[[], None]) -> None:
        handle = self.clock.call_later(delay, fn)
        if ch is not None:
            ch.timers.append(handle)

    # ---- variables ----------------------------------------------------------------------
    def set_var(self, ch: Channel | None, name: str, value: str) -> None:
        if ch is None:
            self.globals[name] = value
            self.emit("VarSet", [("Channel", "none"), ("Uniqueid", "none"),
                                 ("Variable", name), ("Value", value)])
            return
        ch.variables[name] = value
        self.chan_event("VarSet", ch, [("Variable", name), ("Value", value)])

    def resolve(self, ch: Channel, name: str) -> str:
        upper = name.upper()
        special = _SPECIAL.get(upper)
        if special is not None:
            return special(self, ch)
        if upper.startswith("GLOBAL(") and name.endswith(")"):
            return self.globals.get(name[7:-1], "")
        if upper.startswith("CUT(") and name.endswith(")"):
            return self._cut(ch, name[4:-1])
        if name in ch.variables:
            return ch.variables[name]
        return self.globals.get(name, "")

    def _cut(self, ch: Channel, args: str) -> str:
        """CUT(varname,char-delim,range-spec): fields of a variable's value (func_cut). Here a
        range-spec is one field number or a range "m-n"; the delimiter defaults to '-'."""
        parts = args.split(",")
        if len(parts) < 3:
            return ""
        var, delim, spec = parts[0].strip(), parts[1] or "-", ",".join(parts[2:]).strip()
        fields = self.resolve(ch, var).split(delim[0])
        first, _, last = spec.partition("-")
        try:
            lo = int(first) if first else 1
            hi = (int(last) if last else len(fields)) if "-" in spec else lo
        except ValueError:
            return ""
        return delim[0].join(fields[max(lo, 1) - 1:hi])

    def subst(self, ch: Channel, text: str) -> str:
        return substitute(text, lambda n: self.resolve(ch, n))

    # ---- state ---------------------------------------------------------------------------
    def set_state(self, ch: Channel, state: int) -> None:
        if ch.state != state:
            ch.state = state
            self.chan_event("Newstate", ch)


# (wants event name?, told of an event skipped)
Interest = tuple[Callable[[str], bool], Callable[[str], None] | None]


def _cid_all(ch: Channel) -> str:
    return f'"{ch.cid_name}" <{ch.cid_num}>' if ch.cid_name else ch.cid_num


def _state_word(state: int) -> str:
    return {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}.get(state, "Unknown")


def header(headers: Headers, key: str) -> str:
    return frames.get(headers, key)


# Dialplan functions and built-in variables (by upper-case name): one table for every lookup,
# not one made per lookup (the hold loop resolves several names per caller per pass).
_SPECIAL: dict[str, Callable[[PbxCore, Channel], str]] = {
    "EPOCH": lambda core, ch: str(int(core.clock.wall())),
    "EXTEN": lambda core, ch: ch.exten, "CONTEXT": lambda core, ch: ch.context,
    "PRIORITY": lambda core, ch: str(ch.priority), "UNIQUEID": lambda core, ch: ch.uniqueid,
    "CHANNEL": lambda core, ch: ch.name, "CALLERID(NUM)": lambda core, ch: ch.cid_num,
    "CALLERID(NAME)": lambda core, ch: ch.cid_name,
    "CALLERID(ALL)": lambda core, ch: _cid_all(ch),
    "CONNECTEDLINE(NUM)": lambda core, ch: ch.conn_num,
    "CONNECTEDLINE(NAME)": lambda core, ch: ch.conn_name,
    "CHANNEL(STATE)": lambda core, ch: _state_word(ch.state),
    "CHANNEL(NAME)": lambda core, ch: ch.name,
    "CHANNEL(UNIQUEID)": lambda core, ch: ch.uniqueid,
    "CHANNEL(LINKEDID)": lambda core, ch: ch.linkedid,
}
