"""The PBX core: channels, events, dialplan execution, hangups, bridges, redirects."""

from __future__ import annotations

import logging
from collections.abc import Callable

from acd.pbxsim.core import PbxCore
from acd.pbxsim.frames import CAUSE_TEXT
from acd.pbxsim.model import AppRun, Bridge, Channel

log = logging.getLogger(__name__)

NEXT, JUMP, BLOCK, STOP = "next", "jump", "block", "stop"
HOLD_CONTEXTS = frozenset({"acd-hold", "acd2-hold"})
FALLBACK_CONTEXTS = frozenset({"acd-fallback", "acd2-fallback"})
HEARD_APPS = frozenset({"Playback", "SayNumber", "Read"})  # kept in the caller's truth


class Pbx(PbxCore):
    """The PBX: dialplan execution, redirects, hangups and bridges."""

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
        if ch.application in HEARD_APPS:
            t.heard.append((self.clock.now(), f"{ch.application}({ch.app_data})"))

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

    def redirect_pair(self, *moves: tuple[Channel, str, str, str]) -> None:
        """A dual Redirect: every channel leaves its bridge without ending anyone's Bridge()
        (the bridges they leave are dissolved), then each goes to its own place."""
        channels = [ch for ch, *_ in moves]
        left: list[Bridge] = []
        for ch in channels:
            if ch.bridge is not None:
                if ch.bridge not in left:
                    left.append(ch.bridge)
                self.bridge_leave(ch)
                ch.after_bridge = None
        for bridge in left:
            self._dissolve(bridge, [c for c in bridge.channels if c not in channels])
        for ch, context, exten, prio in moves:
            self.interrupt(ch, "redirect")
            if self.goto(ch, context, exten, prio):
                self.run(ch)

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
        # The callbacks close over the channel: dropped, a gone channel is freed by its last
        # reference rather than left as a cycle for the collector (one per agent leg).
        ch.dtmf_listener = ch.answer_cb = ch.after_bridge = None
        self.chan_event("Hangup", ch, [("Cause", str(cause)),
                                       ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))])
        self.emit("DeviceStateChange", [("Device", ch.name.rsplit("-", 1)[0]),
                                        ("State", "NOT_INUSE")])
        self.channels.pop(ch.name, None)
        if ch.phone is not None and ch.phone.channel is ch:
            ch.phone.channel = None
        # A customer leg that never answered (a callback attempt) leaves its caller's truth.
        if ch.truth is not None and not (ch.kind == "customer" and ch.state != 6):
            self._close_truth(ch)
        self.changed()

    def _close_truth(self, ch: Channel) -> None:
        t = ch.truth
        assert t is not None
        t.ended_at = self.clock.now()
        if t.fallback:
            t.outcome = "fallback"
        elif t.voicemail:
            t.outcome = "voicemail"
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
            if t is not None and agent.phone is not None:
                t.agents.append(agent.phone.interface)
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
