"""Dial(interface,timeout) for the first trace set (caller dials an agent phone), and for a
callback's agent leg dialling the customer through the trunk (customer.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.pbxsim.customer import Customer, attempt_ended, lookup, talking_spec
from acd.pbxsim.engine import BLOCK, NEXT
from acd.pbxsim.model import AgentPhone, AppRun, Channel

if TYPE_CHECKING:
    from acd.pbxsim.engine import Pbx


def dial_app(pbx: Pbx, ch: Channel, data: str) -> str:
    args = data.split(",")
    tech, _, rest = args[0].strip().partition("/")
    peer, _, number = rest.partition("/")
    iface = f"{tech}/{peer}"
    timeout = float(args[1]) if len(args) > 1 and args[1].strip() else None
    phone, customer = _dialled(pbx, ch, iface, args[0])
    if phone is None or not phone.registered or phone.channel is not None:
        pbx.set_var(ch, "DIALSTATUS", "CHANUNAVAIL" if phone is None and customer is None
                    else "BUSY")
        return NEXT
    leg = _leg(pbx, ch, iface, phone, customer)
    leg.conn_num, leg.conn_name = ch.cid_num, ch.cid_name
    pbx.channels[leg.name] = leg
    run = AppRun("Dial", data)
    ch.app = run
    pbx.chan_event("Newchannel", leg)
    if number:
        leg.exten = number
    pbx.emit("DialBegin", ch.snapshot() + leg.snapshot("Dest")
             + [("DialString", rest)])
    pbx.emit("DeviceStateChange", [("Device", iface), ("State", "RINGING")])
    pbx.set_state(leg, 5)
    leg.application, leg.app_data = "AppDial", "(Outgoing Line)"
    pbx.emit("DialState", ch.snapshot() + leg.snapshot("Dest") + [("DialStatus", "RINGING")])

    def ended(status: str) -> None:
        pbx.set_var(ch, "DIALSTATUS", status)
        pbx.finish_app(ch)

    def no_answer() -> None:
        attempt_ended(customer, "NOANSWER", pbx.clock.now())
        pbx.emit("DialEnd", ch.snapshot() + leg.snapshot("Dest") + [("DialStatus", "NOANSWER")])
        pbx.destroy(leg, 16)
        ended("NOANSWER")

    def on_interrupt(reason: str) -> None:
        if not leg.hungup:
            pbx.emit("DialEnd", ch.snapshot() + leg.snapshot("Dest") + [("DialStatus", "CANCEL")])
            pbx.destroy(leg, 16)

    def answered() -> None:
        if leg.hungup or leg.state == 6 or ch.app is not run:
            return
        leg.answer_cb = None
        attempt_ended(customer, "answered", pbx.clock.now())
        run.cancel_timers()
        leg.cancel_timers()
        pbx.emit("DeviceStateChange", [("Device", iface), ("State", "INUSE")])
        pbx.set_state(leg, 6)
        pbx.set_var(ch, "DIALSTATUS", "ANSWER")
        pbx.emit("DialEnd", ch.snapshot() + leg.snapshot("Dest") + [("DialStatus", "ANSWER")])
        run.on_interrupt = None
        bridge = pbx.create_bridge()
        leg.exten = ""
        pbx.bridge_enter(bridge, leg)
        pbx.bridge_enter(bridge, ch)
        # Dial() without the g option: whoever stays behind is hung up when the other leaves.
        leg.after_bridge = lambda: pbx.dialplan_hangup(leg, 16)
        ch.after_bridge = lambda: pbx.dialplan_hangup(ch, 16)
        pbx.bridged(ch, leg)

    leg.answer_cb = answered
    run.on_interrupt = on_interrupt
    if timeout is not None:
        pbx.app_timer(ch, run, timeout, no_answer)
    if phone.answer_after_s is not None:
        pbx.later(leg, phone.answer_after_s, answered)
    return BLOCK


def _dialled(pbx: Pbx, ch: Channel, iface: str,
             dial: str) -> tuple[AgentPhone | None, Customer | None]:
    """The phone a dial string reaches: an agent's, else a customer's through the trunk."""
    phone = pbx.phones.get(iface)
    if phone is not None:
        return phone, None
    customer = lookup(pbx, dial, ch.phone.interface if ch.phone else "")
    if customer is None or customer.busy:
        return None, customer
    return customer.phone, customer


def _leg(pbx: Pbx, ch: Channel, iface: str, phone: AgentPhone,
         customer: Customer | None) -> Channel:
    leg = Channel(
        name=pbx.new_channel_name(pbx.caller_interface if customer else iface),
        uniqueid=pbx.new_uniqueid(), linkedid=ch.linkedid,
        kind="customer" if customer else "member", cid_num=phone.extension,
        cid_name=phone.name, context=phone.context or pbx.phone_context, exten="s",
        created_at=pbx.clock.now(),
    )
    leg.phone = phone
    phone.channel = leg
    if customer is not None:  # the caller called back: its truth, and how long it talks
        leg.truth, leg.caller = customer.truth, talking_spec(customer)
    return leg
