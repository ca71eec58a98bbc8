"""Routing decisions as events happen: a freed agent gets the best call it may take (from the
heads of the queues it serves), a new waiting call gets the best ready agent. Bursts, resyncs
and config reloads plan everything at once with the same rules (acd.core.routing.plan).

The claim of each pair is atomic in Redis (store.claim); a lost claim (another instance was
quicker) refreshes the two and plans again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.core import routing
from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.policy import meets
from acd.core.serving import QueueMembership
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
        self._queues_of: dict[str, list[str]] = {}
        self._members: tuple[Config, QueueMembership] | None = None
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
        now, rules = self.e.now(), self.e.rules
        pairs: list[tuple[Call, Agent]] = []
        for agent_id in agents:
            agent = m.agents.get(agent_id)
            if agent is not None and agent_id in m.ready:
                call = best_call_for_agent(agent, m.index, m.all_calls, self._queues(agent),
                                           now, rules, m.agents)
                if call is not None:
                    pairs.append(self._hold(call, agent))
        taken = {call.id for call, _agent in pairs}
        for call_id in calls:
            call = m.calls.get(call_id)
            if call is not None and call.state is CallState.WAITING and call_id not in taken:
                best = routing.best_agent_for_call(call, m.ready_agents(), now, rules, m.agents)
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
            pairs = plan_from_index(m.index, m.all_calls, m.ready_agents(), self._queues,
                                    self.e.now(), self.e.rules, m.agents)
            if await self._give([self._hold(call, agent) for call, agent in pairs]):
                return

    async def _give(self, pairs: list[tuple[Call, Agent]]) -> bool:
        """Claim and ring the pairs (held by _hold); False when a claim was lost."""
        m = self.e.mirror
        own = [(c, a) for c, a in pairs if c.id not in m.foreign]
        try:
            # A foreign call's own instance rings the agent (it sees the same facts).
            ok = all(await self.e.handlers.connect_many(own)) if own else True
        finally:
            # Back in the indexes unless the store's answer moved them on (a claim that failed
            # with an error leaves the two as they were).
            for call, agent in pairs:
                self._unhold(call, agent)
        self.decisions += len(own)
        if not ok:
            self._full = True  # lost to another instance: plan again with fresh facts
        return ok

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
        known = self._queues_of.get(agent.id)
        if known is None:
            cfg = self.e.cfg
            if self._members is None or self._members[0] is not cfg:  # an index by skill
                self._members = (cfg, QueueMembership({q: c.skills for q, c in cfg.queues.items()}))
            known = list(self._members[1].queues_of(agent))
            # skill expansion: a queue whose expansion step the agent meets, too
            known += [q for q, qc in cfg.queues.items()
                      if qc.routing.expand and q not in known
                      and (not agent.queues or q in agent.queues)
                      and any(meets(agent, step.skills) for step in qc.routing.expand)]
            self._queues_of[agent.id] = known
        return known
