"""AMI Originate of agent legs (Async, ChannelId, Variable, Timeout, CallerID)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from acd.pbxsim import frames
from acd.pbxsim.frames import Headers
from acd.pbxsim.model import Channel

if TYPE_CHECKING:
    from acd.pbxsim.engine import Pbx

PHONE_CONTEXT = "from-agent"


def parse_callerid(text: str) -> tuple[str, str]:
    """``"Name" <num>`` -> (name, num)."""
    m = re.fullmatch(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*', text)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return "", text.strip()


def _response(pbx: Pbx, o: dict[str, str], ok: bool, channel: str, reason: int,
              uniqueid: str, cid: tuple[str, str]) -> None:
    headers: Headers = []
    if o.get("action_id"):
        headers.append(("ActionID", o["action_id"]))
    headers += [
        ("Response", "Success" if ok else "Failure"), ("Channel", channel),
        ("Context", o["context"]), ("Exten", o["exten"]), ("Reason", str(reason)),
        ("Uniqueid", uniqueid), ("CallerIDNum", cid[1] or "<unknown>"),
        ("CallerIDName", cid[0] or "<unknown>"),
    ]
    pbx.emit("OriginateResponse", headers)


def originate(pbx: Pbx, params: Headers) -> None:
    dial = frames.get(params, "Channel")
    if dial.lower().startswith("local/"):
        from acd.pbxsim import local

        local.originate_local(pbx, params)
        return
    o = {
        "action_id": frames.get(params, "ActionID"), "dial": dial,
        "context": frames.get(params, "Context"), "exten": frames.get(params, "Exten"),
        "priority": frames.get(params, "Priority", "1") or "1",
    }
    name, num = parse_callerid(frames.get(params, "CallerID"))
    phone = pbx.phones.get(dial)
    channel_id = frames.get(params, "ChannelId")
    if phone is None or not phone.registered:
        _response(pbx, o, False, dial, 0, "<unknown>", ("", ""))
        return
    if phone.channel is not None:
        _response(pbx, o, False, dial, 5, channel_id or "<unknown>", (name, num))
        return
    uid = channel_id or pbx.new_uniqueid()
    ch = Channel(
        name=pbx.new_channel_name(dial), uniqueid=uid, linkedid=uid, kind="agent",
        cid_num=num, cid_name=name, context=pbx.phone_context, exten="s",
        created_at=pbx.clock.now(),
    )
    ch.phone = phone
    phone.channel = ch
    phone.shown.append((name, num))
    ch.originate = o
    ch.answer_cb = lambda: answer(pbx, ch)
    pbx.channels[ch.name] = ch
    pbx.chan_event("Newchannel", ch)
    ch.exten = ""
    ch.application, ch.app_data = "AppDial2", "(Outgoing Line)"
    pbx.chan_event("Newexten", ch, [("Extension", ""), ("Application", "AppDial2"),
                                    ("AppData", "(Outgoing Line)")])
    for header in frames.get_all(params, "Variable"):
        for item in header.split(","):
            key, _, value = item.partition("=")
            if key.strip():
                pbx.set_var(ch, key.strip(), value)
    pres = "0 (Presentation Allowed, Not Screened)"
    pbx.chan_event("NewCallerid", ch, [("CID-CallingPres", pres)])
    ch.conn_num, ch.conn_name = num or "<unknown>", name or "<unknown>"
    pbx.chan_event("NewConnectedLine", ch)
    pbx.emit("DialBegin", [*ch.snapshot("Dest"), ("DialString", dial.split("/", 1)[-1])])
    pbx.emit("DeviceStateChange", [("Device", dial), ("State", "RINGING")])
    pbx.set_state(ch, 5)
    pbx.emit("DialState", [*ch.snapshot("Dest"), ("DialStatus", "RINGING")])
    timeout_ms = frames.get(params, "Timeout")
    timeout = int(timeout_ms) / 1000 if timeout_ms.strip().isdigit() else 30.0
    pbx.later(ch, timeout, lambda: _ring_timeout(pbx, ch))
    if phone.answer_after_s is not None:
        pbx.later(ch, phone.answer_after_s, lambda: answer(pbx, ch))
    pbx.changed()


def answer(pbx: Pbx, ch: Channel) -> None:
    o = ch.originate
    if o is None or ch.hungup or ch.state == 6:
        return
    ch.cancel_timers()
    pbx.set_state(ch, 6)
    pbx.emit("DialEnd", [*ch.snapshot("Dest"), ("DialStatus", "ANSWER")])
    ch.context, ch.exten = o["context"], o["exten"]
    ch.priority = int(o["priority"]) if o["priority"].isdigit() else 1
    pbx.run(ch)
    success_if_pending(pbx, ch)


def success_if_pending(pbx: Pbx, ch: Channel) -> None:
    o = ch.originate
    if o is None or o.get("done"):
        return
    o["done"] = "1"
    _response(pbx, o, True, ch.name, 4, ch.uniqueid, (ch.cid_name, ch.cid_num))


def _ring_timeout(pbx: Pbx, ch: Channel) -> None:
    o = ch.originate
    if o is None or ch.hungup or ch.state == 6:
        return
    o["done"] = "1"
    _response(pbx, o, False, o["dial"], 3, ch.uniqueid, (ch.cid_name, ch.cid_num))
    pbx.destroy(ch, 19)


def cancel_ringing(pbx: Pbx, ch: Channel) -> None:
    o = ch.originate
    assert o is not None
    o["done"] = "1"
    pbx.emit("DialEnd", [*ch.snapshot("Dest"), ("DialStatus", "NOANSWER")])
    pbx.destroy(ch, 16)
    _response(pbx, o, False, o["dial"], 0, ch.uniqueid, (ch.cid_name, ch.cid_num))
