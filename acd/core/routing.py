"""The routing core: who gets which call. Pure: no I/O, no clock; the caller passes the state.

Rules (issue "call path", item 4):
- calls: higher priority class first (VIP before normal), then the longest waiting (earliest
  queue entry), across every queue an agent serves;
- agents: only READY agents that serve the call's queue and hold every required skill at the
  minimum level; among them the better skill match (sum of levels on the required skills),
  then the longest idle (earliest ready_since).
The claim itself is done atomically in the store; this module only proposes.
"""

from __future__ import annotations

from collections.abc import Iterable

from acd.core.model import Agent, AgentState, Call, CallState


def serves(agent: Agent, call: Call) -> bool:
    """True when the agent could take this call at some point (state aside)."""
    if agent.queues and call.queue not in agent.queues:
        return False
    skills = agent.skills
    return all(skills.get(skill, 0) >= level for skill, level in call.required.items())


def eligible(agent: Agent, call: Call) -> bool:
    return (agent.state is AgentState.READY and call.state is CallState.WAITING
            and serves(agent, call))


def skill_score(agent: Agent, call: Call) -> int:
    return sum(agent.skills.get(skill, 0) for skill in call.required)


def call_key(call: Call) -> tuple[int, float, str]:
    """Sort key of waiting calls: priority class first, then queue entry time."""
    entered = call.entered_at if call.entered_at is not None else float("inf")
    return (-call.priority, entered, call.id)


def agent_key(agent: Agent, call: Call) -> tuple[int, float, str]:
    """Sort key of candidate agents for a call: skill match first, then longest idle."""
    return (-skill_score(agent, call), agent.ready_since, agent.id)


def best_agent_for_call(call: Call, agents: Iterable[Agent]) -> Agent | None:
    candidates = [a for a in agents if eligible(a, call)]
    return min(candidates, key=lambda a: agent_key(a, call)) if candidates else None


def best_call_for_agent(agent: Agent, calls: Iterable[Call]) -> Call | None:
    candidates = [c for c in calls if eligible(agent, c)]
    return min(candidates, key=call_key) if candidates else None


def plan(calls: Iterable[Call], agents: Iterable[Agent]) -> list[tuple[Call, Agent]]:
    """Match waiting calls to ready agents, in call order, each call to its best free agent.

    Used when many things change at once (start, resync, a batch of events); single changes use
    best_agent_for_call / best_call_for_agent, which agree with this order.
    """
    free = {a.id: a for a in agents if a.state is AgentState.READY}
    out: list[tuple[Call, Agent]] = []
    for call in sorted((c for c in calls if c.state is CallState.WAITING), key=call_key):
        if not free:
            break
        agent = best_agent_for_call(call, free.values())
        if agent is not None:
            out.append((call, agent))
            del free[agent.id]
    return out
