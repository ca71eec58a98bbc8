"""Warm transfers (issue 9): a consultation with the target while the caller holds, then
complete or cancel. The steps and the PBX side, with the agent-first call path (contract.py):

- start: the store holds the agent consulted for the call (reserved); then one Redirect with
  ExtraChannel moves the caller C to `acd-hold` (ACD_DONE cleared: music) and the first agent's
  leg L to `acd-consult` (a wait loop), and the consulted agent's leg T is originated into
  `acd-agent` with ACD_CALLER = L and ACD_CONSULT = 1: once answered, its Bridge() pulls L out
  of its wait and the two agents talk.
- complete (or the first agent hangs up): the store hands the call to the agent consulted
  (transfer_agent.lua, 'warm'); the first agent wraps up. If T answered: ACD_CONSULT cleared,
  ACD_CALLER = C and a Redirect of T to `acd-agent`, whose Bridge() pulls C out of its music;
  once T and C are bridged, ACD_DONE = 1 on C and L is hung up. If T still rings: its
  ACD_CALLER is set to C before it answers, L is hung up, and the call rings T like any call
  (a ring-no-answer requeues it).
- cancel (or T hangs up, does not answer, or cannot be reached): the store releases T; T's leg
  is hung up and L re-runs `acd-agent` (ACD_CALLER = C): C is back with the first agent.
- the caller hangs up: the consultation ends, both agent legs are hung up, the call ends.

Every step changes the store first, then the PBX. The BridgeEnter events (the only reliable
sequencing point, see the traces) say when a join happened.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from acd import contract
from acd.api.backend import CommandError
from acd.core import routing, transfer
from acd.core.events import ChannelBridged, ChannelHungUp, ConsultOverdue, OriginateFailed
from acd.core.model import AgentState, Call, CallState
from acd.core.phone_tag import phone_tag
from acd.service import actions

if TYPE_CHECKING:
    from acd.service.engine import Engine
    from acd.service.transfers import Transfers

log = logging.getLogger("acd.transfers")


class Consults:
    def __init__(self, engine: Engine, transfers: Transfers) -> None:
        self.e = engine
        self.t = transfers
        self.legs: dict[str, str] = {}  # consult leg -> call id
        # leg -> (call id, channel to hang up): a leg about to be bridged with the caller
        # again; once it is, ACD_DONE goes back to 1 (and the first agent's leg is dropped).
        self.joins: dict[str, tuple[str, str]] = {}

    def knows(self, leg_id: str) -> bool:
        """A channel of a warm transfer (its consultation leg, or a leg about to rejoin)."""
        return leg_id in self.legs or leg_id in self.joins

    def rebuild(self) -> None:
        """After a (re)start: the consultations found in Redis."""
        self.legs = {c.consult_leg: c.id for c in self.e.calls.values() if c.consult_leg}

    # --- commands ----------------------------------------------------------------------------
    async def start(self, call_id: str, *, queue: str | None = None,
                    agent: str | None = None) -> Call:
        call = self.t.connected(call_id)
        if not call.leg_channel:
            raise CommandError("not_connected", f"call {call_id}: its agent leg's channel is "
                               "not known (answered before this version): blind only")
        target = self._target(call, queue, agent)
        leg_id = self.e.new_leg_id(call)
        done = await self.e.store.consult_start(call.id, target, leg_id, queue or "",
                                                self.e.now())
        h = self.e.handlers
        if done.call is not None:
            h.put_call(done.call)
        h.put_agent(done.target)
        if done.refused:
            raise CommandError(done.refused, f"call {call_id}: cannot consult {target} now")
        assert done.call is not None and done.target is not None
        self.legs[leg_id] = call.id
        ring_s = self.e.cfg.queues[queue or call.queue].ring_timeout_s
        from acd.service.handlers import RING_GRACE_S

        self.e.set_timer(("consult", call.id), ring_s + RING_GRACE_S,
                         ConsultOverdue(call.id, leg_id))
        await self.e.send(actions.setvar(call.channel, contract.VAR_DONE, ""))
        await self.e.send(actions.redirect_both(call.channel, contract.CTX_HOLD,
                                                call.leg_channel, contract.CTX_CONSULT))
        self.e.spawn(self._ring(done.call, leg_id, ring_s, call.leg_channel), "originate")
        log.info("call %s: agent %s consults %s (warm transfer%s)", call.id, call.agent_id,
                 target, f" to queue {queue}" if queue else "",
                 extra={"call_id": call.id, "agent_id": call.agent_id})
        return done.call

    def _target(self, call: Call, queue: str | None, agent: str | None) -> str:
        """The agent to consult: the one named, or the best ready agent of the queue."""
        if agent is not None:
            found = self.e.agents.get(agent)
            if found is None:
                raise CommandError("unknown_agent", f"no agent {agent!r} on this call's PBX",
                                   404)
            if agent == call.agent_id:
                raise CommandError("same_agent", f"agent {agent} already has call {call.id}")
            if found.state is not AgentState.READY:
                raise CommandError("agent_not_ready", f"agent {agent} is {found.state.value}")
            return agent
        assert queue is not None
        self.t.queue_named(queue)
        probe = dataclasses.replace(call, queue=queue, state=CallState.WAITING,
                                    required=transfer.required_in(self.e.cfg, call, queue,
                                                                  "warm"))
        ready = [a for a in self.e.mirror.ready_agents() if a.id != call.agent_id]
        best = routing.best_agent_for_call(probe, ready, self.e.now(), self.e.rules,
                                           self.e.agents)
        if best is None:
            raise CommandError("no_agent_ready", f"no agent of queue {queue} is ready to be "
                               "consulted: transfer blind, or later")
        return best.id

    async def _ring(self, call: Call, leg_id: str, ring_s: float, first_leg: str) -> None:
        agent = self.e.agents[call.consult_agent]
        qcfg = self.e.cfg.queues.get(call.consult_queue or call.queue)
        tag = phone_tag(qcfg.phone_tag, qcfg.phone_tag_max, call) if qcfg is not None else None
        if not await self.e.send(actions.ring_consult(call, agent, leg_id, ring_s, first_leg,
                                                      tag)):
            self.e.inbox.put_nowait(OriginateFailed(leg_id, reason=-1))

    async def complete(self, call_id: str) -> Call:
        call = self._consulting(call_id)
        leg, answered = call.consult_leg, bool(call.consult_channel)
        target_channel = call.consult_channel or leg
        # First the leg's own variables: whatever it does next (even answer right now), its
        # Bridge() joins the caller, and it hangs up after.
        await self.e.send(actions.setvar(target_channel, contract.VAR_CONSULT, ""))
        await self.e.send(actions.setvar(target_channel, contract.VAR_CALLER, call.channel))
        done = await self.e.store.transfer_to_agent(
            call.id, call.consult_agent, leg, call.consult_queue or call.queue, self.e.now(),
            self.t.wraps(call), warm=True)
        moved = self.t.applied(call, done)
        self._forget(call)
        if answered:
            # T waits in acd-consult or is still bridged with L: it re-runs acd-agent, whose
            # Bridge() pulls the caller out of its music; L is hung up once that happened.
            self.joins[leg] = (call.id, call.leg_channel)
            await self.e.send(actions.redirect(target_channel, contract.CTX_AGENT,
                                               contract.AGENT_EXTEN))
        else:
            # T still rings: when it answers, its Bridge() joins the caller directly.
            if call.leg_channel:
                self.e.send_later(actions.hangup(call.leg_channel), quiet=True)
            self.t.ring_timer(moved, leg)
            self.t.max_wait(moved)
        log.info("call %s: warm transfer by %s to %s completed", call.id, call.agent_id,
                 moved.agent_id, extra={"call_id": call.id, "state": moved.state.value})
        return moved

    async def cancel(self, call_id: str, result: str = "canceled",
                     agent_state: AgentState = AgentState.READY, reason: str = "") -> Call:
        """The call goes back to its agent; the agent consulted to `agent_state`."""
        call = self._consulting(call_id)
        leg = call.consult_leg
        done = await self.e.store.consult_end(call.id, leg, result, self.e.now(), agent_state,
                                              reason)
        h = self.e.handlers
        if done.call is not None:
            h.put_call(done.call)
        h.put_agent(done.target)
        if done.refused:
            raise CommandError(done.refused, f"call {call_id}: the warm transfer ended "
                               "meanwhile")
        assert done.call is not None
        self._forget(call)
        self.e.send_later(actions.hangup(call.consult_channel or leg), quiet=True)
        self.joins[call.leg_id] = (call.id, "")
        await self.e.send(actions.setvar(call.leg_channel, contract.VAR_CALLER, call.channel))
        await self.e.send(actions.redirect(call.leg_channel, contract.CTX_AGENT,
                                           contract.AGENT_EXTEN))
        log.info("call %s: warm transfer to %s %s; back with %s", call.id, call.consult_agent,
                 result, call.agent_id, extra={"call_id": call.id})
        return done.call

    def _consulting(self, call_id: str) -> Call:
        call = self.e.calls.get(call_id)
        if call is None:
            raise CommandError("unknown_call", f"no live call {call_id!r}", 404)
        if call.state is not CallState.CONNECTED or not call.consult_agent:
            raise CommandError("no_consultation", f"call {call_id} has no warm transfer in "
                               "progress")
        return call

    def _forget(self, call: Call) -> None:
        self.legs.pop(call.consult_leg, None)
        self.e.cancel_timer(("consult", call.id))

    # --- events (called first by the handlers; True: the event was about a consultation) ----
    async def on_bridged(self, ev: ChannelBridged) -> bool:
        join = self.joins.pop(ev.uniqueid, None)
        if join is not None:  # the caller is bridged with its agent again
            call_id, drop = join
            call = self.e.calls.get(call_id)
            if call is not None:
                self.e.send_later(actions.setvar(call.channel, contract.VAR_DONE, "1"))
            if drop:
                self.e.send_later(actions.hangup(drop), quiet=True)
            return True
        call = self.e.calls.get(self.legs.get(ev.uniqueid, ""))
        if call is None or call.consult_leg != ev.uniqueid:
            return False
        self.e.cancel_timer(("consult", call.id))
        done = await self.e.store.consult_answered(call.id, ev.uniqueid, ev.channel,
                                                   self.e.now())
        if done.call is not None:
            self.e.handlers.put_call(done.call)
        self.e.handlers.put_agent(done.target)
        return True

    async def on_hangup(self, ev: ChannelHungUp) -> bool:
        call = self.e.calls.get(self.legs.get(ev.uniqueid, ""))
        if call is not None and call.consult_leg == ev.uniqueid:
            # The agent consulted hung up, or its phone rang out: back to the first agent.
            answered = bool(call.consult_channel)
            await self._end_quietly(call, "declined" if answered else "rona",
                                    AgentState.READY if answered else AgentState.NOT_READY,
                                    "" if answered else "rona")
            return True
        call_id = self.e.leg_to_call.get(ev.uniqueid)
        call = self.e.calls.get(call_id) if call_id else None
        if call is not None and call.consult_agent and call.leg_id == ev.uniqueid:
            # The first agent hung up during the consultation: that completes the transfer.
            call.leg_channel = ""  # gone: nothing to hang up later
            try:
                await self.complete(call.id)
            except CommandError as exc:
                log.warning("call %s: completing the warm transfer failed: %s", call.id,
                            exc.message, extra={"call_id": call.id})
            return True
        return False

    async def on_originate_failed(self, ev: OriginateFailed) -> bool:
        call = self.e.calls.get(self.legs.get(ev.uniqueid, ""))
        if call is None or call.consult_leg != ev.uniqueid:
            return False
        await self._end_quietly(call, "rona" if ev.reason == 3 else "agent_unreachable",
                                AgentState.NOT_READY,
                                "rona" if ev.reason == 3 else "agent_unreachable")
        return True

    async def overdue(self, ev: ConsultOverdue) -> None:
        call = self.e.calls.get(ev.call_id)
        if call is None or call.consult_leg != ev.leg_id or call.consult_channel:
            return
        await self._end_quietly(call, "rona", AgentState.NOT_READY, "rona")

    async def call_ending(self, call: Call) -> None:
        """The call ends (the caller hung up) during a consultation: release the agent
        consulted and hang up both agent legs."""
        if not call.consult_agent:
            return
        leg = call.consult_leg
        done = await self.e.store.consult_end(call.id, leg, "caller_gone", self.e.now())
        self.e.handlers.put_agent(done.target)
        self._forget(call)
        self.e.send_later(actions.hangup(call.consult_channel or leg), quiet=True)
        if call.leg_channel:
            self.e.send_later(actions.hangup(call.leg_channel), quiet=True)

    async def _end_quietly(self, call: Call, result: str, state: AgentState,
                           reason: str) -> None:
        try:
            await self.cancel(call.id, result, state, reason)
        except CommandError as exc:
            log.warning("call %s: ending the warm transfer failed: %s", call.id, exc.message,
                        extra={"call_id": call.id})
