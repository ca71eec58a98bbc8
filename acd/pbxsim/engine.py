"""The PBX core: channels, events, dialplan execution, hangups, bridges, redirects."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable

from acd.pbxsim import frames
from acd.pbxsim.clock import Clock
from acd.pbxsim.dialplan import Dialplan
from acd.pbxsim.expr import substitute
from acd.pbxsim.frames import CAUSE_TEXT, Headers
from acd.pbxsim.model import AgentPhone, AppRun, Bridge, Channel

log = logging.getLogger(__name__)

NEXT, JUMP, BLOCK, STOP = "next", "jump", "block", "stop"
HOLD_CONTEXTS = frozenset({"acd-hold", "acd2-hold"})
FALLBACK_CONTEXTS = frozenset({"acd-fallback", "acd2-fallback"})


class Pbx:
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
        self.change_listeners: list[Callable[[], None]] = []
        self._chan_seq = itertools.count(1)
        self._uid_seq = itertools.count(1)
        self._cmd_seq = itertools.count(31062853)
        self.waiting_queue: dict[str, list[Channel]] = {}

    # ---- events -------------------------------------------------------------------------
    def emit(self, event: str, headers: Headers) -> None:
        for listener in list(self.listeners):
            listener(event, headers)

    def chan_event(self, event: str, ch: Channel, extra: Headers | None = None) -> None:
        self.emit(event, ch.snapshot() + (extra or []))

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
        special: dict[str, Callable[[], str]] = {
            "EPOCH": lambda: str(int(self.clock.wall())),
            "EXTEN": lambda: ch.exten, "CONTEXT": lambda: ch.context,
            "PRIORITY": lambda: str(ch.priority), "UNIQUEID": lambda: ch.uniqueid,
            "CHANNEL": lambda: ch.name, "CALLERID(NUM)": lambda: ch.cid_num,
            "CALLERID(NAME)": lambda: ch.cid_name, "CALLERID(ALL)": lambda: _cid_all(ch),
            "CONNECTEDLINE(NUM)": lambda: ch.conn_num, "CONNECTEDLINE(NAME)": lambda: ch.conn_name,
            "CHANNEL(STATE)": lambda: _state_word(ch.state), "CHANNEL(NAME)": lambda: ch.name,
            "CHANNEL(UNIQUEID)": lambda: ch.uniqueid, "CHANNEL(LINKEDID)": lambda: ch.linkedid,
        }
        if upper in special:
            return special[upper]()
        if upper.startswith("GLOBAL(") and name.endswith(")"):
            return self.globals.get(name[7:-1], "")
        if name in ch.variables:
            return ch.variables[name]
        return self.globals.get(name, "")

    def subst(self, ch: Channel, text: str) -> str:
        return substitute(text, lambda n: self.resolve(ch, n))

    # ---- dialplan execution -----------------------------------------------------------------
    def run(self, ch: Channel) -> None:
        from acd.pbxsim import apps

        for _ in range(10_000):
            if ch.hungup or ch.app is not None or ch.bridge is not None:
                return
            ext = self.dialplan.find(ch.context, ch.exten)
            step = ext.steps.get(ch.priority) if ext is not None else None
            if step is None:
                log.info("%s fell off the dialplan at %s,%s,%s", ch.name, ch.context, ch.exten,
                         ch.priority)
                self.dialplan_hangup(ch, 16)
                return
            data = self.subst(ch, step.args)
            ch.application, ch.app_data = step.app, data
            self._note_location(ch)
            self.chan_event("Newexten", ch, [("Extension", ch.exten), ("Application", step.app),
                                             ("AppData", data)])
            flow = apps.execute(self, ch, step.app, data)
            if flow == NEXT:
                ch.priority += 1
            elif flow in (BLOCK, STOP):
                self.changed()
                return
        log.warning("%s: dialplan loop limit reached, hanging up", ch.name)
        self.dialplan_hangup(ch, 16)

    def _note_location(self, ch: Channel) -> None:
        t = ch.truth
        if t is None:
            return
        if ch.context in HOLD_CONTEXTS and t.hold_entered_at is None:
            t.hold_entered_at = self.clock.now()
        if ch.context in FALLBACK_CONTEXTS:
            t.fallback = True

    def block(self, ch: Channel, app: AppRun) -> str:
        ch.app = app
        return BLOCK

    def app_timer(self, ch: Channel, app: AppRun, delay: float, fn: Callable[[], None]) -> None:
        app.timers.append(self.clock.call_later(delay, fn))

    def finish_app(self, ch: Channel, *, advance: bool = True) -> None:
        """The blocking app ``ch`` is in has ended: continue the dialplan."""
        if ch.app is not None:
            ch.app.cancel_timers()
        ch.app = None
        if advance:
            ch.priority += 1
        self.run(ch)

    def interrupt(self, ch: Channel, reason: str) -> None:
        app = ch.app
        if app is None:
            return
        app.cancel_timers()
        ch.app = None
        if app.on_interrupt is not None:
            app.on_interrupt(reason)

    def goto(self, ch: Channel, context: str, exten: str, prio: str) -> bool:
        ext = self.dialplan.find(context, exten)
        if ext is None:
            return False
        if prio.isdigit():
            number = int(prio)
        elif prio in ext.labels:
            number = ext.labels[prio]
        else:
            return False
        ch.context, ch.exten, ch.priority = context, exten, number
        return True

    def redirect(self, ch: Channel, context: str, exten: str, prio: str) -> bool:
        if self.dialplan.find(context, exten) is None:
            return False
        if ch.bridge is not None:
            self.leave_bridge_alive(ch)
        self.interrupt(ch, "redirect")
        if not self.goto(ch, context, exten, prio):
            return False
        self.run(ch)
        return True

    # ---- state ---------------------------------------------------------------------------
    def set_state(self, ch: Channel, state: int) -> None:
        if ch.state != state:
            ch.state = state
            self.chan_event("Newstate", ch)

    # ---- hangups -------------------------------------------------------------------------
    def remote_hangup(self, ch: Channel) -> None:
        """The SIP side of ``ch`` hung up (BYE/CANCEL)."""
        if ch.hungup:
            return
        if ch.truth is not None and ch.truth.answered_at is None:
            ch.truth.outcome = "abandoned"
        if ch.bridge is not None:
            runner = ch.app is not None and ch.app.name == "Bridge"
            self.chan_event("HangupRequest", ch, [("Cause", "16")] if runner else [])
            if ch.bridge.hook is not None:
                ch.bridge.hook(ch)
            self._leave_and_hangup(ch, soft=ch.app is not None)
        elif ch.app is not None:
            self.chan_event("HangupRequest", ch)
            self.interrupt(ch, "hangup")
            self.chan_event("SoftHangupRequest", ch, [("Cause", "16")])
            self.destroy(ch, 0)
        else:
            self.destroy(ch, 16)

    def ami_hangup(self, ch: Channel, cause: int) -> None:
        if ch.hungup:
            return
        if ch.originate is not None and ch.state != 6:
            from acd.pbxsim import originate

            originate.cancel_ringing(self, ch)
            return
        if ch.bridge is not None:
            if ch.bridge.hook is not None:
                ch.bridge.hook(ch)
            self._leave_and_hangup(ch, soft=True, cause=cause)
            return
        self.interrupt(ch, "hangup")
        self.chan_event("SoftHangupRequest", ch, [("Cause", str(cause))])
        self.destroy(ch, cause)

    def dialplan_hangup(self, ch: Channel, cause: int = 16) -> None:
        self.chan_event("SoftHangupRequest", ch, [("Cause", str(cause))])
        self.destroy(ch, cause)

    def destroy(self, ch: Channel, cause: int) -> None:
        if ch.hungup:
            return
        ch.hungup = True
        ch.cancel_timers()
        if ch.app is not None:
            ch.app.cancel_timers()
        ch.dtmf_listener = None
        self.chan_event("Hangup", ch, [("Cause", str(cause)),
                                       ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))])
        self.emit("DeviceStateChange", [("Device", ch.name.rsplit("-", 1)[0]),
                                        ("State", "NOT_INUSE")])
        self.channels.pop(ch.name, None)
        if ch.phone is not None and ch.phone.channel is ch:
            ch.phone.channel = None
        if ch.truth is not None:
            self._close_truth(ch)
        self.changed()

    def _close_truth(self, ch: Channel) -> None:
        t = ch.truth
        assert t is not None
        t.ended_at = self.clock.now()
        if t.fallback:
            t.outcome = "fallback"
        elif t.answered_at is not None:
            t.outcome = "answered"
        elif t.outcome != "abandoned":
            t.outcome = "ended_by_pbx"

    # ---- bridges -------------------------------------------------------------------------
    def create_bridge(self) -> Bridge:
        bridge = Bridge(self.new_bridge_id())
        self.emit("BridgeCreate", bridge.headers())
        return bridge

    def bridge_enter(self, bridge: Bridge, ch: Channel) -> None:
        bridge.channels.append(ch)
        ch.bridge = bridge
        self.emit("BridgeEnter", bridge.headers() + ch.snapshot())

    def bridge_leave(self, ch: Channel) -> None:
        bridge = ch.bridge
        if bridge is None:
            return
        bridge.channels.remove(ch)
        ch.bridge = None
        self.emit("BridgeLeave", bridge.headers() + ch.snapshot())

    def bridged(self, a: Channel, b: Channel) -> None:
        """Bookkeeping once two channels are talking: truth and talk timers."""
        for caller, agent in ((a, b), (b, a)):
            t = caller.truth
            if t is not None and agent.phone is not None and t.answered_at is None:
                t.answered_at = self.clock.now()
                t.agent = agent.phone.interface
                spec = caller.caller
                if spec is not None and spec.talk_s is not None:
                    self.later(caller, spec.talk_s, self._hanger(caller))
            if agent.phone is not None and agent.phone.talk_s is not None and caller.truth:
                self.later(agent, agent.phone.talk_s, self._hanger(agent))
        self.changed()

    def _hanger(self, ch: Channel) -> Callable[[], None]:
        return lambda: self.remote_hangup(ch)

    def _leave_and_hangup(self, ch: Channel, *, soft: bool, cause: int = 16) -> None:
        bridge = ch.bridge
        assert bridge is not None
        peers = [c for c in bridge.channels if c is not ch]
        self.bridge_leave(ch)
        if ch.app is not None and ch.app.name == "Bridge":
            self.set_var(ch, "BRIDGERESULT", "SUCCESS")
        if soft:
            self.chan_event("SoftHangupRequest", ch, [("Cause", str(cause))])
        self.destroy(ch, cause)
        self._dissolve(bridge, peers)

    def _dissolve(self, bridge: Bridge, peers: list[Channel]) -> None:
        for peer in peers:
            self.bridge_leave(peer)
        self.emit("BridgeDestroy", bridge.headers())
        for peer in peers:
            self.peer_left(peer)

    def peer_left(self, ch: Channel) -> None:
        if ch.hungup:
            return
        cb = ch.after_bridge
        ch.after_bridge = None
        if cb is not None:
            cb()
        else:
            self.run(ch)

    def leave_bridge_alive(self, ch: Channel) -> None:
        """``ch`` leaves its bridge without hanging up (Redirect of a bridged channel)."""
        bridge = ch.bridge
        assert bridge is not None
        peers = [c for c in bridge.channels if c is not ch]
        self.bridge_leave(ch)
        ch.after_bridge = None
        self._dissolve(bridge, peers)


def _cid_all(ch: Channel) -> str:
    return f'"{ch.cid_name}" <{ch.cid_num}>' if ch.cid_name else ch.cid_num


def _state_word(state: int) -> str:
    return {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}.get(state, "Unknown")


def header(headers: Headers, key: str) -> str:
    return frames.get(headers, key)
