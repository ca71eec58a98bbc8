"""Bridges made by the Bridge() application and by the AMI Bridge action."""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.pbxsim.engine import BLOCK, NEXT
from acd.pbxsim.model import AppRun, Bridge, Channel

if TYPE_CHECKING:
    from acd.pbxsim.engine import Pbx


def pull_in(pbx: Pbx, ch: Channel) -> None:
    """Take ``ch`` out of the application it is in; it resumes at the next priority later."""
    had_app = ch.app is not None
    pbx.interrupt(ch, "bridge")
    if had_app:
        ch.priority += 1
    ch.after_bridge = lambda: pbx.run(ch)


def _peer_noise(pbx: Pbx, a: Channel, b: Channel) -> None:
    pbx.set_var(b, "BRIDGEPEER", a.name)
    pbx.set_var(a, "BRIDGEPEER", b.name)


def _connected(pbx: Pbx, target: Channel, other: Channel) -> None:
    target.conn_num, target.conn_name = other.cid_num, other.cid_name
    pbx.chan_event("NewConnectedLine", target)


def bridge_app(pbx: Pbx, ch: Channel, data: str) -> str:
    from acd.pbxsim import originate

    target = pbx.find_channel(data.strip())
    if target is None or target is ch or target.hungup or target.bridge is not None:
        pbx.set_var(ch, "BRIDGERESULT", "NONEXISTENT" if target is None else "FAILURE")
        return NEXT
    run = AppRun("Bridge", data)
    ch.app = run
    bridge = pbx.create_bridge()
    pull_in(pbx, target)
    pbx.bridge_enter(bridge, target)
    ch.linkedid = target.linkedid
    originate.success_if_pending(pbx, ch)
    pbx.bridge_enter(bridge, ch)
    _peer_noise(pbx, target, ch)
    _connected(pbx, target, ch)

    def after() -> None:
        pbx.set_var(ch, "BRIDGERESULT", "SUCCESS")
        pbx.finish_app(ch)

    ch.after_bridge = after
    pbx.bridged(target, ch)
    return BLOCK


def ami_bridge(pbx: Pbx, c1: Channel, c2: Channel) -> None:
    bridge: Bridge = pbx.create_bridge()
    pull_in(pbx, c1)
    pull_in(pbx, c2)
    pbx.bridge_enter(bridge, c1)
    pbx.bridge_enter(bridge, c2)
    _peer_noise(pbx, c1, c2)
    pbx.bridged(c1, c2)
