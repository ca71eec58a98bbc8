"""The routing core: who gets which call. Pure: no I/O, no clock; the caller passes the state
and, for the time-dependent policies of acd.core.policy, `now` and the `Rules`.

Rules (issue "call path", item 4, and the policies of issue #4):
- calls: higher priority class first (VIP before normal; with priority aging, a priority point
  is worth some seconds of waiting), then the longest waiting (earliest queue entry), across
  every queue an agent serves; a queue behind its service objective counts its waits longer;
- agents: only READY agents that serve the call's queue and hold one of the skill sets the call
  accepts now (its own requirement; an expansion step after a wait; experts only for a fresh VIP
  call) at the minimum level; a call held for its previous agent goes to that agent only; among
  them the better skill match (sum of levels on the required skills), then the longest idle
  (earliest ready_since).
Without `now` (None) the time-dependent policies are off: the plain rules above.
The claim itself is done atomically in the store; this module only proposes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.policy import (
    PLAIN,
    Key,
    RankKey,
    Rules,
    held_for,
    meets,
    ranked_key,
    requirements,
)
from acd.core.policy import call_key as _policy_call_key


def serves(agent: Agent, call: Call, now: float | None = None, rules: Rules = PLAIN) -> bool:
    """True when the agent could take this call now, state aside (its queue, a skill set)."""
    if agent.queues and call.queue not in agent.queues:
        return False
    return any(meets(agent, req) for req in requirements(call, now, rules))


def eligible(agent: Agent, call: Call, now: float | None = None, rules: Rules = PLAIN,
             agents: Mapping[str, Agent] | None = None) -> bool:
    """May the agent take the call now? `agents` (every known agent) enables last-agent holds."""
    if agent.state is not AgentState.READY or call.state is not CallState.WAITING:
        return False
    hold = held_for(call, now, rules, agents)
    if hold is not None and hold != agent.id:
        return False
    return serves(agent, call, now, rules)


def skill_score(agent: Agent, call: Call) -> int:
    return sum(agent.skills.get(skill, 0) for skill in call.required)


def call_key(call: Call, rules: Rules = PLAIN) -> Key:
    """Sort key of waiting calls within a queue: priority (or aged priority), then entry time."""
    return _policy_call_key(call, rules)


def rank(call: Call, rules: Rules = PLAIN) -> RankKey:
    """Sort key of waiting calls across queues: call_key with the queue's objective offset."""
    return ranked_key(_policy_call_key(call, rules), call.queue, rules)


def agent_sort_key(call: Call) -> Callable[[Agent], tuple[int, float, str]]:
    """Sort key of candidate agents for a call: skill match (skill_score) first, then longest
    idle. (A plan sorts thousands: the common one-skill call looks its skill up directly.)"""
    required = tuple(call.required)
    if len(required) == 1:
        skill = required[0]
        return lambda a: (-a.skills.get(skill, 0), a.ready_since, a.id)
    return lambda a: (-sum(a.skills.get(s, 0) for s in required), a.ready_since, a.id)


def best_agent_for_call(call: Call, agents: Iterable[Agent], now: float | None = None,
                        rules: Rules = PLAIN,
                        all_agents: Mapping[str, Agent] | None = None) -> Agent | None:
    candidates = [a for a in agents if eligible(a, call, now, rules, all_agents)]
    return min(candidates, key=agent_sort_key(call)) if candidates else None


def best_call_for_agent(agent: Agent, calls: Iterable[Call], now: float | None = None,
                        rules: Rules = PLAIN,
                        all_agents: Mapping[str, Agent] | None = None) -> Call | None:
    candidates = [c for c in calls if eligible(agent, c, now, rules, all_agents)]
    return min(candidates, key=lambda c: rank(c, rules)) if candidates else None


def plan(calls: Iterable[Call], agents: Iterable[Agent], now: float | None = None,
         rules: Rules = PLAIN,
         all_agents: Mapping[str, Agent] | None = None) -> list[tuple[Call, Agent]]:
    """Match waiting calls to ready agents, in call order, each call to its best free agent.

    Used when many things change at once (start, resync, a batch of events); single changes use
    best_agent_for_call / best_call_for_agent, which agree with this order. The service plans
    from its waiting index (acd.core.waiting.plan_from_index: the same pairs, faster).
    """
    free = {a.id: a for a in agents if a.state is AgentState.READY}
    out: list[tuple[Call, Agent]] = []
    waiting = sorted((c for c in calls if c.state is CallState.WAITING),
                     key=lambda c: rank(c, rules))
    for call in waiting:
        if not free:
            break
        agent = best_agent_for_call(call, free.values(), now, rules, all_agents)
        if agent is not None:
            out.append((call, agent))
            del free[agent.id]
    return out
