"""Customers called back through the trunk: Dial() of a number that is no agent's phone.

A dial string naming a number on the trunk (`PJSIP/5551234@trunk`, `PJSIP/trunk/5551234`,
`SIP/customer/5551234`) reaches the simulated caller who last called from that number: its
CallerSpec says how each attempt goes (`callback_answers`: answer after N s, ring out, "busy")
and how long it talks (`callback_talk_s`). The leg is built by dial.py exactly as an agent's
leg (Newchannel, DialBegin with the dialling channel, Ringing, DialState; on answer DialEnd
ANSWER and a bridge the customer enters first), as in originate_callback.jsonl, with the
customer's own caller id and the trunk's context. An unknown number rings out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from acd.pbxsim.model import AgentPhone, CallerSpec, Truth

if TYPE_CHECKING:
    from acd.pbxsim.engine import Pbx

TRUNK_CONTEXT = "from-trunk"


@dataclass
class Customer:
    phone: AgentPhone  # a phone made for this one attempt (answer_after_s = its behaviour)
    busy: bool
    spec: CallerSpec | None
    truth: Truth | None


def number_of(dial: str) -> str | None:
    """The number a trunk dial string names (None: not a number)."""
    _tech, _, rest = dial.strip().partition("/")
    if "@" in rest:
        number = rest.split("@", 1)[0]
    elif "/" in rest:
        number = rest.split("/", 1)[1]
    else:
        return None
    return number if number.lstrip("+").isdigit() else None


def lookup(pbx: Pbx, dial: str, agent_iface: str) -> Customer | None:
    """The customer a Dial() reaches, with how it takes this attempt (recorded in its truth)."""
    number = number_of(dial)
    if number is None:
        return None
    spec, truth = pbx.customers.get(number, (None, None))
    attempt = len(truth.callbacks) if truth is not None else 0
    how = spec.callback_answers[attempt] if spec is not None and \
        attempt < len(spec.callback_answers) else None
    if truth is not None:
        truth.callbacks.append({"at": pbx.clock.now(), "agent": agent_iface,
                                "result": "busy" if how == "busy" else "ringing",
                                "answered_at": None})
    iface = dial.split(",")[0].strip()
    phone = AgentPhone(interface=iface, extension=number, name=spec.name if spec else "",
                       answer_after_s=how if isinstance(how, float | int) else None,
                       talk_s=None, context=TRUNK_CONTEXT)
    return Customer(phone, how == "busy", spec, truth)


def talking_spec(customer: Customer) -> CallerSpec | None:
    """The caller spec of the customer leg: it hangs up after callback_talk_s."""
    if customer.spec is None:
        return None
    return dataclasses.replace(customer.spec, talk_s=customer.spec.callback_talk_s)


def attempt_ended(customer: Customer | None, result: str, now: float) -> None:
    """Note how the attempt ended in the customer's truth (None: not a customer's leg)."""
    if customer is not None and customer.truth is not None and customer.truth.callbacks:
        last = customer.truth.callbacks[-1]
        last["result"] = result
        if result == "answered":
            last["answered_at"] = now
