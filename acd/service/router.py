"""Routing decisions as events happen: a freed agent gets the best call it may take (from the
heads of the queues it serves), a new waiting call gets the best ready agent. Bursts, resyncs
and config reloads plan everything at once with the same rules (acd.core.routing.plan).

The claim of each pair is atomic in Redis (store.claim); a lost claim (another instance was
quicker) refreshes the two and plans again. An agent made ready by a feature code (login,
unpause) has its call chosen before its change reaches the store (ahead), and the change and
the claim go to Redis in one round trip: the claim's script checks the agent is ready, so a
change the store refuses makes the claim change nothing. Likewise a call that arrives to a
ready agent has that agent chosen before its enqueue reaches the store (ahead_of_call), and
the enqueue and the claim go together: the claim's script checks the call is waiting.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from acd.core import routing
from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.policy import meets
from acd.core.serving import membership_of
from acd.core.waiting import best_call_for_agent, plan_from_index

if TYPE_CHECKING:
    from acd.config import Config
    from acd.service.engine import Engine

FULL_PLAN_OVER = 64  # more pending triggers than this: one full plan is cheaper


class Router:
    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self._calls: set[str] = set()
        self._agents: set[str] = set()
        self._full = False
        # agent id -> its _queues, in config order; and the same as a set
        self._queues_of: dict[str, list[str]] = {}
        self._serves: dict[str, frozenset[str]] = {}
        self._members: _Membership | None = None
        self.decisions = 0

    @property
    def pending(self) -> bool:
        return self._full or bool(self._calls) or bool(self._agents)

    def want(self, call_id: str | None = None, agent_id: str | None = None) -> None:
        if call_id is not None:
            self._calls.add(call_id)
        if agent_id is not None:
            self._agents.add(agent_id)
        if call_id is None and agent_id is None:
            self._full = True

    def config_changed(self) -> None:
        self._queues_of.clear()
        self._serves.clear()
        self._full = True

    async def route(self) -> None:
        if not self.e.routing_enabled:
            return
        full, calls, agents = self._full, self._calls, self._agents
        self._full, self._calls, self._agents = False, set(), set()
        if full or len(calls) + len(agents) > FULL_PLAN_OVER:
            await self._plan_all()
            return
        m = self.e.mirror
        now = self.e.now()
        pairs: list[tuple[Call, Agent]] = []
        for agent_id in agents:
            agent = m.agents.get(agent_id)
            if agent is not None and agent_id in m.ready:
                call = self._best_call(agent, now, m.agents)
                if call is not None:
                    pairs.append(self._hold(call, agent))
        taken = {call.id for call, _agent in pairs}
        for call_id in calls:
            call = m.calls.get(call_id)
            if call is not None and call.state is CallState.WAITING and call_id not in taken:
                best = self._best_agent(call, now)
                if best is not None:
                    pairs.append(self._hold(call, best))
        await self._give(pairs)

    def _hold(self, call: Call, agent: Agent) -> tuple[Call, Agent]:
        """Out of the waiting index and the ready set until its claim is answered, so the
        next decision of the same round does not pick the same call or agent."""
        self.e.mirror.index.discard(call.id)
        self.e.mirror.ready.discard(agent.id)
        return call, agent

    async def _plan_all(self) -> None:
        m = self.e.mirror
        for _ in range(3):
            pairs = self._plan(m.ready_agents(), self.e.now(), m.agents)
            if await self._give([self._hold(call, agent) for call, agent in pairs]):
                return

    def _best_call(self, agent: Agent, now: float, agents: Mapping[str, Agent]) -> Call | None:
        """The call the agent takes now (`agents`: every agent, for last-agent holds)."""
        m = self.e.mirror
        return best_call_for_agent(agent, m.index, m.all_calls, self._queues(agent), now,
                                   self.e.rules, agents)

    def _best_agent(self, call: Call, now: float) -> Agent | None:
        """The ready agent that takes the call now. Only the ready agents with the call's
        queue among their _queues are tested (the queues _best_call walks: the two ways
        agree). A big centre has about a hundred ready for other queues: they are passed
        over by a look-up each, not a call of _queue_set (0.65 us an agent, 63 us a call at
        the benchmark's full size; an index by queue cost 40 us a decision to keep up, as
        each of those agents serves hundreds of queues)."""
        m = self.e.mirror
        serves = self._serves.get
        queue = call.queue
        # (an agent not seen yet, or serving no queue, is worked out by _queue_set)
        pool = [m.agents[agent_id] for agent_id in m.ready
                if queue in (serves(agent_id) or self._queue_set(m.agents[agent_id]))]
        return routing.best_agent_for_call(call, pool, now, self.e.rules, m.agents)

    def _plan(self, free: Iterable[Agent], now: float, agents: Mapping[str, Agent]
              ) -> list[tuple[Call, Agent]]:
        """Every waiting call, in routing order, to its best agent of `free`."""
        m = self.e.mirror
        return plan_from_index(m.index, m.all_calls, free, self._queues, now, self.e.rules,
                               agents)

    async def _give(self, pairs: list[tuple[Call, Agent]]) -> bool:
        """Claim and ring the pairs (held by _hold); False when a claim was lost."""
        m = self.e.mirror
        own = [(c, a) for c, a in pairs if c.id not in m.foreign]
        oks: list[bool | None] = []
        try:
            # A foreign call's own instance rings the agent (it sees the same facts).
            oks = list(await self.e.handlers.connect_many(own)) if own else []
        finally:
            self.release(pairs, oks)
        return False not in oks

    def ahead(self, ready: list[Agent]) -> list[tuple[Call, Agent]]:
        """The pairs a round would make once these agents are ready, decided while their
        changes are on their way to the store, so that their claims go in the same round trip
        (Engine._run_steps): one round trip per decision instead of two. The same rules as
        route(): each agent its best call, in the order given, or a full plan for many. Held
        (_hold) until release(); a foreign call is left to route()."""
        if not self.e.routing_enabled or not ready:
            return []
        m = self.e.mirror
        now = self.e.now()
        # eligible() sees the agents as they will be (e.g. a call held for its last agent)
        agents: Mapping[str, Agent] = ChainMap({a.id: a for a in ready}, m.agents)
        pairs: list[tuple[Call, Agent]] = []
        if len(ready) > FULL_PLAN_OVER:
            free = {a.id: a for a in m.ready_agents()} | {a.id: a for a in ready}
            for call, agent in self._plan(free.values(), now, agents):
                if call.id not in m.foreign:
                    pairs.append(self._hold(call, agent))
            return pairs
        for agent in ready:
            best = self._best_call(agent, now, agents)
            if best is not None and best.id not in m.foreign:
                pairs.append(self._hold(best, agent))
        return pairs

    def ahead_of_call(self, call: Call) -> Agent | None:
        """The agent a round would give this call once it waits (`call` as it will be when
        enqueued), decided while the enqueue is on its way, so that the claim goes in the
        same round trip (Handlers.enqueue). Only when nothing else is pending: then no ready
        agent has a waiting call it should take first. The agent is held until release()."""
        if not self.e.routing_enabled or self.pending:
            return None
        best = self._best_agent(call, self.e.now())
        if best is not None:
            self.e.mirror.ready.discard(best.id)
        return best

    def release(self, pairs: list[tuple[Call, Agent]], oks: list[bool | None]) -> None:
        """Held pairs back in the indexes unless the store's answer moved them on (a claim
        that failed with an error leaves the two as they were). `oks`: the claims' outcomes
        (settle_claims); a lost one means another instance was quicker: plan again."""
        for call, agent in pairs:
            self._unhold(call, agent)
        self.decisions += sum(1 for ok in oks if ok is not None)
        if False in oks:
            self._full = True  # lost to another instance: plan again with fresh facts

    def _unhold(self, call: Call, agent: Agent) -> None:
        m = self.e.mirror
        now_call = m.all_calls.get(call.id)
        if now_call is not None and now_call.state is CallState.WAITING:
            m.index.put(now_call)
        now_agent = m.agents.get(agent.id)
        if now_agent is not None and now_agent.state is AgentState.READY:
            m.ready.add(agent.id)

    def _queues(self, agent: Agent) -> list[str]:
        """Queues whose own skills, or the skills of one of their expansion steps, the agent
        holds (a call may add skills, and steps depend on the wait: checked per call)."""
        queues = self._queues_of.get(agent.id)
        return queues if queues is not None else self._work_out_queues(agent)[0]

    def _queue_set(self, agent: Agent) -> frozenset[str]:
        """_queues as a set (does the agent serve a queue?)."""
        serves = self._serves.get(agent.id)
        return serves if serves is not None else self._work_out_queues(agent)[1]

    def _work_out_queues(self, agent: Agent) -> tuple[list[str], frozenset[str]]:
        members = self._membership()
        queues = list(members.serving.queues_of(agent))
        # skill expansion: a queue whose expansion step the agent meets, too
        queues += [q for q, steps in members.expanding
                   if q not in queues and (not agent.queues or q in agent.queues)
                   and any(meets(agent, step.skills) for step in steps)]
        serves = frozenset(queues)
        self._queues_of[agent.id], self._serves[agent.id] = queues, serves
        return queues, serves

    def _membership(self) -> _Membership:
        cfg = self.e.cfg
        if self._members is None or self._members.cfg is not cfg:
            self._members = _Membership(cfg)
        return self._members


class _Membership:
    """Per config: an index by skill of the queues, and the queues that expand (a burst of
    5,000 first-seen agents tested each against all 1,000 queues for expansion steps: 16 % of
    the burst's CPU, when the bench's queues have none)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.serving = membership_of(cfg)
        self.expanding = [(q, qc.routing.expand) for q, qc in cfg.queues.items()
                          if qc.routing.expand]
