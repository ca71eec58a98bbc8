"""A small app_queue: static members, strategy linear, member timeout 5 s, retry 1 s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.pbxsim.engine import BLOCK, NEXT
from acd.pbxsim.model import AppRun, Channel

if TYPE_CHECKING:
    from acd.pbxsim.engine import Pbx

MEMBER_TIMEOUT_S = 5.0
RETRY_S = 1.0


def _member_headers(pbx: Pbx, queue: str, iface: str) -> list[tuple[str, str]]:
    phone = pbx.phones.get(iface)
    return [("Queue", queue), ("Interface", iface),
            ("MemberName", phone.name if phone is not None and phone.name else iface)]


def member(pbx: Pbx, queue: str, iface: str) -> dict[str, str]:
    """The state of one static member (created on first use)."""
    key = (queue, iface)
    if key not in pbx.members:
        pbx.members[key] = {"paused": "0", "reason": "", "calls": "0", "last_call": "0",
                            "last_pause": "0"}
    return pbx.members[key]


def member_status(pbx: Pbx, queue: str, iface: str) -> list[tuple[str, str]]:
    """QueueMemberPause / QueueMember headers after Queue, MemberName, Interface."""
    m = member(pbx, queue, iface)
    phone = pbx.phones.get(iface)
    busy = phone is not None and phone.channel is not None
    status = "5" if phone is None or not phone.registered else ("2" if busy else "1")
    return [("StateInterface", iface), ("Membership", "static"), ("Penalty", "0"),
            ("CallsTaken", m["calls"]), ("LastCall", m["last_call"]),
            ("LastPause", m["last_pause"]), ("LoginTime", str(int(pbx.started_at))),
            ("InCall", "1" if busy else "0"), ("Status", status), ("Paused", m["paused"]),
            ("PausedReason", m["reason"]), ("Ringinuse", "0"), ("Wrapuptime", "0")]


def queue_app(pbx: Pbx, ch: Channel, data: str) -> str:
    name = data.split(",")[0].strip()
    if ch.truth is not None:
        ch.truth.fallback = True
    waiting = pbx.waiting_queue.setdefault(name, [])
    waiting.append(ch)
    run = AppRun("Queue", data)
    run.extra.update(queue=name, joined=pbx.clock.now(), leg=None, tried=0)
    ch.app = run
    pbx.chan_event("QueueCallerJoin", ch, [("Queue", name), ("Position", str(len(waiting))),
                                           ("Count", str(len(waiting)))])
    pbx.chan_event("MusicOnHoldStart", ch, [("Class", "default")])
    run.on_interrupt = lambda reason: _abandon(pbx, ch, run, reason)
    _try_member(pbx, ch, run)
    return BLOCK


def _leave(pbx: Pbx, ch: Channel, run: AppRun) -> None:
    name = run.extra["queue"]
    waiting = pbx.waiting_queue.get(name, [])
    pos = waiting.index(ch) + 1 if ch in waiting else 1
    if ch in waiting:
        waiting.remove(ch)
    pbx.chan_event("QueueCallerLeave", ch, [("Queue", name), ("Position", str(pos)),
                                            ("Count", str(len(waiting)))])


def _abandon(pbx: Pbx, ch: Channel, run: AppRun, reason: str) -> None:
    name = run.extra["queue"]
    leg: Channel | None = run.extra.get("leg")
    if leg is not None and not leg.hungup:
        pbx.emit("DialEnd", ch.snapshot() + leg.snapshot("Dest") + [("DialStatus", "CANCEL")])
        pbx.destroy(leg, 16)
    pbx.chan_event("MusicOnHoldStop", ch)
    if reason == "hangup":
        held = int(pbx.clock.now() - run.extra["joined"])
        pbx.chan_event("QueueCallerAbandon", ch, [("Queue", name), ("Position", "1"),
                                                  ("OriginalPosition", "1"),
                                                  ("HoldTime", str(held))])
    _leave(pbx, ch, run)


def _try_member(pbx: Pbx, ch: Channel, run: AppRun) -> None:
    if ch.hungup or ch.app is not run:
        return
    members = pbx.queue_members.get(run.extra["queue"], [])
    n = len(members)
    for i in range(n):
        iface = members[(run.extra["tried"] + i) % n]
        phone = pbx.phones.get(iface)
        paused = member(pbx, run.extra["queue"], iface)["paused"] == "1"
        if phone is not None and phone.registered and phone.channel is None and not paused:
            run.extra["tried"] = (run.extra["tried"] + i + 1) % n
            _ring(pbx, ch, run, iface)
            return
    pbx.app_timer(ch, run, RETRY_S, lambda: _try_member(pbx, ch, run))


def _ring(pbx: Pbx, ch: Channel, run: AppRun, iface: str) -> None:
    phone = pbx.phones[iface]
    leg = Channel(
        name=pbx.new_channel_name(iface), uniqueid=pbx.new_uniqueid(), linkedid=ch.linkedid,
        kind="member", cid_num=phone.extension, cid_name=phone.name, context=pbx.phone_context,
        exten="s", created_at=pbx.clock.now(),
    )
    leg.phone = phone
    phone.channel = leg
    leg.conn_num, leg.conn_name = ch.cid_num, ch.cid_name
    pbx.channels[leg.name] = leg
    run.extra["leg"] = leg
    leg.answer_cb = lambda: member_answer(pbx, ch, run, leg)
    run.extra["rang"] = pbx.clock.now()
    q = run.extra["queue"]
    pbx.chan_event("Newchannel", leg)
    leg.exten = ch.exten
    pbx.emit("AgentCalled", ch.snapshot() + leg.snapshot("Dest") + _member_headers(pbx, q, iface))
    pbx.emit("DialBegin", ch.snapshot() + leg.snapshot("Dest") + [("DialString", iface)])
    ch.conn_num, ch.conn_name = phone.extension, phone.name
    pbx.chan_event("NewConnectedLine", ch)
    pbx.set_state(leg, 5)
    leg.application, leg.app_data = "AppQueue", "(Outgoing Line)"
    pbx.chan_event("Newexten", leg, [("Extension", "s"), ("Application", "AppQueue"),
                                     ("AppData", "(Outgoing Line)")])
    pbx.emit("DialState", ch.snapshot() + leg.snapshot("Dest") + [("DialStatus", "RINGING")])
    if phone.answer_after_s is not None and phone.answer_after_s < MEMBER_TIMEOUT_S:
        pbx.later(leg, phone.answer_after_s, lambda: member_answer(pbx, ch, run, leg))
    pbx.later(leg, MEMBER_TIMEOUT_S, lambda: _no_answer(pbx, ch, run, leg))
    pbx.changed()


def _no_answer(pbx: Pbx, ch: Channel, run: AppRun, leg: Channel) -> None:
    if leg.hungup or ch.app is not run:
        return
    q = run.extra["queue"]
    iface = leg.phone.interface if leg.phone else ""
    pbx.emit("AgentRingNoAnswer", ch.snapshot() + leg.snapshot("Dest")
             + _member_headers(pbx, q, iface) + [("RingTime", str(int(MEMBER_TIMEOUT_S * 1000)))])
    pbx.emit("DialEnd", ch.snapshot() + leg.snapshot("Dest") + [("DialStatus", "NOANSWER")])
    pbx.emit("DialEnd", ch.snapshot() + leg.snapshot("Dest") + [("DialStatus", "CANCEL")])
    run.extra["leg"] = None
    pbx.destroy(leg, 16)
    pbx.app_timer(ch, run, RETRY_S, lambda: _try_member(pbx, ch, run))


def member_answer(pbx: Pbx, ch: Channel, run: AppRun, leg: Channel) -> None:
    if leg.hungup or ch.app is not run or leg.state == 6:
        return
    leg.cancel_timers()
    run.cancel_timers()
    q = run.extra["queue"]
    iface = leg.phone.interface if leg.phone else ""
    pbx.set_state(leg, 6)
    pbx.emit("DialEnd", ch.snapshot() + leg.snapshot("Dest") + [("DialStatus", "ANSWER")])
    pbx.chan_event("MusicOnHoldStop", ch)
    _leave(pbx, ch, run)
    held = int(pbx.clock.now() - run.extra["joined"])
    rang = int(pbx.clock.now() - run.extra["rang"])
    pbx.emit("AgentConnect", ch.snapshot() + leg.snapshot("Dest") + _member_headers(pbx, q, iface)
             + [("HoldTime", str(held)), ("RingTime", str(rang))])
    run.on_interrupt = None
    stats = member(pbx, q, iface)
    stats["calls"] = str(int(stats["calls"]) + 1)
    stats["last_call"] = str(int(pbx.clock.wall()))
    bridge = pbx.create_bridge()
    pbx.bridge_enter(bridge, leg)
    pbx.bridge_enter(bridge, ch)
    start = pbx.clock.now()

    def hook(who: Channel) -> None:
        talk = int(pbx.clock.now() - start)
        pbx.emit("AgentComplete", ch.snapshot() + leg.snapshot("Dest")
                 + _member_headers(pbx, q, iface)
                 + [("HoldTime", str(held)), ("TalkTime", str(talk)),
                    ("Reason", "caller" if who is ch else "agent")])

    bridge.hook = hook
    leg.after_bridge = lambda: pbx.destroy(leg, 16)
    ch.after_bridge = lambda: pbx.finish_app(ch)
    pbx.bridged(ch, leg)


def pause(pbx: Pbx, queue: str, iface: str, paused: bool, reason: str) -> list[tuple[str, str]]:
    """QueuePause: returns the QueueMemberPause event headers."""
    m = member(pbx, queue, iface)
    m["paused"] = "1" if paused else "0"
    m["reason"] = reason if paused else ""
    m["last_pause"] = str(int(pbx.clock.wall()))
    q, i, name = _member_headers(pbx, queue, iface)
    return [q, name, i, *member_status(pbx, queue, iface)]


__all__ = ["NEXT", "member_answer", "pause", "queue_app"]
