"""What the engine does with each domain event: one method per event type (a table below).

Every state change goes to the store first; the mirror is updated from what the store returns,
so a replayed or late event (the store answers None) changes nothing and counts nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

from acd import contract
from acd.ami.link import AmiError, Frame
from acd.core import policy, wrapup
from acd.core.agent_actions import ACTIONS, FEATURE_ACTIONS
from acd.core.events import (
    AgentFeatureUsed,
    AgiCommandDone,
    AgiSessionEnded,
    AgiSessionStarted,
    ChannelBridged,
    ChannelHungUp,
    ConsultOverdue,
    DomainEvent,
    MaxWaitReached,
    OriginateFailed,
    PolicyDue,
    RingOverdue,
    StoreChanged,
    WrapupEnded,
)
from acd.core.model import Agent, AgentState, Call, CallOutcome, CallState
from acd.core.phone_tag import phone_tag
from acd.core.policy import HOLD_STATES
from acd.service import actions
from acd.service.consults import Consults
from acd.service.ivr_driver import IvrDriver
from acd.service.phone import PHONE_ACTIONS, PhoneCommands
from acd.service.recording import Recorder
from acd.service.transfers import Transfers
from acd.service.wrapups import Wrapups
from acd.store import ClaimReason, ClaimResult, Prepared, StateChange
from acd.store.callers import LastAnswer

if TYPE_CHECKING:
    from acd.service.engine import Engine

# A state change asked of one agent: (agent id, new state, reason, allowed from (None: any)).
StateRequest = tuple[str, AgentState, str, frozenset[AgentState] | None]


@dataclass(frozen=True, slots=True)
class EventStep:
    """An event whose whole effect is one prepared store step (Handlers.step_for)."""

    touches: frozenset[str]  # "call:<id>", "agent:<id>": steps of one batch never share one
    prepared: Prepared[Any]
    finish: Callable[[Any], object]  # the mirror updated from the step's result
    # The agent as it will be if the step makes it ready: the router may claim a call for it
    # in the same round trip (Engine._run_steps)
    ready: Agent | None = None

log = logging.getLogger("acd.calls")

# Feature-code state changes: action -> (allowed from, to)
RING_GRACE_S = 15.0  # after the ring timeout, how long to wait for OriginateResponse
# The agent state a store event implies (agent_state_changed carries it in `state`, requeue and
# end in `agent_state`): when the mirror differs, another instance made the change.
_STATE = "agent_state_changed"
_AGENT_AFTER = {"call_claimed": "reserved", "call_answered": "on_call"}


class Handlers:
    # A claim that rode with the change making its agent ready, or its call waiting: refused
    # for this reason, that change did not happen (settle_claims' `unmade`).
    AGENT_UNMADE: tuple[ClaimReason, ...] = ("agent_not_ready",)
    CALL_UNMADE: tuple[ClaimReason, ...] = ("call_not_waiting",)

    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.ivr = IvrDriver(engine, self)
        self.recorder = Recorder(engine)  # MixMonitor on answer, pause / resume
        self.wrapups = Wrapups(engine)  # issue 9: wrap-up codes
        self.phone = PhoneCommands(engine)  # issue 9: wrap-up and transfers from the phone
        self.transfers = Transfers(engine)  # issue 9: transfers, escalation
        self.consults = Consults(engine, self.transfers)  # issue 9: warm transfers
        self._table: dict[type, Callable[[Any], Awaitable[None]]] = {
            AgiSessionStarted: self.ivr.started,
            AgiCommandDone: self.ivr.command_done,
            AgiSessionEnded: self.ivr.session_ended,
            ChannelHungUp: self.hung_up,
            ChannelBridged: self.bridged,
            OriginateFailed: self.originate_failed,
            AgentFeatureUsed: self.feature,
            WrapupEnded: self.wrapup_ended,
            MaxWaitReached: self.max_wait,
            PolicyDue: self.policy_due,
            RingOverdue: self.ring_overdue,
            StoreChanged: self.store_changed,
            ConsultOverdue: self.consults.overdue,
        }
        self._table.update(engine.flow.handlers())

    async def apply(self, event: DomainEvent) -> None:
        await self._table[type(event)](event)

    # --- mirror ------------------------------------------------------------------------------
    def put_call(self, call: Call) -> None:
        if call.state is CallState.ENDED:
            self.e.cancel_timer(("maxwait", call.id))
        self.e.mirror.set_call(call)
        self.watch_policies(call)

    def put_agent(self, agent: Agent | None) -> None:
        if agent is None:
            return
        if self.e.mirror.set_agent(agent):
            self.e.want_route(agent_id=agent.id)
        if agent.state not in HOLD_STATES:  # calls held for it may go to others now
            for call_id in self.e.mirror.by_last_agent.get(agent.id, ()):
                self.e.want_route(call_id=call_id)

    def watch_policies(self, call: Call) -> None:
        """Wake the router when the call's routing policies next change who may take it."""
        due = (policy.next_change(call, self.e.now(), self.e.rules)
               if call.state is CallState.WAITING else None)
        if due is None:
            self.e.cancel_timer(("policy", call.id))
        else:
            self.e.set_timer(("policy", call.id), due - self.e.now(), PolicyDue(call.id))

    async def policy_due(self, ev: PolicyDue) -> None:
        call = self.e.calls.get(ev.call_id)
        if call is not None and call.state is CallState.WAITING:
            self.watch_policies(call)
            self.e.want_route(call_id=call.id)

    # --- queueing ----------------------------------------------------------------------------
    async def enqueue(self, call: Call, queue: str, priority: int, required: dict[str, int],
                      ewt_pred_s: float | None, last: LastAnswer | None) -> None:
        """`last`: the caller's last answered call (store.last_answer), read beforehand."""
        now = self.e.now()
        qcfg = self.e.cfg.queues[queue]
        sticky = qcfg.routing
        last_agent = call.last_agent
        if (last is not None and sticky.last_agent_s > 0 and last.agent_id in self.e.cfg.agents
                and now - last.at <= sticky.last_agent_within_h * 3600):
            await self.e.store.update_call(call.id, last_agent=last.agent_id)
            last_agent = last.agent_id
        # The call as it will wait: if a ready agent is for it, it is claimed for that agent
        # in the enqueue's own round trip (a call the store has no hint for goes the plain way).
        enqueue = self.e.store.prepare_enqueue(call.id, queue, priority, required, now, now,
                                               ewt_pred_s)
        agent = None if enqueue is None else self.e.router.ahead_of_call(replace(
            call, state=CallState.WAITING, queue=queue, priority=priority, required=required,
            entered_at=now, last_agent=last_agent))
        if agent is not None and enqueue is not None:
            queued = await self._enqueue_claiming(call, agent, enqueue, queue, now)
        else:
            queued = await self.e.store.enqueue(call.id, queue, priority, required, now, now,
                                                ewt_pred_s)
            if queued is not None:
                self.put_call(queued)
        if queued is None:
            return
        if last is not None:
            await self.e.store.count_repeat(call.id, call.caller_num, now,
                                            self.e.cfg.repeat_window_h * 3600)
        self.e.set_timer(("maxwait", call.id), qcfg.max_wait_s, MaxWaitReached(call.id))
        log.info("call %s queued in %s priority %d", call.id, queue, priority,
                 extra={"call_id": call.id, "state": "waiting"})
        self.e.want_route(call_id=call.id)

    async def _enqueue_claiming(self, call: Call, agent: Agent,
                                enqueue: Prepared[Call | None], queue: str, now: float
                                ) -> Call | None:
        """The call enqueued and claimed for `agent` (a ready agent no waiting call was for:
        Router.ahead_of_call) in one round trip, the claim after the enqueue; the mirror
        updated with both. A claim refused because the call was not waiting after all (the
        enqueue refused, or redone after a stale hint) changed nothing: the router's ordinary
        round takes the call."""
        leg = self.e.new_leg_id(call)
        claim = self.e.store.prepare_claim_in(call.id, agent.id, leg, now, queue, lean=True)
        oks: list[bool | None] = []
        try:
            queued, claimed = await self.e.store.run_prepared([enqueue, claim])
            if isinstance(queued, Exception):
                raise queued
            if queued is not None:
                self.put_call(queued)
            oks = await self.settle_claims([(call, agent, leg)], [claimed],
                                           unmade=self.CALL_UNMADE)
        finally:
            self.e.router.release([(call, agent)], oks)
        return cast("Call | None", queued)

    async def connect(self, call: Call, agent: Agent) -> bool:
        """Claim the pair in Redis, then ring the agent. False when the claim was lost."""
        return (await self.connect_many([(call, agent)]))[0]

    async def connect_many(self, pairs: list[tuple[Call, Agent]]) -> list[bool]:
        """connect() of several pairs (distinct calls and agents), claimed in one store round
        trip. False for each pair whose claim was lost."""
        claims = [(call, agent, self.e.new_leg_id(call)) for call, agent in pairs]
        results = await self.e.store.claim_many(
            [(call.id, agent.id, leg) for call, agent, leg in claims], self.e.now(), lean=True)
        return [ok is True for ok in await self.settle_claims(claims, results)]

    def prepare_claims(self, pairs: list[tuple[Call, Agent]]
                       ) -> tuple[list[tuple[Call, Agent, str]], list[Prepared[ClaimResult]]]:
        """The claims of the pairs, prepared to go in a round trip with other steps (those of
        calls the store has no hint for are left out: the router's next round has them)."""
        claims: list[tuple[Call, Agent, str]] = []
        prepared: list[Prepared[ClaimResult]] = []
        now = self.e.now()
        for call, agent in pairs:
            leg = self.e.new_leg_id(call)
            step = self.e.store.prepare_claim(call.id, agent.id, leg, now, lean=True)
            if step is not None:
                claims.append((call, agent, leg))
                prepared.append(step)
        return claims, prepared

    async def settle_claims(self, claims: list[tuple[Call, Agent, str]],
                            results: Sequence[ClaimResult | Exception], *,
                            unmade: Collection[ClaimReason] = ()) -> list[bool | None]:
        """The store's answers to claims: a won one updates the mirror and rings the agent
        (the Originates of the round sent together); a lost one refreshes the pair from the
        store. `unmade`: refusals that mean the step the claim rode with did not happen (the
        claim went in the round trip that made the agent ready, or the call waiting, and that
        change was refused or redone after a stale hint): those changed nothing and are None,
        and the router's ordinary round takes the agent or the call."""
        rings: list[tuple[str, actions.Action]] = []  # the Originates, sent together
        out: list[bool | None] = []
        for (call, agent, leg_id), result in zip(claims, results, strict=True):
            if isinstance(result, Exception) or not result.ok:
                if not isinstance(result, Exception) and result.reason in unmade:
                    out.append(None)
                    continue
                log.info("claim of %s for %s lost: %s", call.id, agent.id,
                         result if isinstance(result, Exception) else result.reason)
                await self._refresh(call.id, agent.id)
                out.append(False)
            else:
                claimed = await self._as_claimed(result, call.id, agent.id, leg_id)
                if claimed is None:  # gone from the store meanwhile (ended): nothing to ring
                    log.error("claimed call %s or agent %s not found", call.id, agent.id)
                    await self._refresh(call.id, agent.id)
                    out.append(False)
                    continue
                self._claimed(*claimed, leg_id, rings)
                out.append(True)
        if rings:
            self.originate(rings)
        return out

    async def _as_claimed(self, result: ClaimResult, call_id: str, agent_id: str, leg_id: str
                          ) -> tuple[Call, Agent] | None:
        """The call and agent as a won claim left them: from its reply, or (a lean claim)
        the mirror's copies with the claim's change. Those copies are the store's: every
        change of an own call or of an agent comes back into the mirror from the step that
        made it (another instance's agent changes, from the follower), and the claim found
        the call waiting and the agent ready as the mirror had them."""
        if result.call is not None and result.agent is not None:
            return result.call, result.agent
        call, agent = self.e.calls.get(call_id), self.e.agents.get(agent_id)
        if call is None or agent is None:  # (not seen: read as the store has them now)
            call, agent = await self.e.store.get_call(call_id), await self.e.store.get_agent(
                agent_id)
            return None if call is None or agent is None else (call, agent)
        return result.claimed(call, agent, leg_id)

    def _claimed(self, call: Call, agent: Agent, leg_id: str,
                 rings: list[tuple[str, actions.Action]]) -> None:
        """A won claim: the mirror updated, the agent rung (or a callback's customer dialled)."""
        self.put_call(call)
        self.put_agent(agent)
        ring_s = self.e.cfg.queues[call.queue].ring_timeout_s
        log.info("call %s rings agent %s (%s)", call.id, agent.id, agent.interface,
                 extra={"call_id": call.id, "state": "ringing"})
        if call.callback:  # no caller on the line: the agent leg dials the customer
            self.e.flow.callbacks.ring(call, agent, leg_id, ring_s)
            return
        self.e.set_timer(("ring", call.id), ring_s + RING_GRACE_S, RingOverdue(call.id, leg_id))
        rings.append(self.ring_action(call, agent, leg_id, ring_s))

    def ring_action(self, call: Call, agent: Agent, leg_id: str, ring_s: float
                     ) -> tuple[str, actions.Action]:
        qcfg = self.e.cfg.queues.get(call.queue)
        tag = phone_tag(qcfg.phone_tag, qcfg.phone_tag_max, call) if qcfg is not None else None
        return leg_id, actions.ring_agent(call, agent, leg_id, ring_s, tag)

    def originate(self, rings: list[tuple[str, actions.Action]]) -> None:
        """The Originates of one routing round, written together now (AmiLink.fire_many:
        not by a task, which would start after whatever else the loop has ready, and no task
        awaits their answers either); a failed one requeues its call (as the
        OriginateResponse of a leg that never rang would)."""
        self.e.link.fire_many([action for _leg, action in rings],
                              lambda answers: self._originated(rings, answers))

    def _originated(self, rings: list[tuple[str, actions.Action]],
                    answers: list[list[Frame] | AmiError]) -> None:
        for (leg_id, action), answer in zip(rings, answers, strict=True):
            if isinstance(answer, AmiError):
                log.warning("%s failed: %s", action.get("Action"), answer)
                self.e.inbox.put_nowait(OriginateFailed(leg_id, reason=-1))

    async def _refresh(self, call_id: str, agent_id: str) -> None:
        call = await self.e.store.get_call(call_id)
        if call is None or call.state is CallState.ENDED:
            self.e.mirror.drop_call(call_id)
        else:
            self.put_call(call)
        agent = await self.e.store.get_agent(agent_id)
        if agent is not None:
            self.e.mirror.set_agent(agent)

    async def requeue(self, call_id: str, leg_id: str, reason: str) -> None:
        """Ring-no-answer (or a failed leg): the call goes back to its place, the agent pauses."""
        self.e.cancel_timer(("ring", call_id))
        self._requeued(reason, await self.e.store.requeue(call_id, leg_id, self.e.now(),
                                                          AgentState.NOT_READY, reason))

    def _requeued(self, reason: str, changed: tuple[Call, Agent] | None) -> None:
        if changed is None:
            return
        call, agent = changed
        self.put_call(call)
        self.put_agent(agent)
        log.info("call %s back in queue %s after %s of agent %s", call.id, call.queue, reason,
                 agent.id, extra={"call_id": call.id, "state": "waiting"})
        self.e.want_route(call_id=call.id)

    async def end(self, call: Call, outcome: CallOutcome, ended_by: str = "") -> None:
        self.e.cancel_timer(("ring", call.id))
        await self.consults.call_ending(call)
        wraps = wrapup.wraps_up(self.e.cfg.queues.get(call.queue))
        result = await self.e.store.end_call(call.id, outcome, self.e.now(),
                                             1.0 if wraps else 0.0, ended_by)
        if result is None:
            self.e.mirror.drop_call(call.id)
            return
        self.put_call(result.call)
        agent = result.agent
        if agent is not None:
            self.put_agent(agent)
            self.wrapups.started(agent, call.queue)
        log.info("call %s ended: %s", call.id, outcome.value,
                 extra={"call_id": call.id, "state": "ended", "outcome": outcome.value})

    # --- AMI events --------------------------------------------------------------------------
    async def hung_up(self, ev: ChannelHungUp) -> None:
        call = self.e.calls.get(ev.uniqueid)
        if call is not None:
            if not call.callback:  # a callback's caller left the line on purpose
                await self._caller_gone(call)
            return
        if await self.consults.on_hangup(ev):  # an agent leg of a warm transfer
            return
        call_id = self.e.leg_to_call.get(ev.uniqueid)
        call = self.e.calls.get(call_id) if call_id else None
        if call is None:
            return
        if call.state is CallState.RINGING and call.leg_id == ev.uniqueid:
            await self.requeue(call.id, call.leg_id, "rona")
        elif call.state is CallState.CONNECTED:
            # The agent hung up first: the caller leaves the bridge and sees ACD_DONE.
            await self.end(call, CallOutcome.ANSWERED, ended_by="agent")

    async def _caller_gone(self, call: Call) -> None:
        if call.state is CallState.IVR:
            await self.ivr.save_path(call)
            await self.end(call, self.ivr.outcome_on_hangup(call))
        elif call.state is CallState.WAITING:
            await self.end(call, CallOutcome.ABANDONED)
        elif call.state is CallState.RINGING:
            leg = call.leg_id
            await self.end(call, CallOutcome.ABANDONED)
            self.e.send_later(actions.hangup(leg))  # stop the agent's phone ringing
        elif call.state is CallState.CONNECTED:
            await self.end(call, CallOutcome.ANSWERED, ended_by="caller")

    async def bridged(self, ev: ChannelBridged) -> None:
        if await self.consults.on_bridged(ev):  # warm transfers: consultation, rejoin
            return
        call_id = self.e.leg_to_call.get(ev.uniqueid)
        call = self.e.calls.get(call_id) if call_id else None
        if call is None or call.state is not CallState.RINGING:
            return
        await self.bridged_leg(call, ev.uniqueid, ev.channel)

    async def bridged_leg(self, call: Call, leg_id: str, channel: str = "") -> None:
        self.e.cancel_timer(("ring", call.id))
        self.e.cancel_timer(("maxwait", call.id))
        changed = await self.e.store.answer(call.id, leg_id, self.e.now(), channel)
        if changed is None:
            return
        call, agent = changed
        self.put_call(call)
        self.put_agent(agent)
        await self.e.store.remember_answer(call.caller_num, call.id, call.queue, agent.id,
                                           self.e.now(), self._remember_s(), call.reason)
        if not call.callback:  # (a callback's customer is on the agent's own Dial)
            self.e.flow.answered(call)  # post-call survey armed, if the queue has one
            # Once out of the bridge, the caller's hold loop must leave instead of playing.
            self.e.send_later(actions.setvar(call.channel, contract.VAR_DONE, "1"))
            self.recorder.answered(call, agent)
        log.info("call %s answered by %s after %.1f s", call.id, agent.id,
                 call.wait_s(self.e.now()), extra={"call_id": call.id, "state": "connected"})

    def _remember_s(self) -> float:
        """How long a caller's last answered call is worth remembering."""
        cfg = self.e.cfg
        hours = max([cfg.repeat_window_h, *(q.routing.last_agent_within_h
                                            for q in cfg.queues.values()
                                            if q.routing.last_agent_s > 0)])
        return hours * 3600

    async def originate_failed(self, ev: OriginateFailed) -> None:
        if await self.consults.on_originate_failed(ev):
            return
        call_id = self.e.leg_to_call.get(ev.uniqueid)
        call = self.e.calls.get(call_id) if call_id else None
        if call is None or call.state is not CallState.RINGING or call.leg_id != ev.uniqueid:
            return
        await self.requeue(call.id, ev.uniqueid, "rona" if ev.reason == 3 else "agent_unreachable")

    async def ring_overdue(self, ev: RingOverdue) -> None:
        call = self.e.calls.get(ev.call_id)
        if call is None or call.state is not CallState.RINGING or call.leg_id != ev.leg_id:
            return
        self.e.send_later(actions.hangup(ev.leg_id))
        await self.requeue(call.id, ev.leg_id, "rona")

    async def max_wait(self, ev: MaxWaitReached) -> None:
        call = self.e.calls.get(ev.call_id)
        if call is None or call.state is not CallState.WAITING or call.callback:
            return
        # Hand the caller to the PBX's own queue rather than keep it waiting forever.
        await self.e.send(actions.redirect(call.channel, contract.CTX_FALLBACK))
        await self.end(call, CallOutcome.TIMEOUT)

    # --- changes seen in the store (any instance) --------------------------------------------
    async def store_changed(self, ev: StoreChanged) -> None:
        f = ev.fields
        kind, call_id, agent_id = f.get("type", ""), f.get("call", ""), f.get("agent", "")
        agent = self.e.agents.get(agent_id)
        expected = _AGENT_AFTER.get(kind, "") or f.get("state" if kind == _STATE else
                                                       "agent_state", "")
        if agent is not None and expected and agent.state.value != expected:
            fresh = await self.e.store.get_agent(agent_id)  # changed by another instance
            if fresh is not None:
                self.put_agent(fresh)
        to_agent = self.e.agents.get(f.get("to_agent", ""))  # issue 9: a transfer's target
        if to_agent is not None and call_id not in self.e.calls:
            fresh = await self.e.store.get_agent(to_agent.id)
            if fresh is not None:
                self.put_agent(fresh)
        if call_id and call_id not in self.e.calls:
            await self._foreign_call(kind, call_id)

    async def _foreign_call(self, kind: str, call_id: str) -> None:
        if kind in ("call_queued", "call_requeued", "call_priority_changed",
                    "call_overflowed", "callback_due", "callback_attempt_failed",
                    "call_transferred"):
            call = await self.e.store.get_call(call_id)
            if call is not None:
                self.e.mirror.set_foreign(call)  # kept only while it waits
        elif kind in ("call_claimed", "call_answered", "call_ended"):
            self.e.mirror.drop_foreign(call_id)

    # --- agents ------------------------------------------------------------------------------
    async def feature(self, ev: AgentFeatureUsed) -> None:
        agent_id = self.e.agent_by_ext.get(ev.extension)
        if agent_id is not None and ev.action in PHONE_ACTIONS:
            await self.phone.handle(agent_id, ev)
            return
        change = self.state_feature(ev)
        if change is None:
            log.warning("feature code %r from unknown extension %r ignored", ev.action,
                        ev.extension)
            return
        await self.set_agent_state(*change)

    def state_feature(self, ev: AgentFeatureUsed) -> StateRequest | None:
        """The state change a feature code asks for (login, pause, ...); None for another
        code, or an unknown extension."""
        agent_id = self.e.agent_by_ext.get(ev.extension)
        action = FEATURE_ACTIONS.get(ev.action)
        if agent_id is None or action is None or ev.action in PHONE_ACTIONS:
            return None
        target, allowed = ACTIONS[action]
        reason = "" if target is not AgentState.NOT_READY else (
            f"code {ev.reason}" if ev.reason else "break")
        return agent_id, target, reason, allowed

    def is_noop(self, ev: DomainEvent) -> bool:
        """An event that changes nothing here (the end of a channel acd does not know, such as
        the agent's own feature-code call): it may be applied at any point of a batch."""
        return (isinstance(ev, ChannelHungUp) and ev.uniqueid not in self.e.calls
                and ev.uniqueid not in self.e.leg_to_call and not self.consults.knows(ev.uniqueid))

    async def set_agent_state(self, agent_id: str, state: AgentState, reason: str = "",
                              allowed: frozenset[AgentState] | None = None) -> Agent | None:
        change = self._state_change(agent_id, state, reason, allowed)
        agent = await self.e.store.set_agent_state(agent_id, state, self.e.now(), reason, allowed,
                                                   change.needs_code)
        return self._state_changed(change, agent)

    def step_for(self, ev: DomainEvent) -> EventStep | None:
        """The event as one prepared store step, when that is all it does: an agent's state
        change by feature code, or the ring-no-answer of a leg (its hangup while ringing).
        Such events of distinct calls and agents go to the store together (Engine)."""
        if isinstance(ev, AgentFeatureUsed):
            request = self.state_feature(ev)
            if request is None:
                return None
            if request[3] is not None and not request[3]:
                return None  # allowed from no state: set_agent_state() says so
            change = self._state_change(*request)
            now = self.e.now()
            return EventStep(frozenset({f"agent:{change.agent_id}"}),
                             self.e.store.prepare_state(change, now),
                             lambda agent: self._state_changed(change, agent),
                             self._ready_after(change, now))
        if not isinstance(ev, ChannelHungUp) or ev.uniqueid in self.e.calls \
                or self.consults.knows(ev.uniqueid):
            return None
        call = self.e.calls.get(self.e.leg_to_call.get(ev.uniqueid, ""))
        if call is None or call.state is not CallState.RINGING or call.leg_id != ev.uniqueid \
                or call.consult_agent:
            return None
        prepared = self.e.store.prepare_requeue(call.id, call.leg_id, self.e.now(),
                                                AgentState.NOT_READY, "rona")
        if prepared is None:
            return None
        self.e.cancel_timer(("ring", call.id))
        return EventStep(frozenset({f"call:{call.id}", f"agent:{call.agent_id}"}), prepared,
                         lambda changed: self._requeued("rona", changed))

    def _state_change(self, agent_id: str, state: AgentState, reason: str,
                      allowed: frozenset[AgentState] | None) -> StateChange:
        if state is not AgentState.WRAP_UP:
            self.e.cancel_timer(("wrapup", agent_id))
        return StateChange(agent_id, state, reason, allowed,
                           self.wrapups.needs_code(self.e.agents.get(agent_id)))

    def _ready_after(self, change: StateChange, now: float) -> Agent | None:
        """The agent as the change would leave it, when it makes it ready (as set_agent_state.lua
        does: a new state_since, and ready_since unless it was ready already)."""
        agent = self.e.agents.get(change.agent_id)
        if change.state is not AgentState.READY or agent is None \
                or agent.state in (AgentState.RESERVED, AgentState.ON_CALL):
            return None
        return replace(agent, state=AgentState.READY, reason=change.reason, state_since=now,
                       ready_since=agent.ready_since if agent.state is AgentState.READY else now,
                       call_id="", leg_id="")

    def _state_changed(self, change: StateChange, agent: Agent | None) -> Agent | None:
        if agent is None:
            log.info("agent %s: change to %s refused", change.agent_id, change.state.value)
            return None
        self.put_agent(agent)
        log.info("agent %s is %s %s", change.agent_id, change.state.value, change.reason,
                 extra={"agent_id": change.agent_id, "state": change.state.value})
        return agent

    async def wrapup_ended(self, ev: WrapupEnded) -> None:
        await self.set_agent_state(ev.agent_id, AgentState.READY,
                                   allowed=frozenset({AgentState.WRAP_UP}))
