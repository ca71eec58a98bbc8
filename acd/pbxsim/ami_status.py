"""AMI status and listing actions: CoreShowChannels, Status, CoreStatus, QueueStatus/Summary,
QueuePause, DeviceStateList, ExtensionStateList/ExtensionState, SIPpeers, BridgeList, Command."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from acd.pbxsim import frames, queue
from acd.pbxsim.frames import Headers
from acd.pbxsim.model import Bridge

if TYPE_CHECKING:
    from acd.pbxsim.ami import Session
    from acd.pbxsim.engine import Pbx


def send_list(s: Session, a: Headers, message: str, items: list[Headers], complete: str,
              extra: Headers | None = None) -> None:
    """Response ``EventList: start``, one event per item, then the ``...Complete`` event."""
    aid = frames.get(a, "ActionID")
    s.respond(a, [("Response", "Success"), ("EventList", "start"), ("Message", message)])
    for item in items:
        event, rest = item[0], item[1:]
        s.send(frames.build([event, ("ActionID", aid), *rest] if aid else [event, *rest]))
    done: Headers = [("Event", complete)] + ([("ActionID", aid)] if aid else [])
    s.send(frames.build(done + [("EventList", "Complete"), ("ListItems", str(len(items)))]
                        + (extra or [])))


def a_core_status(s: Session, a: Headers) -> None:
    pbx = s.pbx
    start = datetime.datetime.fromtimestamp(pbx.started_at, datetime.UTC)
    date, time = start.strftime("%Y-%m-%d"), start.strftime("%H:%M:%S")
    s.ok(a, None, [("CoreStartupDate", date), ("CoreStartupTime", time),
                   ("CoreReloadDate", date), ("CoreReloadTime", time),
                   ("CoreCurrentCalls", str(len(pbx.channels))),
                   ("CoreProcessedCalls", str(pbx.processed_calls))])


def _queue_names(pbx: Pbx, a: Headers) -> list[str]:
    wanted = frames.get(a, "Queue")
    return [q for q in pbx.queue_members if not wanted or q == wanted]


def _available(pbx: Pbx, q: str, iface: str) -> bool:
    phone = pbx.phones.get(iface)
    return (phone is not None and phone.registered and phone.channel is None
            and queue.member(pbx, q, iface)["paused"] == "0")


def a_queue_status(s: Session, a: Headers) -> None:
    pbx = s.pbx
    items: list[Headers] = []
    for q in _queue_names(pbx, a):
        members = pbx.queue_members[q]
        waiting = pbx.waiting_queue.get(q, [])
        items.append([("Event", "QueueParams"), ("Queue", q), ("Max", "0"),
                      ("Strategy", "linear"), ("Calls", str(len(waiting))), ("Holdtime", "0"),
                      ("TalkTime", "0"), ("Completed", "0"), ("Abandoned", "0"),
                      ("ServiceLevel", "0"), ("ServicelevelPerf", "0.0"),
                      ("ServicelevelPerf2", "0.0"), ("Weight", "0")])
        for iface in members:
            phone = pbx.phones.get(iface)
            status = [(k, v) for k, v in queue.member_status(pbx, q, iface)
                      if k not in ("Ringinuse",)]
            items.append([("Event", "QueueMember"), ("Queue", q),
                          ("Name", phone.name if phone is not None and phone.name else iface),
                          ("Location", iface), *status])
        for pos, ch in enumerate(waiting, 1):
            items.append([("Event", "QueueEntry"), ("Queue", q), ("Position", str(pos)),
                          ("Channel", ch.name), ("Uniqueid", ch.uniqueid),
                          ("CallerIDNum", ch.cid_num), ("CallerIDName", ch.cid_name)])
    send_list(s, a, "Queue status will follow", items, "QueueStatusComplete")


def a_queue_summary(s: Session, a: Headers) -> None:
    pbx = s.pbx
    items: list[Headers] = []
    for q in _queue_names(pbx, a):
        members = pbx.queue_members[q]
        avail = sum(1 for i in members if _available(pbx, q, i))
        items.append([("Event", "QueueSummary"), ("Queue", q), ("LoggedIn", str(len(members))),
                      ("Available", str(avail)),
                      ("Callers", str(len(pbx.waiting_queue.get(q, [])))), ("HoldTime", "0"),
                      ("TalkTime", "0"), ("LongestHoldTime", "0")])
    send_list(s, a, "Queue summary will follow", items, "QueueSummaryComplete")


def a_queue_pause(s: Session, a: Headers) -> None:
    pbx = s.pbx
    iface, wanted = frames.get(a, "Interface"), frames.get(a, "Queue")
    paused = frames.get(a, "Paused").lower() in ("true", "yes", "1", "on")
    queues = [q for q, m in pbx.queue_members.items() if iface in m and wanted in ("", q)]
    if not queues:
        s.error(a, "Interface not found")
        return
    s.ok(a, "Interface paused successfully" if paused else "Interface unpaused successfully")
    for q in queues:
        pbx.emit("QueueMemberPause", queue.pause(pbx, q, iface, paused, frames.get(a, "Reason")))


def a_device_state_list(s: Session, a: Headers) -> None:
    pbx = s.pbx
    states = dict(pbx.devices)
    for q, members in pbx.queue_members.items():
        for iface in members:
            states.setdefault(f"Queue:{q}_pause_{iface}", "NOT_INUSE")
        states.setdefault(f"Queue:{q}_avail", "NOT_INUSE")
        states.setdefault(f"Queue:{q}", "NOT_INUSE")
    items: list[Headers] = [[("Event", "DeviceStateChange"), ("Device", d), ("State", st)]
                            for d, st in states.items()]
    send_list(s, a, "Device State Changes will follow", items, "DeviceStateListComplete")


def _hint_status(pbx: Pbx, device: str) -> tuple[str, str]:
    phone = pbx.phones.get(device)
    if phone is None or not phone.registered:
        return "4", "Unavailable"
    ch = phone.channel
    if ch is None:
        return "0", "Idle"
    return ("8", "Ringing") if ch.state != 6 else ("1", "InUse")


def a_extension_state_list(s: Session, a: Headers) -> None:
    items: list[Headers] = []
    for context, exten, device in s.pbx.dialplan.hints:
        code, text = _hint_status(s.pbx, device)
        items.append([("Event", "ExtensionStatus"), ("Exten", exten), ("Context", context),
                      ("Hint", device), ("Status", code), ("StatusText", text)])
    send_list(s, a, "Extension Statuses will follow", items, "ExtensionStateListComplete")


def a_extension_state(s: Session, a: Headers) -> None:
    exten, context = frames.get(a, "Exten"), frames.get(a, "Context")
    for ctx, ext, device in s.pbx.dialplan.hints:
        if ext == exten and ctx == context:
            code, text = _hint_status(s.pbx, device)
            s.ok(a, "Extension Status", [("Exten", exten), ("Context", context),
                                         ("Hint", device), ("Status", code),
                                         ("StatusText", text)])
            return
    s.ok(a, "Extension Status", [("Exten", exten), ("Context", context), ("Hint", ""),
                                 ("Status", "-1"), ("StatusText", "Unknown")])


def a_sip_peers(s: Session, a: Headers) -> None:
    pbx = s.pbx
    names = {iface for iface in pbx.phones} | {pbx.caller_interface}
    items: list[Headers] = []
    for port, iface in enumerate(sorted(n for n in names if n.startswith("SIP/")), 5070):
        items.append([("Event", "PeerEntry"), ("Channeltype", "SIP"),
                      ("ObjectName", iface.split("/", 1)[1]), ("ChanObjectType", "peer"),
                      ("IPaddress", "127.0.0.1"), ("IPport", str(port)), ("Dynamic", "no"),
                      ("Status", "Unmonitored")])
    send_list(s, a, "Peer status list will follow", items, "PeerlistComplete")


def bridges(pbx: Pbx) -> list[Bridge]:
    out: list[Bridge] = []
    for ch in pbx.channels.values():
        if ch.bridge is not None and ch.bridge not in out:
            out.append(ch.bridge)
    return out


def a_bridge_list(s: Session, a: Headers) -> None:
    items: list[Headers] = [[("Event", "BridgeListItem"), *b.headers()] for b in bridges(s.pbx)]
    send_list(s, a, "Bridge listing will follow", items, "BridgeListComplete")


def a_command(s: Session, a: Headers) -> None:
    pbx = s.pbx
    command = " ".join(frames.get(a, "Command").split()).lower()
    lines: list[str] = []
    if command == "core show channels concise":
        for ch in pbx.channels.values():
            secs = int(pbx.clock.now() - ch.created_at)
            bridge = ch.bridge.uniqueid if ch.bridge else ""
            lines.append("!".join([ch.name, ch.context, ch.exten, str(ch.priority),
                                   {6: "Up", 5: "Ringing", 4: "Ring"}.get(ch.state, "Down"),
                                   ch.application, ch.app_data, ch.cid_num, "", "", "3",
                                   str(secs), bridge, ch.uniqueid]))
    elif command == "core show version":
        lines.append("Asterisk 20.20.1 (simulated)")
    s.ok(a, "Command output follows", [("Output", line) for line in lines])


def _duration(s: Session, created: float) -> int:
    return int(s.pbx.clock.now() - created)


def _hms(secs: int) -> str:
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"


def a_core_show_channels(s: Session, a: Headers) -> None:
    aid = frames.get(a, "ActionID")
    s.ok(a, "Channels will follow", [("EventList", "start")])
    chans = list(s.pbx.channels.values())
    for ch in chans:
        secs = _duration(s, ch.created_at)
        s.send(frames.build([("Event", "CoreShowChannel"), ("ActionID", aid), *ch.snapshot(),
                             ("Application", ch.application), ("ApplicationData", ch.app_data),
                             ("Duration", _hms(secs)),
                             ("BridgeId", ch.bridge.uniqueid if ch.bridge else "")]))
    s.send(frames.build([("Event", "CoreShowChannelsComplete"), ("ActionID", aid),
                         ("EventList", "Complete"), ("ListItems", str(len(chans)))]))


def a_status(s: Session, a: Headers) -> None:
    aid = frames.get(a, "ActionID")
    chan = frames.get(a, "Channel")
    if chan:
        one = s.pbx.find_channel(chan)
        if one is None:
            s.error(a, "No such channel")
            return
        chans = [one]
    else:
        chans = list(s.pbx.channels.values())
    wanted = [v.strip() for v in frames.get(a, "Variables").split(",") if v.strip()]
    s.ok(a, "Channel status will follow")
    for ch in chans:
        vars_: Headers = [("Variable", f"{v}={s.pbx.subst(ch, '${' + v + '}')}") for v in wanted]
        s.send(frames.build([
            ("Event", "Status"), ("Privilege", "Call"), *ch.snapshot(),
            ("Type", ch.name.split("/", 1)[0]), ("DNID", ch.dnid),
            ("EffectiveConnectedLineNum", ch.conn_num),
            ("EffectiveConnectedLineName", ch.conn_name), ("TimeToHangup", "0"),
            ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""),
            ("Application", ch.application), ("Data", ch.app_data), *vars_,
            ("Nativeformats", "(ulaw)"), ("Readformat", "ulaw"), ("Readtrans", ""),
            ("Writeformat", "ulaw"), ("Writetrans", ""), ("Callgroup", "0"),
            ("Pickupgroup", "0"), ("Seconds", str(_duration(s, ch.created_at))),
            ("ActionID", aid),
        ]))
    n = str(len(chans))
    s.send(frames.build([("Event", "StatusComplete"), ("ActionID", aid), ("EventList", "Complete"),
                         ("ListItems", n), ("Items", n)]))
