"""Admission and overflow, on the engine's side: the route of a new caller (decided before it
leaves the IVR, applied once it is queued) and the checks of callers already waiting.

The decisions are acd/core/admission.py's; here they become store steps and AMI actions:
- overflow: store.overflow (the call keeps its entry time; offered in both queues, overflowed in
  the old one), its max-wait timer re-armed for the new queue;
- voicemail / closed: the channel variable the context reads, a Redirect to acd-voicemail /
  acd-closed, and the call ends with outcome voicemail / closed. If the Redirect fails the
  channel is gone: its Hangup ends the call (abandoned), nothing is counted twice;
- callback: the callback offer (flow/callback.py), once; the caller waits if it does not take it.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from acd import contract
from acd.config import QueueConfig
from acd.core.admission import (
    EntryRoute,
    Refusal,
    entry_route,
    overflow_skills,
    refusal,
    someone_logged_in,
)
from acd.core.events import MaxWaitReached
from acd.core.model import Call, CallOutcome, CallState
from acd.core.routing import call_key
from acd.service import actions
from acd.stats.ewt_batch import Placed, counted_entry_ewt
from acd.stats.kinds import KindCache

if TYPE_CHECKING:
    from acd.service.engine import Engine
    from acd.service.flow.live_aht import LiveAht

log = logging.getLogger("acd.flow")

# A caller's EWT at entry costs a pass over the kinds of calls waiting (the mirror's census)
# and the agents. In centres with more than this many waiting, a queue whose policies do not
# use it gets it for a sample of its callers only (1 in ceil(waiting / SAMPLE_OVER)): the
# accuracy figures are then over that sample.
SAMPLE_OVER = 500


def needs_ewt(qcfg: QueueConfig | None) -> bool:
    """Does a policy of the queue act on a new caller's EWT?"""
    if qcfg is None:
        return False
    adm, ann, cb = qcfg.admission, qcfg.announce, qcfg.callback
    return (adm is not None and adm.max_ewt_s is not None) \
        or (ann is not None and ann.ewt and ann.on_entry) or (cb is not None and cb.offer)


_AWAY = {
    "voicemail": (contract.CTX_VOICEMAIL, contract.VAR_MAILBOX, CallOutcome.VOICEMAIL),
    "closed": (contract.CTX_CLOSED, contract.VAR_CLOSED_PROMPT, CallOutcome.CLOSED),
}


