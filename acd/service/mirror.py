"""The engine's in-memory picture of live calls and agents (Redis holds the truth).

Every change goes through these methods, so the indexes routing relies on (waiting calls per
queue in routing order, ready agents, agent legs) and the census of waiting calls a new
caller's EWT counts can never disagree with the dicts.
"""

from __future__ import annotations

from collections import ChainMap

from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.policy import PLAIN, Rules
from acd.core.waiting import WaitingIndex
from acd.stats.census import WaitingCensus


class Mirror:
    def __init__(self, rules: Rules = PLAIN) -> None:
        self.calls: dict[str, Call] = {}  # calls this instance drives, by id (caller Uniqueid)
        self.foreign: dict[str, Call] = {}  # waiting calls driven by other instances
        self.agents: dict[str, Agent] = {}
        self.leg_to_call: dict[str, str] = {}
        self.index = WaitingIndex(rules)  # own and foreign waiting calls, in routing order
        # The same calls counted by priority and kind, for a new caller's EWT. Unlike the
        # index it keeps the calls a pending claim holds: they wait until the store says not.
        self.census = WaitingCensus()
        # Own waiting calls by the agent that took the caller's previous call (last-agent
        # routing): when that agent stops being about to be free, they are routed again.
        self.by_last_agent: dict[str, set[str]] = {}
        self.ready: set[str] = set()
        self.all_calls: ChainMap[str, Call] = ChainMap(self.calls, self.foreign)

    def every_call(self) -> list[Call]:
        """Foreign then own calls, as iterating all_calls gives them, ten times quicker (a
        ChainMap builds a dict of every key and looks each one up again: at 10,000 waiting
        calls that was most of the time it took to queue a caller). A call is never both
        foreign and own: set_call drops the foreign one, set_foreign skips an own one."""
        return [*self.foreign.values(), *self.calls.values()]

    # --- calls -------------------------------------------------------------------------------
    def set_call(self, call: Call) -> None:
        """A call this instance drives, as the store returned it (ended: dropped)."""
        self.foreign.pop(call.id, None)
        if call.state is CallState.ENDED:
            self.drop_call(call.id)
            return
        old = self.calls.get(call.id)
        if old is not None and old.leg_id and old.leg_id != call.leg_id:
            self.leg_to_call.pop(old.leg_id, None)
        self.calls[call.id] = call
        self._held(call)
        self.census.put(call)
        if call.leg_id:
            if call.state in (CallState.RINGING, CallState.CONNECTED):
                self.leg_to_call[call.leg_id] = call.id
            else:
                self.leg_to_call.pop(call.leg_id, None)
        self.index.put(call)

    def drop_call(self, call_id: str) -> Call | None:
        """The call is gone from this picture, own or foreign (the own one is returned)."""
        self.foreign.pop(call_id, None)  # else it would stay listed but not indexed
        call = self.calls.pop(call_id, None)
        if call is not None and call.leg_id:
            self.leg_to_call.pop(call.leg_id, None)
        if call is not None and call.last_agent:
            self.by_last_agent.get(call.last_agent, set()).discard(call_id)
        self.index.discard(call_id)
        self.census.discard(call_id)
        return call

    def _held(self, call: Call) -> None:
        if not call.last_agent:
            return
        ids = self.by_last_agent.setdefault(call.last_agent, set())
        if call.state is CallState.WAITING:
            ids.add(call.id)
        else:
            ids.discard(call.id)

    def reindex(self, rules: Rules) -> None:
        """New routing rules (config reload): waiting calls sorted again."""
        self.index.reindex(rules, self.all_calls)

    def set_foreign(self, call: Call) -> None:
        if call.id in self.calls:
            return
        if call.state is CallState.WAITING:
            self.foreign[call.id] = call
            self.index.put(call)
            self.census.put(call)
        else:
            self.drop_foreign(call.id)

    def drop_foreign(self, call_id: str) -> None:
        if self.foreign.pop(call_id, None) is not None:
            self.index.discard(call_id)
            self.census.discard(call_id)

    def replace_foreign(self, calls: list[Call]) -> None:
        for call_id in list(self.foreign):
            self.drop_foreign(call_id)
        for call in calls:
            self.set_foreign(call)

    # --- agents ------------------------------------------------------------------------------
    def set_agent(self, agent: Agent) -> bool:
        """Returns True when the agent is (now) ready: worth a routing decision."""
        self.agents[agent.id] = agent
        if agent.state is AgentState.READY:
            self.ready.add(agent.id)
            return True
        self.ready.discard(agent.id)
        return False

    def drop_agent(self, agent_id: str) -> None:
        self.agents.pop(agent_id, None)
        self.ready.discard(agent_id)

    def ready_agents(self) -> list[Agent]:
        return [self.agents[a] for a in self.ready]
