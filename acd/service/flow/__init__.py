"""Caller-facing policies of the queues (issue 4): admission and overflow, position and EWT
announcements, the callback that keeps its place, the post-call survey.

One `CallerFlow` per engine. Two entry points from the call path:
- `route_entry` / `entered`: a caller leaving the IVR for a queue (ivr_driver._to_queue): its
  EWT is predicted (kept with the call for the accuracy figures), the queue's admission may
  send it on (overflow, voicemail, closed message), and the entry announcement is set;
- `tick`: a PolicyTick event every TICK_S while some queue has a policy that watches waiting
  callers. It runs in the engine's consumer like every event, so it never races the call path;
  every caller's EWT comes from one pass (acd/stats/ewt_batch.py), whatever their number. A
  pass that takes more than a slice (SLICE_S: a big centre) goes on between the engine's
  events, on the picture of the tick's start, and its answers are acted on in the consumer,
  in order with the events, for the callers still where they were.

Policies read the config when they act, so a reload (`config_changed`) reaches callers who
are already waiting at the next tick.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, TypeVar, cast

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
from acd.service.flow.admission import AdmissionDriver
from acd.service.flow.announce import Announcer
from acd.service.flow.callback import Callbacks
from acd.service.flow.live_aht import LiveAht
from acd.service.flow.survey import Surveys
from acd.stats.ewt_batch import Placed, StalePass, placed_steps
from acd.stats.kinds import KindCache

if TYPE_CHECKING:
    from acd.service.engine import Engine

TICK_S = 1.0
SLICE_S = 0.002
T = TypeVar("T")
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
        # waiting is 0.3-0.6 s of CPU): a decision waits for one slice at most.
        self.slice_s = SLICE_S

    def handlers(self) -> dict[type, Callable[[Any], Awaitable[None]]]:
        """Domain events this module handles (added to the engine's handler table)."""
        return {PolicyTick: self.tick, SurveyAnswered: self.surveys.answer,
                CallbackRequested: self.callbacks.request, CallbackResult: self.callbacks.result,
                CallbackDue: self.callbacks.due}

    def config_changed(self) -> None:
        self.kinds.agents_changed()
        self.aht.forget()
        self.admission.config_changed()
        self._arm()

    # --- a caller leaves the IVR -------------------------------------------------------------
    async def route_entry(self, call: Call, queue: str, priority: int,
                          required: dict[str, int]) -> EntryRoute:
        """Decided before the caller is moved to the hold loop; applied by `entered`."""
        await self.aht.refresh(self.e.now())
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
        # Callers on the line (a callback waits without one: nothing to tell it).
        waiting = [c for c in self.e.calls.values()
                   if c.state is CallState.WAITING and not c.callback]
        live = {c.id for c in waiting}
        self.announcer.forget(live)
        self.callbacks.forget(live)
        queues = self.admission.due(now)
        checked = [c for c in waiting if c.queue in queues]
        told = self.announcer.candidates(waiting, now)
        offered = self.callbacks.candidates(waiting)
        if not checked and not told and not offered:
            return
        await self.aht.refresh(now)
        # A position said alone needs no EWT: at 10,000 waiting the EWT pass can be a large
        # part of a second (docs/admin-guide.md), the places alone are ~20 ms.
        estimated = {c.id: c for c in checked + offered}
        placed_alone: dict[str, Call] = {}
        for c in told:
            if c.id not in estimated:  # (one checked or offered on has its EWT anyway)
                cfg = self.announcer.config(c.queue)
                alone = cfg is not None and not cfg.ewt
                (placed_alone if alone else estimated)[c.id] = c
        steps = self._placed(self.e.mirror.census.in_order(), now, estimated, placed_alone)
        placed = _run_for(steps, self.slice_s)
        if placed is not None:
            await self._act(now, checked, told, offered, placed)
            return
        # Not done within a slice (a big centre): the rest runs between the engine's events,
        # a slice at a time, and the answers are acted on in order with the events after it.
        self._running = True
        self.e.spawn(self._finish(steps, now, checked, told, offered), "policy tick")

    def _placed(self, waiting_now: list[Call], now: float, estimated: dict[str, Call],
                placed_alone: dict[str, Call]) -> Generator[None, None, dict[str, Placed]]:
        """The places (and EWTs) the tick needs, in steps (ewt_batch.placed_steps), on the
        picture of now: the calls and agents as they are (replaced, never changed in place),
        the handle times as last read."""
        aht_s, wrapup_s = self.aht.frozen()
        return placed_steps(waiting_now, list(self.e.agents.values()), now, aht_s, wrapup_s,
                            only=estimated, cache=self.kinds, places=placed_alone)

    async def _finish(self, steps: Generator[None, None, dict[str, Placed]], now: float,
                      checked: list[Call], told: list[Call], offered: list[Call]) -> None:
        try:
            while True:
                await asyncio.sleep(0)  # (the engine's events first)
                try:
                    placed = _run_for(steps, self.slice_s)
                except StalePass:  # a reload: the next tick works them out afresh
                    return
                if placed is not None:
                    break
            self.sliced += 1

            async def act() -> None:
                if self.e.routing_enabled:
                    await self._act(now, checked, told, offered, placed)

            await self.e.run_in_order(act)
        finally:
            self._running = False
            self._arm()

    async def _act(self, now: float, checked: list[Call], told: list[Call],
                   offered: list[Call], placed: dict[str, Placed]) -> None:
        # Only for callers still where they were when their places were worked out (admission
        # may move some; a tick run in slices sees the calls of its start).
        def still(calls: list[Call]) -> list[Call]:
            return [c for c in calls if (now_c := self.e.calls.get(c.id)) is not None
                    and now_c.state is CallState.WAITING and now_c.queue == c.queue]

        await self.admission.check_waiting(still(checked), placed)
        self.callbacks.tick(still(offered), placed)
        self.announcer.tick(still(told), placed, now)


def _run_for(steps: Generator[None, None, T], slice_s: float) -> T | None:
    """Run steps for about `slice_s` of CPU time at most: their answer, or None if not done."""
    end = time.perf_counter() + slice_s
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return cast(T, stop.value)
        if time.perf_counter() >= end:
            return None