class AdmissionDriver:
    def __init__(self, engine: Engine, aht: LiveAht, kinds: KindCache,
                 offer: Callable[[Call, str], Awaitable[None]]) -> None:
        self.e = engine
        self.aht = aht
        self.kinds = kinds
        self.offer = offer  # the callback offer (admission's action = callback)
        self._arrivals = 0
        self._checked: dict[str, float] = {}  # queue -> last check of its waiting callers

    def config_changed(self) -> None:
        self._checked.clear()  # a reloaded limit reaches the waiting callers at once

    def wanted(self) -> bool:
        return any(q.admission is not None and q.admission.while_waiting
                   for q in self.e.cfg.queues.values())

    # --- a new caller ------------------------------------------------------------------------
    def route_entry(self, call: Call, queue: str, priority: int,
                    required: dict[str, int]) -> EntryRoute:
        """Where the caller leaving the IVR for `queue` will wait (or go); nothing is changed."""
        now = self.e.now()
        probe = Call(id=call.id, channel=call.channel, uniqueid=call.uniqueid,
                     caller_num=call.caller_num, dnis=call.dnis, pbx=call.pbx,
                     state=CallState.WAITING, queue=queue, priority=priority,
                     required=dict(required), entered_at=now)
        self._arrivals += 1
        sampled = self._arrivals % max(1, -(-len(self.e.mirror.index) // SAMPLE_OVER)) == 0

        def assess(c: Call) -> tuple[float | None, bool, int, int]:
            # Only what the queue's policies (or the sampled accuracy figures) use: each part
            # walks the waiting calls or the agents.
            qcfg = self.e.cfg.queues.get(c.queue)
            adm = qcfg.admission if qcfg is not None else None
            ann = qcfg.announce if qcfg is not None else None
            ewt = None
            if sampled or needs_ewt(qcfg):
                ewt = counted_entry_ewt(c, now, self.e.mirror.census, self.e.agents,
                                        self.aht.aht_s(c.queue), self.aht.wrapup_s(c.queue),
                                        self.kinds)
            length, position = 0, 1
            if (adm is not None and adm.max_waiting is not None) or (
                    ann is not None and ann.position and ann.on_entry):
                length, position = self._place(c)
            logged_in = adm is None or not adm.no_agents \
                or someone_logged_in(c, self.e.agents.values())
            return ewt, logged_in, length, position

        return entry_route(self.e.cfg, probe, assess)

    def _place(self, call: Call) -> tuple[int, int]:
        """(callers waiting in the call's queue, the 1-based place it would take there)."""
        keys = list(self.e.mirror.index.in_order(call.queue))
        return len(keys), 1 + bisect_left(keys, call_key(call))

    async def entered(self, call_id: str, route: EntryRoute) -> None:
        """The caller is queued in route.hops[0]: follow its overflows, then its refusal."""
        call = self.e.calls.get(call_id)
        for hop in route.hops[1:]:
            if call is None or call.state is not CallState.WAITING:
                return
            call = await self.move(call, hop.queue, hop.required, hop.ewt_s, "entry")
        if call is not None and call.state is CallState.WAITING and route.final is not None \
                and route.final.action != "callback":  # the offer was made before the loop
            await self.refuse(call, route.final)

    # --- callers already waiting -------------------------------------------------------------
    def due(self, now: float) -> set[str]:
        """Queues whose waiting callers are to be checked now (and marked checked)."""
        out = set()
        for name, qcfg in self.e.cfg.queues.items():
            adm = qcfg.admission
            if adm is None or not adm.while_waiting:
                continue
            if now - self._checked.get(name, -1e18) >= adm.check_every_s:
                self._checked[name] = now
                out.add(name)
        return out

    async def check_waiting(self, calls: Iterable[Call], placed: dict[str, Placed]) -> None:
        agents = list(self.e.agents.values())
        logged_in: dict[tuple[str, frozenset[tuple[str, int]]], bool] = {}
        for call in calls:
            here = placed.get(call.id)
            qcfg = self.e.cfg.queues.get(call.queue)
            if here is None or qcfg is None or qcfg.admission is None:
                continue
            kind = (call.queue, frozenset(call.required.items()))
            if kind not in logged_in:
                logged_in[kind] = someone_logged_in(call, agents)
            refused = refusal(qcfg.admission, ewt_s=here.ewt_s, agents_logged_in=logged_in[kind],
                              queue_length=0, position=here.position, entering=False)
            current = self.e.calls.get(call.id)
            if refused is not None and current is not None \
                    and current.state is CallState.WAITING:
                await self.refuse(current, refused)

    # --- effects -----------------------------------------------------------------------------
    async def refuse(self, call: Call, refused: Refusal) -> None:
        qcfg = self.e.cfg.queues[call.queue]
        adm = qcfg.admission
        log.info("call %s refused by queue %s (%s): %s", call.id, call.queue, refused.reason,
                 refused.action, extra={"call_id": call.id, "state": call.state.value})
        if refused.action == "overflow":
            target = refused.target
            if target in call.overflow_path or target not in self.e.cfg.queues:
                return  # never back to a queue it came from: it waits here
            required = overflow_skills(self.e.cfg, call, target)
            await self.move(call, target, required, self._ewt_in(call, target, required),
                            refused.reason)
            return
        if refused.action == "callback":
            await self.offer(call, call.queue)
            return
        assert adm is not None
        context, variable, outcome = _AWAY[refused.action]
        value = adm.mailbox if refused.action == "voicemail" else adm.closed_prompt
        # In order: the context reads the variable as soon as the Redirect lands.
        if await self.e.send(actions.setvar(call.channel, variable, value or "")) \
                and await self.e.send(actions.redirect(call.channel, context)):
            await self.e.handlers.end(call, outcome)

    def _ewt_in(self, call: Call, queue: str, required: dict[str, int]) -> float | None:
        now = self.e.now()
        probe = Call(id=call.id, channel=call.channel, uniqueid=call.uniqueid,
                     caller_num=call.caller_num, dnis=call.dnis, pbx=call.pbx,
                     state=CallState.WAITING, queue=queue, priority=call.priority,
                     required=required, entered_at=call.entered_at)
        return counted_entry_ewt(probe, now, self.e.mirror.census, self.e.agents,
                                 self.aht.aht_s(queue), self.aht.wrapup_s(queue), self.kinds)

    async def move(self, call: Call, target: str, required: dict[str, int],
                   ewt_s: float | None, why: str) -> Call | None:
        now = self.e.now()
        moved = await self.e.store.overflow(call.id, call.queue, target, required, now, ewt_s)
        if moved is None:
            return None
        self.e.handlers.put_call(moved)
        remaining = self.e.cfg.queues[target].max_wait_s - moved.wait_s(now)
        self.e.set_timer(("maxwait", moved.id), remaining, MaxWaitReached(moved.id))
        log.info("call %s overflowed from %s to %s (%s)", moved.id, call.queue, target, why,
                 extra={"call_id": moved.id, "state": "waiting"})
        self.e.want_route(call_id=moved.id)
        return moved
