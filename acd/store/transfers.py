"""Transfer steps (issue 9): a connected call to a queue or to one agent, and the
consultation of a warm transfer. Each is one Lua script, atomic with its counts and events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from acd.core.model import Agent, AgentState, Call
from acd.store import codec
from acd.store.base import RECENT_KEEP_S, StoreBase, interval_start
from acd.store.results import StoreError, agent_of, call_of

ConsultStep = Literal["start", "answered", "end"]
# The call's own fields the transfer scripts' KEYS depend on.
_HINT = ("queue", "agent_id")


@dataclass(frozen=True, slots=True)
class Transferred:
    """A transfer that happened (`refused` empty) or did not (`refused` says why)."""

    refused: str
    call: Call | None
    agent: Agent | None  # the agent who transferred it (wrap_up or ready now)
    target: Agent | None = None  # the agent it went to (reserved or on_call), if any


class TransferSteps(StoreBase):
    async def transfer_to_queue(self, call_id: str, queue: str, required: dict[str, int],
                                kind: str, now: float, wraps: bool) -> Transferred:
        """Connected call -> waiting in `queue` (keeping its entry time); its agent wraps up
        (`wraps`) or is ready. Refused ('not_connected') if the call is not connected or a
        warm transfer is in progress."""
        k = self._k
        start = interval_start(now)

        async def run(old_queue: str, agent_id: str) -> Any:
            return await self._lua.transfer_queue(
                keys=[k.call(call_id), k.queue(queue), k.agent(agent_id), k.events,
                      k.queue_interval(old_queue, start), k.queue_recent(old_queue),
                      k.queue_interval(queue, start), k.queue_recent(queue),
                      k.agent_interval(agent_id, start)],
                args=[*self._head(now), call_id, old_queue, agent_id, queue,
                      codec.enc_json(required), kind, "1" if wraps else "0", self._stats_ttl_s,
                      RECENT_KEEP_S])

        reply = await self._with_hint(k.call(call_id), _HINT, run)
        if not reply:
            return Transferred("not_connected", None, None)
        call = call_of(reply[1])
        agent = agent_of(reply[2])
        self._after(call, agent)
        return Transferred("", call, agent)

    async def transfer_to_agent(self, call_id: str, agent_id: str, leg_id: str, queue: str,
                                now: float, wraps: bool, *, warm: bool = False) -> Transferred:
        """Connected call -> the agent `agent_id` on `leg_id`, in `queue`: blind (the agent
        must be ready: it is reserved, the call rings) or `warm` (the agent consulted on that
        leg takes the call). The first agent wraps up (`wraps`) or is ready."""
        k = self._k
        start = interval_start(now)

        async def run(old_queue: str, first: str) -> Any:
            return await self._lua.transfer_agent(
                keys=[k.call(call_id), k.agent(first), k.agent(agent_id), k.events,
                      k.queue_interval(old_queue, start), k.queue_recent(old_queue),
                      k.queue_interval(queue, start), k.queue_recent(queue),
                      k.agent_interval(first, start), k.agent_interval(agent_id, start)],
                args=[*self._head(now), call_id, old_queue, first, agent_id,
                      "warm" if warm else "blind", leg_id, queue, "1" if wraps else "0",
                      self._stats_ttl_s, RECENT_KEEP_S])

        reply = await self._with_hint(k.call(call_id), _HINT, run)
        call, agent, target = call_of(reply[1]), agent_of(reply[2]), agent_of(reply[3])
        if reply[0] != "ok":
            return Transferred(str(reply[0]), call, agent, target)
        self._after(call, agent)
        return Transferred("", call, agent, target)

    def _after(self, call: Call | None, agent: Agent | None) -> None:
        if call is None:
            raise StoreError("a transfer script answered without the call")
        self._call_hints.pop(call.id, None)  # its queue or agent changed
        if agent is not None and agent.wrap_call:
            self.note_wrap(agent.id, agent.wrap_call)

    async def consult_start(self, call_id: str, target: str, leg_id: str, queue: str,
                            now: float) -> Transferred:
        """A warm transfer starts: the connected call consults `target` (ready: reserved now)
        on `leg_id`; `queue`: where the call goes on completion ('' = its own). Refused:
        'not_connected' or 'agent_not_ready'."""
        return await self._consult(call_id, "start", leg_id, now, target, queue, target=target)

    async def consult_answered(self, call_id: str, leg_id: str, channel: str,
                               now: float) -> Transferred:
        """The agent consulted answered on `leg_id` (channel name `channel`): on_call."""
        return await self._consult(call_id, "answered", leg_id, now, channel)

    async def consult_end(self, call_id: str, leg_id: str, result: str, now: float,
                          agent_state: AgentState = AgentState.READY,
                          reason: str = "") -> Transferred:
        """The consultation on `leg_id` ends without a transfer (`result`: canceled, rona,
        ...): the agent consulted goes to `agent_state`; the call stays with its agent."""
        if agent_state in (AgentState.RESERVED, AgentState.ON_CALL):
            raise ValueError(f"a consultation cannot leave its agent {agent_state}")
        return await self._consult(call_id, "end", leg_id, now, result, "", agent_state.value,
                                   reason)

    async def _consult(self, call_id: str, step: ConsultStep, leg_id: str, now: float,
                       arg7: str, arg8: str = "", state: str = "", reason: str = "", *,
                       target: str = "") -> Transferred:
        k = self._k

        async def run(agent_id: str, consult_agent: str) -> Any:
            # start: the hint is the call's agent, the key the target's; else both are the
            # agent consulted.
            who = target if step == "start" else consult_agent
            hint = agent_id if step == "start" else consult_agent
            return await self._lua.consult(
                keys=[k.call(call_id), k.agent(who), k.events,
                      k.agent_interval(who, interval_start(now))],
                args=[*self._head(now), call_id, step, leg_id, hint, arg7, arg8, state, reason,
                      self._stats_ttl_s])

        reply = await self._with_hint(k.call(call_id), ("agent_id", "consult_agent"), run)
        refused = "" if reply[0] == "ok" else str(reply[0])
        return Transferred(refused, call_of(reply[1]), None, agent_of(reply[2]))
