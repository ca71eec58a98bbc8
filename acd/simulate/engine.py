"""The discrete-event engine: virtual time, one heap of events, the real routing core (through
decide.Decider) taking every decision.

Callers arrive per queue as a Poisson stream; each draws, on arrival, its segment (VIP class,
mix), its talk time and its patience, from streams apart from the routing (Source): the same
seed gives the same callers whatever the routing does, so a scenario run with and without a
policy is compared on identical traffic. An agent goes
ready -> reserved (the phone rings for the roster's ring time) -> on call (the caller's talk
time) -> wrap-up (the queue's wrapup_s) -> ready. A caller whose patience runs out while waiting
or while the agent's phone rings abandons (the agent is ready again at once); one still waiting
after the queue's max_wait_s is timed out (handed to the PBX's own queue, as the service does).

Counting: calls that arrive in the measured span ([warmup, last counted arrival]) are counted
with their whole life, also what happens to them after the span; agent time is counted inside
the span. Counts are the store's raw counts (acd.stats.raw), so the figures are computed by the
service's own functions (results.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any, cast

from acd.config import QueueConfig
from acd.core.model import Agent, AgentState, Call, CallState
from acd.simulate.decide import Decider
from acd.simulate.dists import Sampler
from acd.simulate.scenario import Scenario, TrafficConfig
from acd.simulate.tally import BATCHES, Segment, Tally, new_tally, segments_of
from acd.stats.raw import AgentCounts, QueueCounts, wait_bucket

ARRIVE, ANSWER, HANGUP, READY, GIVE_UP, END_SPAN, POLICY = range(7)


@dataclass(slots=True)
class SimCall(Call):
    talk_s: float = 0.0
    patience_s: float = math.inf
    # where its figures go: the running counts of its queue (Decider.live), and when it is
    # counted (arrived in the span) its queue's, class's, mix segment's and batch's counts
    tallies: tuple[QueueCounts, ...] = ()
    counted: bool = False  # arrived in the measured span


@dataclass(slots=True)
class SimAgent(Agent):
    ring: Sampler = field(default=lambda: 0.0)
    time: AgentCounts = field(default_factory=AgentCounts)  # inside the measured span
    since: float = 0.0  # start of the current state, for `time`
    call: SimCall | None = None


@dataclass(slots=True)
class Source:
    """One queue's callers. Arrival gaps, segments, talk times and patience each come from a
    random stream of their own (seeded by the seed, the queue and the purpose): changing one of
    them (a talk time distribution, a VIP share) leaves the others' draws as they were, and no
    routing change touches any of them."""

    queue: str
    qcfg: QueueConfig
    gap: Sampler
    pick: Sampler  # uniform 0..1, chooses the segment
    talk: Sampler
    patience: Sampler
    segments: list[tuple[float, Segment]]  # (cumulative share, segment), last one 1.0


class Engine:
    def __init__(self, sc: Scenario, seed: int) -> None:
        self.sc = sc
        self.now = 0.0
        self.heap: list[tuple[float, int, int, object]] = []
        self._seq = 0
        self.tally = new_tally(sc)
        self.live = {q: QueueCounts() for q in sc.queues}
        self.decider = Decider(sc.queues, self.live)
        self.waiting = dict.fromkeys(sc.queues, 0)
        self.waiting_all = 0
        self.span_start = sc.warmup_s
        self.span_end = math.inf if sc.calls is not None else sc.warmup_s + (sc.duration_s or 0)
        self.counted = 0  # measured arrivals so far
        self.arriving = True
        self.n = 0
        self.sources = [self._source(q, t, seed) for q, t in sc.traffic.items()]
        self.agents = self._agents(seed)
        self.by_id = {a.id: a for a in self.agents}
        self.tally.agents = self.agents

    # --- set-up ---

    def _source(self, q: str, t: TrafficConfig, seed: int) -> Source:
        def rng(purpose: str) -> random.Random:
            return random.Random(f"{seed}:{q}:{purpose}")

        rate, draw = t.calls_per_hour / 3600.0, rng("arrivals").expovariate
        qcfg = self.sc.queues[q]
        return Source(q, qcfg, lambda: draw(rate), rng("segments").random,
                      t.talk.sampler(rng("talk")), t.patience.sampler(rng("patience")),
                      segments_of(q, qcfg, t, self.tally))

    def _agents(self, seed: int) -> list[SimAgent]:
        rng = random.Random(f"{seed}:ring")
        out = []
        for roster in self.sc.roster:
            ring = roster.ring.sampler(rng)
            width = max(3, len(str(roster.count)))
            for i in range(1, roster.count + 1):
                aid = f"{roster.name}-{i:0{width}d}"
                out.append(SimAgent(id=aid, interface=f"Sim/{aid}", skills=dict(roster.skills),
                                    queues=tuple(roster.queues), name=aid, ring=ring))
        return out

    def _push(self, at: float, kind: int, obj: object) -> None:
        self._seq += 1  # ties in time: first pushed, first done
        heappush(self.heap, (at, self._seq, kind, obj))

    # --- the run ---

    def run(self) -> Tally:
        for source in self.sources:
            self._push(source.gap(), ARRIVE, source)
        if self.span_end < math.inf:
            self._push(self.span_end, END_SPAN, None)
        for agent in self.agents:
            self._ready(agent)
        heap, pop = self.heap, heappop
        handlers: tuple[Callable[[Any], None], ...] = (
            self._arrive, self._answer, self._hangup, self._ready, self._give_up, self._end_span,
            self._policy)
        events = 0
        while heap:
            at, _, kind, obj = pop(heap)
            self.now = at
            handlers[kind](obj)
            events += 1
        if self.span_end == math.inf:  # every call ended before the span was closed
            self._end_span(None)
        self.tally.span = (self.span_start, self.span_end)
        self.tally.calls_simulated = self.n
        self.tally.events = events
        return self.tally

    def _arrive(self, source: Source) -> None:
        if not self.arriving:
            return
        now = self.now
        if now >= self.span_end:
            self.arriving = False
            return
        self._push(now + source.gap(), ARRIVE, source)
        measured = now >= self.span_start
        r = source.pick()
        segment = next(s for share, s in source.segments if r < share)
        self.n += 1
        live = self.live[source.queue]
        tallies = ((live, *segment.tallies, self._batch(source.queue, now)) if measured
                   else (live,))
        call = SimCall(id=f"c{self.n:09d}", channel="", uniqueid="", caller_num="", dnis="",
                       state=CallState.WAITING, arrived_at=now, queue=source.queue,
                       priority=segment.priority, required=segment.required, entered_at=now,
                       vip=segment.vip, talk_s=source.talk(),
                       patience_s=source.patience(),
                       tallies=tallies, counted=measured)
        for counts in call.tallies:
            counts.offered += 1
        give_up = min(call.patience_s, source.qcfg.max_wait_s)
        if give_up < math.inf:
            self._push(now + give_up, GIVE_UP, call)
        agent = self.decider.call_waits(call, now)
        if agent is None:
            self._watch(call)
            n = self.waiting[call.queue] = self.waiting[call.queue] + 1
            self.waiting_all += 1
            if measured:
                tally = self.tally
                if n > tally.max_waiting[call.queue]:
                    tally.max_waiting[call.queue] = n
                if self.waiting_all > tally.max_waiting_all:
                    tally.max_waiting_all = self.waiting_all
        else:
            self._connect(call, cast(SimAgent, agent))
        if measured:
            self.counted += 1
            if self.sc.calls is not None and self.counted >= self.sc.calls:
                self.arriving = False
                self._end_span(None)

    def _watch(self, call: SimCall) -> None:
        due = self.decider.due(call, self.now)
        if due is not None:
            self._push(due, POLICY, call)

    def _policy(self, call: SimCall) -> None:
        """A waiting call reached a policy step (expansion, end of the VIP-expert window)."""
        if call.state is not CallState.WAITING:
            return
        agent = self.decider.recheck(call, self.now)
        if agent is None:
            self._watch(call)
            return
        self.waiting[call.queue] -= 1
        self.waiting_all -= 1
        self._connect(call, cast(SimAgent, agent))

    def _batch(self, queue: str, now: float) -> QueueCounts:
        """The batch a counted arrival falls in: by its rank, or by its time in the span."""
        sc = self.sc
        if sc.calls is not None:
            b = self.counted * BATCHES // sc.calls
        else:
            b = min(BATCHES - 1, int((now - self.span_start) * BATCHES / (sc.duration_s or 1)))
        return self.tally.batches[queue][b]

    def _connect(self, call: SimCall, agent: SimAgent) -> None:
        """A match: the agent's phone rings (or, with no ring time, it answers at once)."""
        self._agent_state(agent, AgentState.RESERVED)
        call.state = CallState.RINGING
        call.agent_id = agent.id
        agent.call = call
        ring = agent.ring()
        if ring > 0:
            self._push(self.now + ring, ANSWER, call)
        else:
            self._answer(call)

    def _answer(self, call: SimCall) -> None:
        if call.state is not CallState.RINGING:
            return  # the caller hung up while it rang (the agent is ready again already)
        agent = self.by_id[call.agent_id]
        now = self.now
        call.state = CallState.CONNECTED
        call.answered_at = now
        wait = now - call.arrived_at  # the sim has no IVR: arrival is queue entry
        self._count_answer(call, wait)
        self._agent_state(agent, AgentState.ON_CALL)
        self._push(now + call.talk_s, HANGUP, agent)

    def _count_answer(self, call: SimCall, wait: float) -> None:
        bucket = wait_bucket(wait)
        for counts in call.tallies:
            counts.answered += 1
            counts.answered_waits[bucket] = counts.answered_waits.get(bucket, 0) + 1
            counts.wait_sum_s += wait
        if call.counted and wait > self.tally.longest_wait_s[call.queue]:
            self.tally.longest_wait_s[call.queue] = wait

    def _hangup(self, agent: SimAgent) -> None:
        call = agent.call
        assert call is not None
        call.state = CallState.ENDED
        call.ended_at = self.now
        agent.call = None
        agent.calls_handled += 1
        wrapup = self.sc.queues[call.queue].wrapup_s
        for counts in call.tallies:
            counts.handled += 1
            counts.talk_sum_s += call.talk_s
            counts.wrapup_sum_s += wrapup
        if wrapup > 0:
            self._agent_state(agent, AgentState.WRAP_UP)
            self._push(self.now + wrapup, READY, agent)
        else:
            self._ready(agent)

    def _ready(self, agent: SimAgent) -> None:
        self._agent_state(agent, AgentState.READY)
        agent.ready_since = self.now
        call = self.decider.agent_ready(agent, self.now)
        if call is not None:
            self.waiting[call.queue] -= 1
            self.waiting_all -= 1
            self._connect(cast(SimCall, call), agent)

    def _give_up(self, call: SimCall) -> None:
        """Patience or max_wait_s ran out (whichever came first)."""
        state = call.state
        if state is not CallState.WAITING and state is not CallState.RINGING:
            return
        now = self.now
        wait = now - call.arrived_at
        # the same sum as when the event was pushed: exact, whatever the rounding
        if now < call.arrived_at + call.patience_s:  # max_wait_s came first
            if state is CallState.RINGING:  # the agent is answering: only patience is left
                if call.patience_s < math.inf:
                    self._push(call.arrived_at + call.patience_s, GIVE_UP, call)
                return
            self._leave(call, wait)
            for counts in call.tallies:
                counts.timed_out += 1
            return
        if state is CallState.RINGING:
            agent = self.by_id[call.agent_id]
            agent.call = None
            call.state = CallState.ENDED
            call.ended_at = now
            self._count_abandon(call, wait)
            self._ready(agent)
            return
        self._leave(call, wait)
        self._count_abandon(call, wait)

    def _leave(self, call: SimCall, wait: float) -> None:
        self.decider.call_leaves(call)
        self.waiting[call.queue] -= 1
        self.waiting_all -= 1
        call.state = CallState.ENDED
        call.ended_at = self.now
        if call.counted and wait > self.tally.longest_wait_s[call.queue]:
            self.tally.longest_wait_s[call.queue] = wait

    def _count_abandon(self, call: SimCall, wait: float) -> None:
        bucket = wait_bucket(wait)
        for counts in call.tallies:
            counts.abandoned += 1
            counts.abandoned_waits[bucket] = counts.abandoned_waits.get(bucket, 0) + 1
        if call.counted and wait > self.tally.longest_wait_s[call.queue]:
            self.tally.longest_wait_s[call.queue] = wait

    def _end_span(self, _: object) -> None:
        """The measured span closes now: agent time up to here is counted."""
        self.span_end = self.now
        for agent in self.agents:
            self._spend(agent)

    # --- agent time ---

    def _agent_state(self, agent: SimAgent, state: AgentState) -> None:
        self._spend(agent)
        agent.state = state
        agent.state_since = self.now

    def _spend(self, agent: SimAgent) -> None:
        """Count the agent's time in its current state that falls inside the span."""
        now = self.now
        if agent.since == now:  # e.g. reserved and answered at once (no ring time)
            return
        start = agent.since if agent.since > self.span_start else self.span_start
        end = now if now < self.span_end else self.span_end
        agent.since = now
        if end <= start:
            return
        spent = end - start
        t = agent.time
        state = agent.state
        if state is AgentState.READY:
            t.ready_s += spent
        elif state is AgentState.ON_CALL:
            t.talk_s += spent
        elif state is AgentState.WRAP_UP:
            t.wrapup_s += spent
        elif state is AgentState.RESERVED:
            t.ringing_s += spent
        else:
            t.not_ready_s += spent


def simulate(sc: Scenario, seed: int | None = None) -> Tally:
    return Engine(sc, sc.seed if seed is None else seed).run()
