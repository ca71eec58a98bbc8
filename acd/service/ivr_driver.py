"""Runs the pure IVR step machine (acd.core.ivr) over AsyncAGI: one AGI command at a time.

Each AGI command carries a CommandID `<call id>/<n>`; its AsyncAGIExec result is fed back to the
flow. The flow's end is a queue entry (Redirect to the hold loop, then enqueue) or an end of the
call (optional prompt, then AGI HANGUP).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from acd import contract
from acd.core import ivr
from acd.core.agi import AgiParseError, hangup, parse_agi_result, stream_file
from acd.core.dnis import FlowIndex
from acd.core.events import AgiCommandDone, AgiSessionEnded, AgiSessionStarted
from acd.core.model import Call, CallOutcome, CallState
from acd.service import actions

if TYPE_CHECKING:
    from acd.service.engine import Engine
    from acd.service.handlers import Handlers

log = logging.getLogger("acd.ivr")


class IvrDriver:
    def __init__(self, engine: Engine, handlers: Handlers) -> None:
        self.e = engine
        self.h = handlers
        self.states: dict[str, ivr.IvrState] = {}
        self.awaiting: dict[str, str] = {}  # call id -> CommandID whose result we wait for
        self.ending: dict[str, str] = {}  # call id -> why the IVR ends the call
        self.hangup_sent: set[str] = set()
        self.last_command: dict[str, str] = {}
        self._seq = 0
        self._flows: tuple[object, FlowIndex] | None = None

    def _flow_of(self, dnis: str) -> str | None:
        """The flow for a dialled number (the index is made again when the config is)."""
        flows = self.e.cfg.flows
        if self._flows is None or self._flows[0] is not flows:
            self._flows = (flows, FlowIndex(flows))
        return self._flows[1].select(dnis)

    async def started(self, ev: AgiSessionStarted) -> None:
        if ev.uniqueid in self.e.calls:
            return  # a replay after a reconnect: the call is already ours
        from acd.service.engine import CALL_LEASE_MS

        now = self.e.now()
        call = Call(id=ev.uniqueid, channel=ev.channel, uniqueid=ev.uniqueid,
                    caller_num=ev.caller_num, dnis=ev.dnis, pbx=self.e.cfg.pbx.name,
                    arrived_at=now, language=ev.language)
        # The lease (one instance drives the call) and the call, in one round trip.
        created = await self.e.store.create_leased_call(call, self.e.instance_id, CALL_LEASE_MS)
        if created == "leased":
            return  # another instance drives this call
        if created == "exists":
            known = await self.e.store.get_call(call.id)  # ours, from an earlier attempt
            if known is not None and known.state is CallState.IVR:
                self.e.handlers.put_call(known)
                await self.resume(known)
            return
        self.e.mirror.set_call(call)
        self.e.driven += 1
        flow = self._flow_of(ev.dnis)
        log.info("call %s from %s to %s: flow %s", call.id, ev.caller_num, ev.dnis, flow,
                 extra={"call_id": call.id, "state": "ivr"})
        if flow is None:
            # No flow for this number: let the dialplan continue to its fallback.
            self.ending[call.id] = "no_flow"
            await self._agi(call, "ASYNCAGI BREAK")
            await self.h.end(call, CallOutcome.FALLBACK)
            return
        state, commands = ivr.start(self.e.cfg, flow, ev.caller_num, now)
        await self._run(call, state, commands)

    async def _run(self, call: Call, state: ivr.IvrState, commands: list[ivr.Command]) -> None:
        while True:
            self.states[call.id] = state
            if not commands:
                return
            cmd = commands[0]
            if isinstance(cmd, ivr.Agi):
                await self._agi(call, cmd.command)
                return
            if isinstance(cmd, ivr.LookupCaller):
                self._lookup(call, state, cmd)
                return
            if isinstance(cmd, ivr.LookupVip):
                is_vip = await self.e.store.is_vip(cmd.number, cmd.account)
                state, commands = ivr.on_vip_result(self.e.cfg, state, is_vip, self.e.now())
                continue
            if isinstance(cmd, ivr.ToQueue):
                await self._to_queue(call, state, cmd)
                return
            await self._end_call(call, state, cmd)
            return

    def _lookup(self, call: Call, state: ivr.IvrState, cmd: ivr.LookupCaller) -> None:
        """Ask the CRM in a task of its own (other calls' events go on meanwhile); its result
        comes back through the engine's inbox, in order with the PBX's events."""
        fields = {"caller_num": call.caller_num, "account": state.data.get("account", ""),
                  "dnis": call.dnis, "flow": state.flow}
        self.e.spawn(self._ask_crm(call.id, state.flow, state.steps, cmd, fields), "crm-lookup")

    async def _ask_crm(self, call_id: str, flow: str, step: int, cmd: ivr.LookupCaller,
                       fields: dict[str, str]) -> None:
        crm = self.e.crm
        if crm is None:  # the config check forbids it; a test engine may lack the client
            result = ivr.LookupResult("error")
        else:
            result = await crm.lookup(self.e.store, cmd.by, cmd.key, fields, call_id)
        try:
            await self.e.run_in_order(lambda: self._looked_up(call_id, flow, step, cmd, result))
        except Exception:  # e.g. Redis away: the caller's hangup or a restart ends the call
            log.exception("call %s: applying the CRM lookup failed", call_id)

    async def _looked_up(self, call_id: str, flow: str, step: int, cmd: ivr.LookupCaller,
                         result: ivr.LookupResult) -> None:
        await self.e.store.count_lookup(flow, cmd.node, result.outcome, self.e.now())
        call = self.e.calls.get(call_id)
        state = self.states.get(call_id)
        if call is None or state is None or call.state is not CallState.IVR \
                or state.awaiting != ivr.Awaiting.LOOKUP or state.steps != step:
            return  # the caller hung up meanwhile (counted all the same)
        log.info("call %s: CRM lookup by %s: %s", call_id, cmd.by, result.outcome,
                 extra={"call_id": call_id, "state": "ivr"})
        state, commands = ivr.on_lookup_result(self.e.cfg, state, result, self.e.now())
        await self._run(call, state, commands)

    async def _agi(self, call: Call, command: str, *, quiet: bool = False) -> None:
        self._seq += 1
        command_id = f"{call.id}/{self._seq}"
        self.awaiting[call.id] = command_id
        self.last_command[call.id] = command
        self.e.send_later(actions.agi(call.channel, command, command_id), quiet=quiet)

    async def command_done(self, ev: AgiCommandDone) -> None:
        call = self.e.calls.get(ev.uniqueid)
        if call is None or self.awaiting.get(call.id) != ev.command_id:
            return  # not ours, or a stale result
        del self.awaiting[call.id]
        if call.id in self.ending:
            await self._finish_ending(call)
            return
        state = self.states.get(call.id)
        if state is None or call.state is not CallState.IVR:
            return
        try:
            result = parse_agi_result(ev.result)
        except AgiParseError as exc:
            log.warning("call %s: unreadable AGI result %r: %s", call.id, ev.result, exc)
            result = parse_agi_result("200 result=-1")
        try:
            state, commands = ivr.on_agi_result(self.e.cfg, state, result, self.e.now())
        except ivr.IvrStateError as exc:
            log.warning("call %s: AGI result ignored: %s", call.id, exc)
            return
        await self._run(call, state, commands)

    async def _to_queue(self, call: Call, state: ivr.IvrState, cmd: ivr.ToQueue) -> None:
        self.states.pop(call.id, None)
        self.last_command.pop(call.id, None)
        found = {k: state.data[f] for k, f in (("customer_name", "customer_name"),
                                               ("crm_reason", "crm_reason")) if f in state.data}
        call.ivr_path, call.language, call.vip = list(state.path), cmd.language, cmd.vip
        call.account = state.data.get("account", "")
        call.customer_name = found.get("customer_name", "")
        call.crm_reason = found.get("crm_reason", "")
        call.reason = cmd.reason
        self.e.send_later(actions.setvar(call.channel, contract.VAR_CALL_ID, call.id))
        # The queue's admission (and the caller's EWT) is decided before the hold loop starts.
        route = await self.e.flow.route_entry(call, cmd.queue, cmd.priority, dict(cmd.skills))
        # The caller leaves AsyncAGI for the hold loop before it is queued, so that an agent
        # leg's Bridge() always finds it there. Meanwhile the IVR's fields are stored and the
        # caller's last answered call is read (last-agent routing, repeats): one wait while
        # the caller waits, not three.
        _stored, last, moved = await asyncio.gather(
            self.e.store.update_call(call.id, ivr_path=list(state.path), language=cmd.language,
                                     vip=cmd.vip, account=state.data.get("account", ""),
                                     flow=state.flow, reason=cmd.reason, **found),
            self.e.store.last_answer(call.caller_num),
            self.e.send(actions.redirect(call.channel, contract.CTX_HOLD, contract.HOLD_EXTEN)))
        if not moved:
            return  # the channel is gone: its Hangup event ends the call
        await self.h.enqueue(call, cmd.queue, cmd.priority, dict(cmd.skills),
                             route.hops[0].ewt_s, last)
        await self.e.flow.entered(call.id, route)

    async def _end_call(self, call: Call, state: ivr.IvrState, cmd: ivr.EndCall) -> None:
        self.states.pop(call.id, None)
        await self._store_path(call, state)
        self.ending[call.id] = cmd.reason
        if cmd.reason == "hangup":
            # Usually the caller is gone already; but a missing prompt file also reads as
            # result=-1, so hang up for sure rather than leave a caller in silence.
            await self._finish_ending(call)
            return
        if cmd.prompt:
            await self._agi(call, stream_file(cmd.prompt))
        else:
            await self._finish_ending(call)

    async def _finish_ending(self, call: Call) -> None:
        if self.ending.get(call.id) == "no_flow" or call.id in self.hangup_sent:
            return
        self.hangup_sent.add(call.id)
        # After a caller hangup the channel is usually gone: that failure is expected.
        await self._agi(call, hangup(), quiet=self.ending.get(call.id) == "hangup")

    async def resume(self, call: Call) -> None:
        """After a reconnect or a restart: the command in flight may be lost, so send it again;
        with no IVR state at all (a restart), the flow starts over for this caller."""
        command = self.last_command.get(call.id)
        if command is not None and call.id in self.awaiting:
            await self._agi(call, command)
            return
        if call.id in self.states or call.id in self.ending:
            return
        flow = self._flow_of(call.dnis)
        if flow is None:
            return
        log.info("call %s: IVR state lost, flow %s starts over", call.id, flow,
                 extra={"call_id": call.id, "state": "ivr"})
        state, commands = ivr.start(self.e.cfg, flow, call.caller_num, self.e.now())
        await self._run(call, state, commands)

    async def session_ended(self, ev: AgiSessionEnded) -> None:
        self.awaiting.pop(ev.uniqueid, None)

    async def save_path(self, call: Call) -> None:
        """Store how far the caller got in the IVR (the funnel counts it when the call ends)."""
        state = self.states.get(call.id)
        if state is not None:
            await self._store_path(call, state)

    async def _store_path(self, call: Call, state: ivr.IvrState) -> None:
        await self.e.store.update_call(call.id, ivr_path=list(state.path), flow=state.flow)

    def outcome_on_hangup(self, call: Call) -> CallOutcome:
        reason = self.ending.pop(call.id, None)
        self.hangup_sent.discard(call.id)
        self.last_command.pop(call.id, None)
        self.states.pop(call.id, None)
        self.awaiting.pop(call.id, None)
        return CallOutcome.IVR_HANGUP if reason in (None, "hangup") else CallOutcome.CLOSED
