"""What a supervisor (API) or an agent (phone feature codes) may do to an agent's state: one
table, so both ways in follow the same rules (pure)."""

from __future__ import annotations

from typing import Literal

from acd.core.model import AgentState

AgentAction = Literal["login", "logout", "ready", "not_ready"]

# action -> (target state, states it may come from). Reserved / on-call agents are never moved
# by hand: the call decides.
ACTIONS: dict[AgentAction, tuple[AgentState, frozenset[AgentState]]] = {
    "login": (AgentState.READY, frozenset({AgentState.LOGGED_OUT})),
    "logout": (AgentState.LOGGED_OUT, frozenset(
        {AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP})),
    "ready": (AgentState.READY, frozenset({AgentState.NOT_READY, AgentState.WRAP_UP})),
    "not_ready": (AgentState.NOT_READY, frozenset({AgentState.READY, AgentState.WRAP_UP})),
}

# The UserEvent actions of the dialplan's feature codes (*51..*54), as agent actions.
FEATURE_ACTIONS: dict[str, AgentAction] = {
    "login": "login", "pause": "not_ready", "unpause": "ready", "logout": "logout",
}
