"""Agent steps: sync from config, remove, compare-and-set of the state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acd.core.model import Agent, AgentState
from acd.store import codec
from acd.store.base import RECENT_KEEP_S, Prepared, Step, StoreBase, flat, interval_start
from acd.store.results import StoreError, agent_of

_BUSY = frozenset({AgentState.RESERVED, AgentState.ON_CALL})


@dataclass(frozen=True, slots=True)
class StateChange:
    """One agent's state change for AgentSteps.set_agent_state(s)."""

    agent_id: str
    state: AgentState
    reason: str = ""
    expect: frozenset[AgentState] | None = None  # None: from any state
    needs_code: bool = False


def _refused(c: StateChange) -> bool:
    """A change the store never makes: nothing expected (None, no round trip)."""
    if c.state in _BUSY:
        raise ValueError(f"only claim/answer make an agent {c.state}")
    return c.expect is not None and not c.expect


class AgentSteps(StoreBase):
    async def sync_agent(self, agent: Agent) -> Agent:
        """Config fields from `agent`; its state fields too, but only if the agent is new."""
        config = codec.encode_agent_config(agent)
        state = {f: v for f, v in codec.encode_agent(agent).items() if f not in config}
        k = self._k
        reply = await self._lua.sync_agent(
            keys=[k.agent(agent.id), k.agents, k.events],
            args=[*self._head(None), agent.id, len(config), *flat(config), *flat(state)])
        synced = agent_of(reply)
        if synced is None:
            raise StoreError(f"sync_agent returned nothing for {agent.id}")
        return synced

    async def remove_agent(self, agent_id: str, now: float | None = None) -> bool:
        """Delete an agent (gone from config). False, and nothing done, while it is busy
        (reserved or on_call): try again once its call ended."""
        k = self._k
        start = interval_start(now) if now is not None else 0
        done = await self._lua.remove_agent(
            keys=[k.agent(agent_id), k.agents, k.events, k.agent_interval(agent_id, start)],
            args=[*self._head(now), agent_id, self._stats_ttl_s])
        self._agent_hints.pop(agent_id, None)
        return int(done) >= 0

    async def get_agent(self, agent_id: str) -> Agent | None:
        return agent_of(await self._r.hgetall(self._k.agent(agent_id)))

    async def load_agents(self) -> list[Agent]:
        """Every agent, in id order."""
        return await self._hashes(self._k.agents, self._k.agent, codec.decode_agent)

    async def set_agent_state(self, agent_id: str, state: AgentState, now: float,
                              reason: str = "",
                              expect: frozenset[AgentState] | None = None,
                              needs_code: bool = False) -> Agent | None:
        """Compare-and-set: the new agent, or None if unknown or its state is not in `expect`.

        `expect=None` allows any current state. READY sets ready_since=now. A reserved or
        on_call agent is moved only if that is stale (its call is no longer ringing/connected
        with it); otherwise None: answer/requeue/end_call own that agent. Leaving wrap_up ends
        the wrap-up of its call (codes counted, call_wrapped); `needs_code`: not for ready or
        not_ready before a code was given (None).
        """
        change = StateChange(agent_id, state, reason, expect, needs_code)
        if _refused(change):
            return None

        async def run(call_id: str, last_queue: str, wrap_call: str) -> Any:
            script, keys, args = self._state_step(change, now, call_id, last_queue, wrap_call)
            return await script(keys=keys, args=args)

        reply = await self._with_hint(self._k.agent(agent_id),
                                      ("call_id", "last_queue", "wrap_call"), run,
                                      self._idle_hint(agent_id))
        return self._seen_agent(agent_id, agent_of(reply))

    def prepare_state(self, change: StateChange, now: float) -> Prepared[Agent | None]:
        """set_agent_state() as a prepared step (Store.run_prepared): with the hints of an
        idle agent; a busy one answers stale and is done again the ordinary way."""
        if _refused(change):  # never sent: expects no state (a script that changes nothing)
            raise ValueError(f"agent {change.agent_id}: no state allowed to change from")
        c = change
        return Prepared(
            self._state_step(c, now, *self._idle_hint(c.agent_id)),
            lambda reply: self._seen_agent(c.agent_id, agent_of(reply)),
            lambda: self.set_agent_state(c.agent_id, c.state, now, c.reason, c.expect,
                                         c.needs_code))

    def _idle_hint(self, agent_id: str) -> tuple[str, str, str]:
        # An idle agent needs no call key: try without reading its call_id first.
        return ("", self._agent_hints.get(agent_id, ""), self._wrap_hints.get(agent_id, ""))

    def _seen_agent(self, agent_id: str, agent: Agent | None) -> Agent | None:
        if agent is not None and agent.state is not AgentState.WRAP_UP:
            self._wrap_hints.pop(agent_id, None)
        return agent

    def _state_step(self, c: StateChange, now: float, call_id: str, last_queue: str,
                    wrap_call: str) -> Step:
        k = self._k
        start = interval_start(now)
        expected = "" if c.expect is None else ",".join(sorted(s.value for s in c.expect))
        return (self._lua.set_agent_state,
                [k.agent(c.agent_id), k.call(call_id), k.events,
                 k.agent_interval(c.agent_id, start), k.queue_interval(last_queue, start),
                 k.queue_recent(last_queue), k.call(wrap_call)],
                [*self._head(now), c.agent_id, c.state.value, c.reason, expected, call_id,
                 last_queue, self._stats_ttl_s, RECENT_KEEP_S, wrap_call,
                 "1" if c.needs_code else "0"])

    async def set_wrapup(self, agent_id: str, codes: list[str], resolved: bool | None,
                         now: float, *, add: bool = False, call_id: str = "") -> Agent | None:
        """Wrap-up codes of an agent in wrap-up (replaced, or `add`ed to those given) and its
        resolved answer (None: unchanged). None if it is not wrapping up (`call_id`'s) call.
        The codes are checked against the queue's list by the caller."""
        k = self._k
        reply = await self._lua.wrapup(
            keys=[k.agent(agent_id), k.events],
            args=[*self._head(now), agent_id, call_id, codec.enc_json(list(codes)),
                  "add" if add else "set", "" if resolved is None else codec.enc_bool(resolved)])
        return agent_of(reply)
