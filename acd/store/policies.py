"""Store steps of the caller-facing policies (acd/service/flow): overflow between queues,
post-call survey answers, the callback's request, failed attempts and retries.

Each step is one Lua script (lua/*.lua) that makes the change, counts it and appends its event,
like the call steps of calls.py; the same (queue, agent_id, flow) hint of the call is used.
"""

from __future__ import annotations

from typing import Any

from acd.core.model import Agent, Call, CallState
from acd.store import codec
from acd.store.base import RECENT_KEEP_S, StoreBase, interval_start
from acd.store.results import call_and_agent, call_of

_CALL_HINT = ("queue", "agent_id", "flow")


class PolicySteps(StoreBase):
    async def overflow(self, call_id: str, from_queue: str, to_queue: str,
                       required: dict[str, int], now: float,
                       ewt_pred_s: float | None) -> Call | None:
        """Waiting in `from_queue` -> waiting in `to_queue` (same priority and entry time, the
        given skills); None if the call is not waiting in `from_queue` any more."""
        k = self._k
        start = interval_start(now)

        async def run(queue: str, _agent_id: str, _flow: str) -> Any:
            if queue != from_queue:
                return False  # it moved meanwhile: not this step's call any more
            return await self._lua.overflow(
                keys=[k.call(call_id), k.queue(queue), k.queue(to_queue), k.events,
                      k.queue_interval(queue, start), k.queue_recent(queue),
                      k.queue_interval(to_queue, start), k.queue_recent(to_queue)],
                args=[*self._head(now), call_id, queue, to_queue, codec.enc_json(required),
                      codec.enc_opt_float(ewt_pred_s), self._stats_ttl_s, RECENT_KEEP_S])

        first = (from_queue, "", "")
        reply = await self._with_hint(k.call(call_id), _CALL_HINT, run, first)
        return self._remember(call_of(reply))

    async def survey_answer(self, call_id: str, question: str, value: int,
                            now: float) -> Call | None:
        """Keep one survey answer (checked by acd/core/survey.py) and count it; None when the
        call was never answered by an agent or has this answer already (once per call)."""
        k = self._k
        start = interval_start(now)

        async def run(queue: str, agent_id: str, _flow: str) -> Any:
            if not queue or not agent_id:
                return False  # never queued and answered: nothing to count it for
            return await self._lua.survey(
                keys=[k.call(call_id), k.events, k.queue_interval(queue, start),
                      k.queue_recent(queue), k.agent_interval(agent_id, start)],
                args=[*self._head(now), call_id, question, int(value), queue, agent_id,
                      self._stats_ttl_s, RECENT_KEEP_S])

        return call_of(await self._with_hint(k.call(call_id), _CALL_HINT, run))

    async def callback_request(self, call_id: str, number: str, now: float) -> Call | None:
        """A waiting call becomes a callback to `number` (keeping its place); None if it is
        not waiting or is one already."""
        k = self._k
        start = interval_start(now)

        async def run(queue: str, _agent_id: str, _flow: str) -> Any:
            return await self._lua.callback_request(
                keys=[k.call(call_id), k.events, k.queue_interval(queue, start),
                      k.queue_recent(queue)],
                args=[*self._head(now), call_id, number, queue, self._stats_ttl_s,
                      RECENT_KEEP_S])

        reply = await self._with_hint(k.call(call_id), _CALL_HINT, run,
                                      self._call_hints.get(call_id))
        return self._remember(call_of(reply))

    async def callback_attempt(self, call_id: str, leg_id: str, status: str,
                               retry_at: float | None,
                               now: float) -> tuple[Call, Agent | None] | None:
        """The customer was not reached on this attempt (`status`: the dial status): one more
        failed attempt; with `retry_at` the call waits (scheduled) and its agent is ready
        again, without it the call is left ringing for end_call(callback_failed). None if the
        call is not a callback ringing on `leg_id`."""
        k = self._k

        async def run(queue: str, agent_id: str, _flow: str) -> Any:
            return await self._lua.callback_attempt(
                keys=[k.call(call_id), k.queue(queue), k.agent(agent_id), k.events,
                      k.agent_interval(agent_id, interval_start(now))],
                args=[*self._head(now), call_id, leg_id, queue, agent_id, status,
                      codec.enc_opt_float(retry_at), self._stats_ttl_s])

        reply = await self._with_hint(k.call(call_id), _CALL_HINT, run,
                                      self._call_hints.get(call_id))
        decoded = call_and_agent(reply)
        if decoded is not None:
            self._remember(decoded[0])
        return decoded

    async def callback_due(self, call_id: str, now: float) -> Call | None:
        """A scheduled callback back to waiting at its place; None if it is not scheduled."""
        k = self._k

        async def run(queue: str, _agent_id: str, _flow: str) -> Any:
            return await self._lua.callback_due(
                keys=[k.call(call_id), k.queue(queue), k.events],
                args=[*self._head(now), call_id, queue])

        reply = await self._with_hint(k.call(call_id), _CALL_HINT, run,
                                      self._call_hints.get(call_id))
        return self._remember(call_of(reply))

    def _remember(self, call: Call | None) -> Call | None:
        """Keep the call hints of calls.py current (the next step's first guess)."""
        if call is not None:
            if call.state is CallState.ENDED:
                self._call_hints.pop(call.id, None)
            else:
                self._call_hints[call.id] = (call.queue, call.agent_id, call.flow)
        return call
