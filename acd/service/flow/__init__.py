"""Caller-facing policies of the queues (issue 4): admission and overflow, position and EWT
announcements, the callback that keeps its place, the post-call survey.

One `CallerFlow` per engine. Two entry points from the call path:
- `route_entry` / `entered`: a caller leaving the IVR for a queue (ivr_driver._to_queue): its
  EWT is predicted (kept with the call for the accuracy figures), the queue's admission may
  send it on (overflow, voicemail, closed message), and the entry announcement is set;
- `tick`: a PolicyTick event every TICK_S while some queue has a policy that watches waiting
  callers. It runs in the engine's consumer like every event, so it never races the call path;
  every caller's EWT comes from one pass (acd/stats/ewt_batch.py), whatever their number. A
  tick that takes more than a slice (SLICE_S: a big centre) goes on in slices taken while the
  engine is idle, on the picture of the tick's start, and its plan is acted on in the
  consumer, in order with the events, for the callers still where they were.

Policies read the config when they act, so a reload (`config_changed`) reaches callers who
are already waiting at the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from acd.core.admission import EntryRoute
from acd.core.callback import should_offer
from acd.core.events import (
    CallbackDue,
    CallbackRequested,
    CallbackResult,
    PolicyTick,
    SurveyAnswered,
)
from acd.core.model import Call, CallState
from acd.core.steps import ITEMS_PER_STEP, chunks
from acd.service.flow.admission import AdmissionDriver
from acd.service.flow.announce import Announcer
from acd.service.flow.callback import Callbacks
from acd.service.flow.live_aht import LiveAht
from acd.service.flow.survey import Surveys
from acd.service.slices import Sliced
from acd.stats.ewt_batch import Placed, StalePass, placed_steps
from acd.stats.kinds import KindCache

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger(__name__)

TICK_S = 1.0
SLICE_S = 0.002
ACT_PART = 100  # callers acted on at once, for a tick run in slices
_TICK_KEY = ("flow", "tick")


class CallerFlow:
    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.aht = LiveAht(engine)
        self.kinds = KindCache()  # kept from pass to pass: the EWT of many callers stays cheap
        self.callbacks = Callbacks(engine)
        self.admission = AdmissionDriver(engine, self.aht, self.kinds, self.callbacks.offer_now)
        self.announcer = Announcer(engine)
        self.surveys = Surveys(engine)
        self._armed = False
        self._running = False  # a tick's places are worked out in slices
        self.ticks = 0
        self.sliced = 0  # ticks that ran in slices
        # How long the tick may hold the engine's serial loop at once (its EWT pass at 10,000
        # waiting, 166 callers due, is ~0.15 s): a decision waits for one slice at most.
        self.slice_s = SLICE_S

    def handlers(self) -> dict[type, Callable[[Any], Awaitable[None]]]:
        """Domain events this module handles (added to the engine's handler table)."""
        return {PolicyTick: self.tick, SurveyAnswered: self.surveys.answer,
                CallbackRequested: self.callbacks.request, CallbackResult: self.callbacks.result,
                CallbackDue: self.callbacks.due}

    def config_changed(self) -> None:
        self.kinds.agents_changed()
        self.admission.config_changed()
        self._arm()

    # --- a caller leaves the IVR -------------------------------------------------------------
    async def route_entry(self, call: Call, queue: str, priority: int,
                          required: dict[str, int]) -> EntryRoute:
        """Decided before the caller is moved to the hold loop; applied by `entered`."""
        route = self.admission.route_entry(call, queue, priority, required)
        last = route.hops[-1]
        waits = route.final is None or route.final.action == "callback"
        by_ewt = route.final is None and should_offer(self.callbacks.config(last.queue),
                                                      last.ewt_s)
        if waits and (route.final is not None or by_ewt):
            await self.callbacks.offer_now(call, last.queue)  # heard first in the hold loop
        if waits:
            # It will wait: told where it is as soon as it holds.
            await self.announcer.on_entry(call, last.queue, last.position, last.ewt_s)
        return route

    async def entered(self, call_id: str, route: EntryRoute) -> None:
        await self.admission.entered(call_id, route)

    def answered(self, call: Call) -> None:
        """An agent answered the call (Handlers.bridged_leg)."""
        self.surveys.answered(call)

    # --- the tick ----------------------------------------------------------------------------
    def _wanted(self) -> bool:
        return self.admission.wanted() or self.announcer.wanted() or self.callbacks.wanted()

    def _arm(self) -> None:
        if not self._armed and not self._running and self._wanted():
            self._armed = True
            self.e.set_timer(_TICK_KEY, TICK_S, PolicyTick())

    async def tick(self, _ev: PolicyTick) -> None:
        self._armed = False
        try:
            if self.e.routing_enabled:
                await self._tick()
        finally:
            self._arm()  # (once a tick run in slices is done, if it is)

    async def _tick(self) -> None:
        self.ticks += 1
        now = self.e.now()
        # The tick works on the picture of now: the calls are replaced, never changed in place.
        steps = self._plan(list(self.e.calls.values()), now, self.admission.due(now))
        done, plan = self._slices().run_slice(steps)
        if done and plan is not None:
            await self._act(plan)
            return
        # Not done within a slice (a big centre): the rest runs between the engine's events,
        # a slice at a time, and the plan is acted on in order with the events after it.
        self._running = True
        self.e.spawn(self._finish(steps), "policy tick")

    def _plan(self, calls: list[Call], now: float, queues: set[str]
              ) -> Generator[None, None, _Plan]:
        """Who is due a check, an announcement or an offer, with their places and EWTs, in
        steps of ITEMS_PER_STEP calls (and ewt_batch.placed_steps's)."""
        # Callers on the line (a callback waits without one: nothing to tell it).
        waiting: list[Call] = []
        for part in chunks(calls, ITEMS_PER_STEP):
            waiting.extend(c for c in part if c.state is CallState.WAITING and not c.callback)
            yield
        live = {c.id for c in waiting}
        plan = _Plan(now, gone=[i for known in (self.announcer.known(), self.callbacks.known())
                                for i in known if i not in live])
        yield
        for part in chunks(waiting, ITEMS_PER_STEP):
            plan.checked.extend(c for c in part if c.queue in queues)
            plan.told.extend(self.announcer.candidates(part, now))
            plan.offered.extend(self.callbacks.candidates(part))
            yield
        if not plan.checked and not plan.told and not plan.offered:
            return plan
        # A position said alone needs no EWT: at 10,000 waiting the EWT pass is ~0.15 s a
        # second or more (docs/admin-guide.md), the places alone ~10 ms.
        estimated = {c.id: c for c in plan.checked + plan.offered}
        placed_alone: dict[str, Call] = {}
        for c in plan.told:
            if c.id not in estimated:  # (one checked or offered on has its EWT anyway)
                cfg = self.announcer.config(c.queue)
                alone = cfg is not None and not cfg.ewt
                (placed_alone if alone else estimated)[c.id] = c
        yield
        waiting_now = self.e.mirror.census.in_order()
        yield
        aht_s, wrapup_s = self.aht.frozen()  # (the handle times as last handed over)
        plan.placed = yield from placed_steps(
            waiting_now, list(self.e.agents.values()), now, aht_s, wrapup_s, only=estimated,
            cache=self.kinds, places=placed_alone)
        return plan

    async def _finish(self, steps: Generator[None, None, _Plan]) -> None:
        try:
            await self._finish_plan(steps)
        except asyncio.CancelledError:  # the engine stops: no next tick
            self._running = False
            raise
        except StalePass:  # a reload: the next tick works them out afresh
            pass
        except Exception:  # (a task's error is nobody's: logged, and the next tick runs)
            log.exception("policy tick failed")
        self._running = False
        self._arm()

    async def _finish_plan(self, steps: Generator[None, None, _Plan]) -> None:
        await asyncio.sleep(0)  # (the tick's first slice has just run)
        plan = await self._slices().run(steps)
        self.sliced += 1
        # Acted on a part at a time too: hundreds of announcements are ~10 ms.
        for part in plan.parts(ACT_PART):
            async def act(part: _Plan = part) -> None:
                if self.e.routing_enabled:
                    await self._act(part)

            await self.e.run_in_order(act)

    def _slices(self) -> Sliced:
        """Slices of `slice_s`, each taken while the engine is idle (or after
        slices.GATE_MAX_WAIT_S without an idle moment): a decision under way is not slowed by
        a slice at each of its round trips, and a busy engine's tick still goes on."""
        return Sliced(self.slice_s, gate=lambda: self.e.idle.is_set())

    async def _act(self, plan: _Plan) -> None:
        # Forgotten: callers gone from the queues (not waiting now either).
        gone = {i for i in plan.gone if not _on_the_line(self.e.calls.get(i))}
        self.announcer.forget(gone)
        self.callbacks.forget(gone)

        # Only for callers still where they were when their places were worked out (admission
        # may move some; a tick run in slices sees the calls of its start).
        def still(calls: list[Call]) -> list[Call]:
            return [c for c in calls if (now_c := self.e.calls.get(c.id)) is not None
                    and now_c.state is CallState.WAITING and now_c.queue == c.queue]

        await self.admission.check_waiting(still(plan.checked), plan.placed)
        self.callbacks.tick(still(plan.offered), plan.placed)
        self.announcer.tick(still(plan.told), plan.placed, plan.now)


def _on_the_line(call: Call | None) -> bool:
    return call is not None and call.state is CallState.WAITING and not call.callback


@dataclass
class _Plan:
    """What a tick acts on: the callers due a waiting check, an announcement or a callback
    offer, their places (and EWTs), and who the policies may forget."""

    now: float
    checked: list[Call] = field(default_factory=list)
    told: list[Call] = field(default_factory=list)
    offered: list[Call] = field(default_factory=list)
    placed: dict[str, Placed] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)

    def parts(self, size: int) -> Iterator[_Plan]:
        """The plan in parts of at most `size` callers of each kind (the places shared)."""
        longest = max(len(self.checked), len(self.told), len(self.offered), 1)
        for start in range(0, longest, size):
            end = start + size
            yield _Plan(self.now, self.checked[start:end], self.told[start:end],
                        self.offered[start:end], self.placed,
                        self.gone if start == 0 else [])
