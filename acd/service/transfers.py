"""Transfers and escalation on the engine's side (issue 9; the rules: acd/core/transfer.py).

How it works with the agent-first call path (the caller C waits in `acd-hold`; the agent leg L
runs `acd-agent`, whose Bridge(C) pulls C out of its music):

- blind, to a queue (and escalation): the store moves the call back to waiting in the target
  queue (transfer_queue.lua, the agent wraps up); then Setvar ACD_DONE="" and a Redirect of C
  to `acd-hold`: C leaves the bridge for its music, L's Bridge() returns and L hangs up. The
  router gives the call to the next agent as any waiting call.
- blind, to an agent: the same, except that the store reserves the target agent at once
  (transfer_agent.lua) and its leg is originated like a normal connect.
- warm (a consultation first): see `Consults` in acd/service/consults.py.

Every step changes the store first (atomic, counted once), then the PBX.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acd import contract
from acd.api.backend import CommandError
from acd.core import transfer, wrapup
from acd.core.events import MaxWaitReached, RingOverdue
from acd.core.model import AgentState, Call, CallState
from acd.core.transfer import TransferKind
from acd.service import actions
from acd.store.transfers import Transferred

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.transfers")


class Transfers:
    def __init__(self, engine: Engine) -> None:
        self.e = engine

    # --- checks ------------------------------------------------------------------------------
    def connected(self, call_id: str) -> Call:
        """The live call `call_id`, connected to an agent with no transfer in progress."""
        call = self.e.calls.get(call_id)
        if call is None:
            raise CommandError("unknown_call", f"no live call {call_id!r}", 404)
        if call.state is not CallState.CONNECTED:
            raise CommandError("not_connected", f"call {call_id} is {call.state.value}: only a "
                               "connected call can be transferred")
        if call.callback:  # the customer is on the agent leg's own Dial: no caller to move
            raise CommandError("callback_call", f"call {call_id} is a callback: the customer "
                               "is on the agent's own line and cannot be transferred")
        if call.consult_agent:
            raise CommandError("consult_in_progress", f"call {call_id}: a warm transfer to "
                               f"{call.consult_agent} is in progress (complete or cancel it)")
        return call

    def queue_named(self, queue: str) -> str:
        if queue not in self.e.cfg.queues:
            raise CommandError("unknown_queue", f"no queue {queue!r}", 404)
        return queue

    # --- blind -------------------------------------------------------------------------------
    async def to_queue(self, call_id: str, queue: str,
                       kind: TransferKind = "blind") -> Call:
        call = self.connected(call_id)
        self.queue_named(queue)
        required = transfer.required_in(self.e.cfg, call, queue, kind)
        done = await self.e.store.transfer_to_queue(
            call.id, queue, required, kind, self.e.now(), self.wraps(call))
        moved = self.applied(call, done)
        self.max_wait(moved)
        await self.back_to_hold(call)
        log.info("call %s transferred (%s) by %s from %s to queue %s", call.id, kind,
                 call.agent_id, call.queue, queue,
                 extra={"call_id": call.id, "state": "waiting"})
        self.e.want_route(call_id=moved.id)
        return moved

    async def to_agent(self, call_id: str, agent_id: str) -> Call:
        call = self.connected(call_id)
        target = self.e.agents.get(agent_id)
        if target is None:
            raise CommandError("unknown_agent", f"no agent {agent_id!r} on this call's PBX", 404)
        if agent_id == call.agent_id:
            raise CommandError("same_agent", f"agent {agent_id} already has call {call_id}")
        if target.state is not AgentState.READY:
            raise CommandError("agent_not_ready", f"agent {agent_id} is {target.state.value}")
        leg_id = self.e.new_leg_id(call)
        done = await self.e.store.transfer_to_agent(call.id, agent_id, leg_id, call.queue,
                                                    self.e.now(), self.wraps(call))
        moved = self.applied(call, done)
        self.max_wait(moved)  # if the agent does not answer, the call waits again
        await self.back_to_hold(call)
        assert done.target is not None
        self.ring(moved, leg_id)
        log.info("call %s transferred (blind) by %s to agent %s", call.id, call.agent_id,
                 agent_id, extra={"call_id": call.id, "state": "ringing"})
        return moved

    async def escalate(self, call_id: str) -> Call:
        call = self.connected(call_id)
        target = transfer.escalation_queue(self.e.cfg, call.queue)
        if target is None:
            raise CommandError("no_escalation_queue", f"queue {call.queue} has no escalation "
                               "queue (queues.NAME.escalation_queue or escalation_queue)")
        return await self.to_queue(call_id, target, "escalation")

    # --- shared steps ------------------------------------------------------------------------
    def wraps(self, call: Call) -> bool:
        return wrapup.wraps_up(self.e.cfg.queues.get(call.queue))

    def applied(self, before: Call, done: Transferred) -> Call:
        """Mirror what a transfer script did; CommandError if it refused."""
        h = self.e.handlers
        if done.refused:
            if done.call is not None:
                h.put_call(done.call)
            h.put_agent(done.target)
            what = {"agent_not_ready": "the target agent is no longer ready"}.get(
                done.refused, "the call changed meanwhile")
            raise CommandError(done.refused, f"call {before.id}: {what}")
        assert done.call is not None
        self.e.cancel_timer(("ring", before.id))
        h.put_call(done.call)
        if done.agent is not None:
            h.put_agent(done.agent)
            h.wrapups.started(done.agent, before.queue)
        h.put_agent(done.target)
        return done.call

    async def back_to_hold(self, call: Call) -> None:
        """The caller leaves the bridge for the hold loop's music (ACD_DONE cleared first, so
        the loop keeps it); the agent leg's Bridge() returns and it hangs up."""
        await self.e.send(actions.setvar(call.channel, contract.VAR_DONE, ""))
        if not await self.e.send(actions.redirect(call.channel, contract.CTX_HOLD,
                                                  contract.HOLD_EXTEN)):
            log.warning("call %s: the caller could not be moved to the hold loop (its hangup "
                        "ends the call)", call.id, extra={"call_id": call.id})

    def max_wait(self, call: Call) -> None:
        """The call's wait in its (new) queue is bounded again, from now."""
        qcfg = self.e.cfg.queues.get(call.queue)
        if qcfg is not None:
            self.e.set_timer(("maxwait", call.id), qcfg.max_wait_s, MaxWaitReached(call.id))

    def ring(self, call: Call, leg_id: str) -> None:
        """Originate the leg of the agent the call now rings, like a normal connect."""
        agent = self.e.agents[call.agent_id]
        ring_s = self.ring_timer(call, leg_id)
        h = self.e.handlers
        h.originate([h.ring_action(call, agent, leg_id, ring_s)])

    def ring_timer(self, call: Call, leg_id: str) -> float:
        """The ring of `leg_id` is given up after the queue's ring time (and a grace)."""
        from acd.service.handlers import RING_GRACE_S

        ring_s = self.e.cfg.queues[call.queue].ring_timeout_s
        self.e.set_timer(("ring", call.id), ring_s + RING_GRACE_S, RingOverdue(call.id, leg_id))
        return ring_s

    # --- from the phone ----------------------------------------------------------------------
    async def from_phone(self, agent_id: str, action: str, digits: str) -> None:
        """*56 / *57 + target, *58, *59, *50: about the call the agent is talking to."""
        agent = self.e.agents.get(agent_id)
        call = self.e.calls.get(agent.call_id) if agent is not None else None
        if call is None or call.agent_id != agent_id:
            log.warning("agent %s: phone %s ignored: no call of its own", agent_id, action,
                        extra={"agent_id": agent_id})
            return
        try:
            await self._phone(call, action, digits)
        except CommandError as exc:
            log.warning("agent %s: phone %s refused: %s", agent_id, action, exc.message,
                        extra={"agent_id": agent_id, "call_id": call.id})

    async def _phone(self, call: Call, action: str, digits: str) -> None:
        consults = self.e.handlers.consults
        if action == "escalate":
            await self.escalate(call.id)
        elif action in ("transfer", "consult"):
            target = transfer.target_of_digits(self.e.cfg, digits)
            if target is None:
                raise CommandError("unknown_target", f"{digits!r} is no queue's transfer_code "
                                   "and no agent's extension")
            kind, name = target
            if action == "consult":
                await consults.start(call.id, **{kind: name})
            elif kind == "queue":
                await self.to_queue(call.id, name)
            else:
                await self.to_agent(call.id, name)
        elif action == "complete":
            await consults.complete(call.id)
        elif action == "cancel":
            await consults.cancel(call.id)
