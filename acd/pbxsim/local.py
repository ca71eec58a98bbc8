"""Local channels created by AMI ``Originate`` (``Channel: Local/exten@context``).

The pair ``;1``/``;2``: ``;2`` runs the dialplan at ``exten@context``; ``;1`` runs the
``Application`` of the Originate. Only ``Wait`` is timed (``;1`` ends after ``Data`` seconds);
any other application keeps ``;1`` up until the pair is hung up. When ``;1`` ends, ``;2`` gets
``HangupRequest Cause: 0``, ``;1`` ``Hangup Cause: 0``, then ``;2`` a soft hangup (cause 16),
as in ``bridge_app_local``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.pbxsim import frames
from acd.pbxsim.frames import Headers
from acd.pbxsim.model import Channel

if TYPE_CHECKING:
    from acd.pbxsim.engine import Pbx


def _response(pbx: Pbx, aid: str, one: Channel, app: str, data: str) -> None:
    headers: Headers = [("ActionID", aid)] if aid else []
    headers += [("Response", "Success"), ("Channel", one.name), ("Application", app),
                ("Data", data), ("Reason", "4"), ("Uniqueid", one.uniqueid),
                ("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>")]
    pbx.emit("OriginateResponse", headers)


def _local_headers(one: Channel, two: Channel) -> Headers:
    return [*one.snapshot("LocalOne"), *two.snapshot("LocalTwo"), ("Context", two.context),
            ("Exten", two.exten), ("LocalOptimization", "No")]


def originate_local(pbx: Pbx, params: Headers) -> None:
    dial = frames.get(params, "Channel")
    target = dial.split("/", 1)[1]
    exten, _, context = target.partition("@")
    context = context or "default"
    base = pbx.new_channel_name(dial)
    uid1, uid2 = pbx.new_uniqueid(), pbx.new_uniqueid()
    now = pbx.clock.now()
    one = Channel(name=f"{base};1", uniqueid=uid1, linkedid=uid1, kind="local", cid_num="",
                  cid_name="", context=context, exten=exten, created_at=now)
    two = Channel(name=f"{base};2", uniqueid=uid2, linkedid=uid1, kind="local", cid_num="",
                  cid_name="", context=context, exten=exten, state=4, created_at=now)
    pbx.channels[one.name] = one
    pbx.channels[two.name] = two
    pbx.chan_event("Newchannel", one)
    pbx.chan_event("Newchannel", two)
    one.application, one.app_data = "AppDial2", "(Outgoing Line)"
    pbx.chan_event("Newexten", one, [("Extension", exten), ("Application", "AppDial2"),
                                     ("AppData", "(Outgoing Line)")])
    for header in frames.get_all(params, "Variable"):
        for item in header.split(","):
            key, _, value = item.partition("=")
            if key.strip():
                pbx.set_var(one, key.strip(), value)
                pbx.set_var(two, key.strip(), value)
    pbx.emit("LocalBridge", _local_headers(one, two))
    pbx.emit("DialBegin", [*one.snapshot("Dest"), ("DialString", target)])
    pbx.run(two)
    pbx.set_state(one, 6)
    pbx.emit("DialEnd", [*one.snapshot("Dest"), ("DialStatus", "ANSWER")])
    app, data = frames.get(params, "Application"), frames.get(params, "Data")
    _response(pbx, frames.get(params, "ActionID"), one, app, data)
    one.application, one.app_data = app, data
    if app.lower() == "wait":
        seconds = float(data) if data.strip().replace(".", "", 1).isdigit() else 0.0
        pbx.later(one, seconds, lambda: end_one(pbx, one, two))
    pbx.changed()


def end_one(pbx: Pbx, one: Channel, two: Channel) -> None:
    """The ``;1`` side's application ended: the pair goes down."""
    if one.hungup:
        return
    if not two.hungup:
        pbx.chan_event("HangupRequest", two, [("Cause", "0")])
    pbx.destroy(one, 0)
    if not two.hungup:
        pbx.ami_hangup(two, 16)
