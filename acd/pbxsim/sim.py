"""PbxSim: the public face of the simulated PBX (AMI server + SIP-side people + truth)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from acd.pbxsim import dtmf
from acd.pbxsim.ami import AmiServer
from acd.pbxsim.clock import Clock, RealClock
from acd.pbxsim.dialplan import Dialplan
from acd.pbxsim.engine import Pbx
from acd.pbxsim.frames import Headers
from acd.pbxsim.model import AgentPhone, CallerSpec, Channel, Truth

REPO = Path(__file__).resolve().parent.parent.parent
DEFAULT_DIALPLAN = REPO / "dialplans" / "extensions_acd.conf"
# The AMI user we ship: its `eventfilter` lines are what a PBX set up by the guide sends acd.
SHIPPED_MANAGER_CONF = REPO / "dialplans" / "manager_acd.conf"


class PbxSim:
    """A simulated Asterisk 20: AMI over TCP, our dialplan, simulated callers and phones."""

    def __init__(
        self,
        username: str = "acd",
        secret: str = "acdsecret",
        dialplan_path: Path | str | None = None,
        clock: Clock | None = None,
        queue_members: dict[str, list[str]] | None = None,
        prompt_durations: dict[str, float] | None = None,
        *,
        inbound_context: str = "acd-inbound",
        caller_interface: str = "PJSIP/trunk",
        phone_context: str = "from-agent",
        features_context: str = "acd-features",
        default_prompt_s: float = 1.0,
        event_filters: Sequence[str] = (),
    ) -> None:
        """`event_filters`: manager.conf `eventfilter` values for acd's AMI user (none: every
        event is sent; see eventfilter.py)."""
        self.clock: Clock = clock if clock is not None else RealClock()
        plan = Dialplan.load(dialplan_path if dialplan_path is not None else DEFAULT_DIALPLAN)
        if phone_context not in plan.contexts and features_context in plan.contexts:
            plan.context(phone_context).includes.append(features_context)
        self.pbx = Pbx(plan, self.clock, queue_members=queue_members,
                       prompt_durations=prompt_durations, default_prompt_s=default_prompt_s,
                       phone_context=phone_context)
        self.ami = AmiServer(self.pbx, username, secret, event_filters)
        self.inbound_context = inbound_context
        self.caller_interface = caller_interface
        self.pbx.caller_interface = caller_interface
        self.port = 0
        self._truth: dict[str, Truth] = {}
        self._caller_seq = itertools.count(1)
        self.events: list[tuple[str, Headers]] = []
        self._by_extension: dict[str, AgentPhone] = {}
        self._record_events = False
        self.pbx.listen(self._record, lambda _event: self._record_events)

    @property
    def record_events(self) -> bool:
        """Keep every event in `events` (tests look at them)."""
        return self._record_events

    @record_events.setter
    def record_events(self, on: bool) -> None:
        self._record_events = on
        self.pbx.interests_changed()  # (its listener's interest is this flag)

    def _record(self, event: str, headers: Headers) -> None:
        if self.record_events:
            self.events.append((event, headers))

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.port = await self.ami.start(host, port)
        return self.port

    async def stop(self) -> None:
        await self.ami.stop()

    def drop_ami_connections(self) -> None:
        self.ami.drop_all()

    # ---- people ----------------------------------------------------------------------------
    def add_phone(self, phone: AgentPhone) -> None:
        self.pbx.phones[phone.interface] = phone

    def place_call(self, spec: CallerSpec) -> str:
        """A caller dials ``spec.dnis`` now; returns the caller id used in :meth:`truth`."""
        pbx = self.pbx
        cid = f"c{next(self._caller_seq)}"
        uid = pbx.new_uniqueid()
        ch = Channel(
            name=pbx.new_channel_name(self.caller_interface), uniqueid=uid, linkedid=uid,
            kind="caller", cid_num=spec.number, cid_name=spec.name,
            context=self.inbound_context, exten=spec.dnis, created_at=self.clock.now(),
        )
        ch.dnid = spec.dnis
        ch.caller = spec
        ch.inputs = list(spec.inputs)
        ch.truth = Truth(id=cid, number=spec.number, dnis=spec.dnis, vip=spec.vip, tag=spec.tag,
                         inputs=list(spec.inputs), arrived_at=self.clock.now(), channel=ch.name)
        self._truth[cid] = ch.truth
        pbx.customers[spec.number] = (spec, ch.truth)
        pbx.channels[ch.name] = ch
        pbx.chan_event("Newchannel", ch)
        pbx.emit("DeviceStateChange", [("Device", self.caller_interface), ("State", "INUSE")])
        pbx.set_state(ch, 4)
        if spec.patience_s is not None:
            pbx.later(ch, spec.patience_s, lambda: self._impatient(ch))
        pbx.run(ch)
        pbx.changed()
        return cid

    def _impatient(self, ch: Channel) -> None:
        if ch.truth is not None and ch.truth.answered_at is None:
            self.pbx.remote_hangup(ch)

    def _caller_channel(self, caller_id: str) -> Channel:
        for ch in self.pbx.channels.values():
            if ch.truth is not None and ch.truth.id == caller_id:
                return ch
        raise KeyError(f"caller {caller_id} has no live channel")

    def _phone(self, interface: str) -> AgentPhone:
        return self.pbx.phones[interface]

    def _phone_at(self, extension: str) -> AgentPhone:
        """The phone with this extension (looked up in an index, rebuilt when the phones
        changed: the benchmark's 5,000 phones dial a feature code each, often)."""
        phone = self._by_extension.get(extension)
        if phone is None or phone.extension != extension or \
                self.pbx.phones.get(phone.interface) is not phone:
            self._by_extension = {p.extension: p for p in self.pbx.phones.values()}
            phone = self._by_extension.get(extension)
            if phone is None:
                raise KeyError(f"no phone with extension {extension!r}")
        return phone

    def hangup_caller(self, caller_id: str) -> None:
        self.pbx.remote_hangup(self._caller_channel(caller_id))
        self.pbx.changed()

    def press(self, caller_id: str, digits: str) -> None:
        dtmf.press(self.pbx, self._caller_channel(caller_id), digits)

    def agent_answer(self, interface: str) -> None:
        """The agent picks up the ringing phone (rung by Originate, Dial() or Queue())."""
        ch = self._phone(interface).channel
        if ch is None or ch.state == 6 or ch.answer_cb is None:
            return
        ch.answer_cb()
        self.pbx.changed()

    def agent_hangup(self, interface: str) -> None:
        ch = self._phone(interface).channel
        if ch is not None:
            self.pbx.remote_hangup(ch)
            self.pbx.changed()

    def dial_feature(self, extension: str, code: str, digits: str = "",
                     *more: str | None) -> str:
        """The phone with ``extension`` dials a feature code; ``digits`` go to the first
        Read(), each of ``more`` to the next one (None or "": a time-out)."""
        phone = self._phone_at(extension)
        pbx = self.pbx
        uid = pbx.new_uniqueid()
        ch = Channel(
            name=pbx.new_channel_name(phone.interface), uniqueid=uid, linkedid=uid,
            kind="feature", cid_num=phone.extension, cid_name=phone.name,
            context=pbx.phone_context, exten=code, created_at=self.clock.now(),
        )
        ch.inputs = [digits or None, *(m or None for m in more)]
        pbx.channels[ch.name] = ch
        pbx.chan_event("Newchannel", ch)
        pbx.set_state(ch, 4)
        pbx.run(ch)
        return ch.name

    def set_global(self, name: str, value: str) -> None:
        self.pbx.globals[name] = value

    # ---- inspection ------------------------------------------------------------------------
    def channels(self) -> list[dict[str, Any]]:
        return [
            {"name": c.name, "uniqueid": c.uniqueid, "kind": c.kind, "state": c.state,
             "context": c.context, "exten": c.exten, "priority": c.priority,
             "application": c.application, "bridged": c.bridge is not None}
            for c in self.pbx.channels.values()
        ]

    def truth(self) -> list[dict[str, Any]]:
        return [t.as_dict() for t in self._truth.values()]

    def write_truth(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.truth(), indent=1) + "\n", encoding="utf-8")

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait (real time) until ``predicate()`` holds; raises TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise TimeoutError("condition not reached")
            await asyncio.sleep(0.005)
