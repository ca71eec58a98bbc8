"""Wrap-up codes on the engine's side (issue 9; the rules: acd/core/wrapup.py): the timer that
ends a `timeout` wrap-up, codes from the API and from the phone (*55).

Runs inside the engine's consumer, in order with the PBX's events. Every change goes through
the store (acd/store/lua/wrapup.lua sets the codes; set_agent_state.lua ends the wrap-up and
counts them once).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acd.api.backend import CommandError
from acd.core import wrapup
from acd.core.events import WrapupEnded
from acd.core.model import Agent, AgentState

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.wrapup")
_FROM_WRAPUP = frozenset({AgentState.WRAP_UP})


class Wrapups:
    def __init__(self, engine: Engine) -> None:
        self.e = engine

    def started(self, agent: Agent, queue: str) -> None:
        """The agent wraps up a call of `queue`: a `timeout` wrap-up ends by itself."""
        qcfg = self.e.cfg.queues.get(queue)
        if agent.state is AgentState.WRAP_UP and wrapup.ends_by_timer(qcfg):
            assert qcfg is not None
            self.e.set_timer(("wrapup", agent.id), qcfg.wrapup_s, WrapupEnded(agent.id))

    def rearm(self) -> None:
        """After a (re)start: the wrap-ups found in Redis end when they would have."""
        for agent in self.e.agents.values():
            qcfg = self.e.cfg.queues.get(agent.last_queue)
            if agent.state is AgentState.WRAP_UP and wrapup.ends_by_timer(qcfg):
                assert qcfg is not None
                left = qcfg.wrapup_s - (self.e.now() - agent.state_since)
                self.e.set_timer(("wrapup", agent.id), left, WrapupEnded(agent.id))

    def needs_code(self, agent: Agent | None) -> bool:
        """Does this agent's wrap-up end only once a code is given (the store checks whether
        one was)?"""
        return (agent is not None and agent.state is AgentState.WRAP_UP
                and wrapup.needs_code(self.e.cfg, agent.last_queue))

    def missing_code(self, agent: Agent | None) -> bool:
        """Must this agent give a code before it may be ready (or not ready) again?"""
        return self.needs_code(agent) and agent is not None and not agent.wrap_codes

    async def set_codes(self, agent_id: str, codes: list[str], resolved: bool | None, *,
                        done: bool = False, add: bool = False) -> Agent:
        """Codes (and the resolved answer) of the agent's wrap-up; it ends when the queue's
        mode is `until_code` and a code is given, or when `done`. Raises CommandError."""
        agent = self.e.agents.get(agent_id)
        if agent is None:
            raise CommandError("unknown_agent", f"no agent {agent_id!r}", 404)
        if agent.state is not AgentState.WRAP_UP or not agent.wrap_call:
            raise CommandError("not_in_wrapup", f"agent {agent_id} is {agent.state.value}, "
                               "not wrapping up a call", 409)
        unknown = wrapup.unknown_codes(self.e.cfg, agent.last_queue, codes)
        if unknown:
            known = sorted(self.e.cfg.queues[agent.last_queue].wrapup_codes) \
                if agent.last_queue in self.e.cfg.queues else []
            raise CommandError("bad_code", f"codes: {', '.join(map(repr, unknown))} not in "
                               f"queue {agent.last_queue}'s list ({', '.join(known) or 'empty'})",
                               400)
        changed: Agent | None = agent
        if codes or resolved is not None:
            # No codes given (only `resolved`): the codes given before stay.
            changed = await self.e.store.set_wrapup(agent_id, codes, resolved, self.e.now(),
                                                    add=add or not codes,
                                                    call_id=agent.wrap_call)
            if changed is None:
                raise CommandError("not_in_wrapup",
                                   f"agent {agent_id}'s wrap-up ended meanwhile")
            self.e.handlers.put_agent(changed)
            log.info("agent %s: wrap-up of call %s coded %s, resolved %s", agent_id,
                     changed.wrap_call, ",".join(changed.wrap_codes) or "-",
                     changed.wrap_resolved,
                     extra={"agent_id": agent_id, "call_id": changed.wrap_call})
        assert changed is not None
        ends = done or (bool(changed.wrap_codes)
                        and wrapup.needs_code(self.e.cfg, changed.last_queue))
        if ends:
            ready = await self.e.handlers.set_agent_state(agent_id, AgentState.READY,
                                                          allowed=_FROM_WRAPUP)
            if ready is None:
                raise CommandError("code_required", f"agent {agent_id}: a code is needed "
                                   "before the wrap-up ends")
            return ready
        return changed

    async def from_phone(self, agent_id: str, digits: str, resolved: str) -> None:
        """*55: the code keyed as digits, then 1 resolved / 2 not resolved."""
        agent = self.e.agents.get(agent_id)
        queue = agent.last_queue if agent is not None else ""
        code = wrapup.code_of_digits(self.e.cfg, queue, digits)
        if code is None:
            log.warning("agent %s keyed wrap-up code %r: not a code of queue %s", agent_id,
                        digits, queue or "-", extra={"agent_id": agent_id})
            return
        try:
            await self.set_codes(agent_id, [code], wrapup.resolved_of_digit(resolved), add=True)
        except CommandError as exc:
            log.warning("agent %s: wrap-up code %s refused: %s", agent_id, code, exc.message,
                        extra={"agent_id": agent_id})
