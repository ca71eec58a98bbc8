"""The callback that keeps its place, on the engine's side.

1. Offer: when a waiting caller's EWT is over the queue's `offer_over_ewt_s` (or its queue's
   admission says `callback`), acd sets ACD_OFFER once; the hold loop (acd-offer) plays the
   prompt and reads one key.
2. Request: the key raises UserEvent AcdCallback (Action: request). acd books it in the store
   (callback_request.lua: the call stays waiting with its score, i.e. its place, and now has a
   number to call back), then redirects the caller to acd-callback-ok (confirmation, hang up).
   The caller's Hangup is then not an abandon: the call lives on without a line. If acd never
   answers (it is away), the caller simply stays in the hold loop.
3. Its turn: the router gives it to an agent like any waiting call; Handlers.connect claims the
   pair and hands over here (`ring`): the agent leg is originated first, into acd-callback,
   which dials the customer (ACD_CB_DIAL) once the agent answered. The agent leg entering the
   bridge with the customer is the answer (answer.lua counts it, with the virtual wait).
4. Not reached (UserEvent AcdCallback, Action: result, Status: ${DIALSTATUS}): one more failed
   attempt (callback_attempt.lua); with attempts left the call waits out of its queue
   (scheduled) and its agent is ready again; at `retry_at` (a timer, re-armed after a restart
   from the stored retry_at) callback_due.lua puts it back at its place. After the last one the
   call ends with outcome callback_failed. An agent who does not answer is a ring-no-answer as
   for any call: the callback goes back to its place at once, without counting an attempt.

Everything is in Redis, so a restart (or another instance taking the call over) finds the
callback where it was; see `reconcile`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from acd import contract
from acd.config_policies import CallbackConfig
from acd.core.callback import (
    NOT_REACHED,
    callback_number,
    dial_string,
    next_attempt_at,
    pack_offer,
    should_offer,
)
from acd.core.events import (
    CallbackDue,
    CallbackRequested,
    CallbackResult,
    OriginateFailed,
    RingOverdue,
)
from acd.core.model import Agent, Call, CallOutcome, CallState
from acd.service import actions
from acd.stats.ewt_batch import Placed

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.flow")
RING_GRACE_S = 15.0  # as Handlers: after the ring timeouts, how long to wait for an outcome


class Callbacks:
    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self._offered: set[str] = set()
        self.rung = 0  # agent legs originated for callbacks

    def config(self, queue: str) -> CallbackConfig | None:
        qcfg = self.e.cfg.queues.get(queue)
        return qcfg.callback if qcfg is not None else None

    def wanted(self) -> bool:
        return any(q.callback is not None and q.callback.offer
                   for q in self.e.cfg.queues.values())

    # --- 1. offers ---------------------------------------------------------------------------
    def candidates(self, calls: Iterable[Call]) -> list[Call]:
        """Waiting callers who may be offered a callback by their EWT (not offered yet)."""
        return [c for c in calls if c.id not in self._offered and not c.callback
                and (cfg := self.config(c.queue)) is not None and cfg.offer
                and callback_number(c.caller_num) is not None]

    def tick(self, calls: Iterable[Call], placed: dict[str, Placed]) -> None:
        self.e.send_all_later([self._offer(call) for call in calls
                               if (here := placed.get(call.id)) is not None
                               and should_offer(self.config(call.queue), here.ewt_s)],
                              quiet=True)

    async def offer_now(self, call: Call, queue: str) -> None:
        """Admission's action = callback: the offer at once (awaited: at entry it must be set
        before the caller reaches the hold loop)."""
        if call.id in self._offered or callback_number(call.caller_num) is None \
                or self.config(queue) is None:
            return
        await self.e.send(self._offer(call, queue), quiet=True)

    def _offer(self, call: Call, queue: str | None = None) -> actions.Action:
        cfg = self.config(queue or call.queue)
        assert cfg is not None
        self._offered.add(call.id)
        log.info("call %s: callback offered", call.id, extra={"call_id": call.id})
        return actions.setvar(call.channel, contract.VAR_OFFER,
                              pack_offer(int(self.e.now() * 1000), cfg))

    def known(self) -> list[str]:
        """The calls offered a callback (to be forgotten when gone: `forget`)."""
        return list(self._offered)

    def forget(self, gone: Iterable[str]) -> None:
        self._offered.difference_update(gone)

    # --- 2. the caller takes it ----------------------------------------------------------------
    async def request(self, ev: CallbackRequested) -> None:
        call = self.e.calls.get(ev.call_id)
        if call is None or call.state is not CallState.WAITING or call.callback:
            return  # not ours, connected meanwhile, or booked already
        cfg, number = self.config(call.queue), callback_number(call.caller_num)
        if cfg is None or number is None:
            log.warning("call %s: callback asked for but %s", call.id,
                        "its queue has no callback" if cfg is None else
                        f"its number {call.caller_num!r} cannot be called back",
                        extra={"call_id": call.id})
            return
        booked = await self.e.store.callback_request(call.id, number, self.e.now())
        if booked is None:
            return
        self.e.handlers.put_call(booked)
        self.e.cancel_timer(("maxwait", call.id))
        log.info("call %s: callback to %s booked in %s, keeping its place", call.id, number,
                 call.queue, extra={"call_id": call.id, "state": "waiting"})
        self.e.send_later(actions.redirect(call.channel, contract.CTX_CALLBACK_OK), quiet=True)

    # --- 3. its turn ---------------------------------------------------------------------------
    def ring(self, call: Call, agent: Agent, leg_id: str, ring_s: float) -> None:
        """The pair is claimed (Handlers.connect): originate the agent leg into acd-callback."""
        cfg = self.config(call.queue)
        customer_s = cfg.customer_ring_s if cfg is not None else 0
        self.e.set_timer(("ring", call.id), ring_s + customer_s + RING_GRACE_S,
                         RingOverdue(call.id, leg_id))
        if cfg is None:  # the queue lost its callback config: the leg cannot dial anyone
            log.warning("call %s: callback of queue %s has no dial string any more", call.id,
                        call.queue, extra={"call_id": call.id})
            self.e.inbox.put_nowait(CallbackResult(call.id, leg_id, "CHANUNAVAIL"))
            return
        self.rung += 1
        action: actions.Action = {
            "Action": "Originate", "Channel": agent.interface,
            "Context": contract.CTX_CALLBACK, "Exten": "s", "Priority": "1",
            "Timeout": str(int(ring_s * 1000)),
            "CallerID": f'"Callback {_safe(call.queue)}" <{call.callback}>',
            "Async": "true", "ChannelId": leg_id,
            "Variable": [f"{contract.VAR_CALL_ID}={call.id}",
                         f"{contract.VAR_AGENT_ID}={agent.id}",
                         f"{contract.VAR_CB_DIAL}={dial_string(cfg, call.callback)}",
                         f"{contract.VAR_CB_RING_S}={cfg.customer_ring_s}"],
        }
        log.info("call %s: callback attempt %d, agent %s first", call.id, call.cb_attempts + 1,
                 agent.id, extra={"call_id": call.id, "agent_id": agent.id})
        self.e.spawn(self._originate(action, leg_id), "originate")

    async def _originate(self, action: actions.Action, leg_id: str) -> None:
        if not await self.e.send(action):
            self.e.inbox.put_nowait(OriginateFailed(leg_id, reason=-1))

    # --- 4. not reached ------------------------------------------------------------------------
    async def result(self, ev: CallbackResult) -> None:
        call = self.e.calls.get(ev.call_id)
        if call is None or call.state is not CallState.RINGING or call.leg_id != ev.leg_id \
                or not call.callback or ev.status not in NOT_REACHED:
            return
        await self.not_reached(call, ev.status)

    async def not_reached(self, call: Call, status: str) -> None:
        now = self.e.now()
        cfg = self.config(call.queue)
        failed = call.cb_attempts + 1
        retry_at = next_attempt_at(cfg, failed, now) if cfg is not None else None
        self.e.cancel_timer(("ring", call.id))
        changed = await self.e.store.callback_attempt(call.id, call.leg_id, status, retry_at,
                                                      now)
        if changed is None:
            return
        updated, agent = changed
        self.e.handlers.put_call(updated)
        if retry_at is None:
            log.info("call %s: callback failed after %d attempts (%s)", call.id, failed, status,
                     extra={"call_id": call.id})
            await self.e.handlers.end(updated, CallOutcome.CALLBACK_FAILED)
            return
        self.e.handlers.put_agent(agent)
        self.e.set_timer(("cbretry", call.id), retry_at - now, CallbackDue(call.id))
        log.info("call %s: callback attempt %d not answered (%s), next in %.0f s", call.id,
                 failed, status, retry_at - now, extra={"call_id": call.id})

    async def due(self, ev: CallbackDue) -> None:
        call = self.e.calls.get(ev.call_id)
        if call is None or call.state is not CallState.SCHEDULED:
            return
        back = await self.e.store.callback_due(call.id, self.e.now())
        if back is not None:
            self.e.handlers.put_call(back)
            self.e.want_route(call_id=back.id)

    # --- after a restart or a takeover ---------------------------------------------------------
    async def reconcile(self, call: Call, channels: dict[str, dict[str, str]]) -> None:
        """A callback (no caller channel) held against what the PBX shows now."""
        h = self.e.handlers
        if call.state is CallState.SCHEDULED:
            delay = (call.retry_at or 0.0) - self.e.now()
            self.e.set_timer(("cbretry", call.id), delay, CallbackDue(call.id))
        elif call.state is CallState.RINGING:
            leg = channels.get(call.leg_id)
            if leg is None:
                # The attempt ended unseen: counted as not reached (the PBX keeps no trace of
                # whether the customer was reached), tried again later.
                await self.not_reached(call, "LOST")
            elif leg.get("BridgeId"):
                await h.bridged_leg(call, call.leg_id)  # the customer answered meanwhile
            else:
                cfg = self.config(call.queue)
                ring_s = self.e.cfg.queues[call.queue].ring_timeout_s
                self.e.set_timer(("ring", call.id), ring_s + RING_GRACE_S
                                 + (cfg.customer_ring_s if cfg else 0),
                                 RingOverdue(call.id, call.leg_id))
        elif call.state is CallState.CONNECTED and call.leg_id not in channels:
            await h.end(call, CallOutcome.ANSWERED)


def _safe(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum() or ch in " _-")
