"""Call steps: create, update, enqueue, claim, answer, requeue, end. Each is one Lua script."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from acd.core.model import Agent, AgentState, Call, CallOutcome, CallState
from acd.store import codec
from acd.store.base import (
    HINT_CACHE_MAX,
    RECENT_KEEP_S,
    Prepared,
    Run,
    Step,
    StoreBase,
    flat,
    interval_start,
    text,
)
from acd.store.results import (
    ClaimResult,
    EndResult,
    StoreError,
    call_and_agent,
    call_of,
    claim_result,
)

MAX_ABS_PRIORITY = 900  # keeps queue scores exact integers in a double (see lua/_lib.lua)
_BUSY = frozenset({AgentState.RESERVED, AgentState.ON_CALL})
# The call's own fields that script KEYS depend on (its queue, agent and IVR flow).
_CALL_HINT = ("queue", "agent_id", "flow")
_C = TypeVar("_C", Call, Call | None)


class CallSteps(StoreBase):
    async def create_call(self, call: Call) -> bool:
        """Store a new call in state ivr; False if the id exists (a replay)."""
        return bool(await self._create(call) == 1)

    async def create_leased_call(self, call: Call, owner: str, ttl_ms: int
                                 ) -> Literal["created", "exists", "leased"]:
        """acquire_lease, then create_call, in one round trip: "leased" (another instance that
        is alive holds the lease: nothing done), else the lease is `owner`'s and the call was
        "created" or "exists" (a replay)."""
        done = await self._create(call, (owner, ttl_ms))
        return "leased" if text(done) == "leased" else "created" if done == 1 else "exists"

    async def _create(self, call: Call, lease: tuple[str, int] | None = None) -> Any:
        """create_call.lua; with `lease` (owner, the lease key's TTL in ms), the call's lease
        taken first."""
        if call.state is not CallState.IVR:
            raise ValueError(f"a new call starts in state ivr, not {call.state}")
        k = self._k
        leased = [k.lease(call.id)] if lease else []
        done = await self._lua.create_call(
            keys=[k.call(call.id), k.live_calls, k.events, *leased],
            args=[*self._head(call.arrived_at), call.id,
                  *((*lease, k.instance_prefix) if lease else ()),
                  *flat(codec.encode_call(call))])
        if done == 1:
            self._seen(call)
        return done

    async def update_call(self, call_id: str, **fields: object) -> bool:
        """Change non-state fields of a live call; False if there is no such live call.

        A waiting call whose queue or priority changes moves in the queues at once.
        """
        encoded = codec.encode_call_update(fields)
        if "priority" in encoded:
            check_priority(int(encoded["priority"]))
        rescore = "queue" in encoded or "priority" in encoded
        k = self._k

        async def run(queue: str, _agent_id: str, _flow: str) -> Any:
            new_queue = encoded.get("queue", queue)
            return await self._lua.update_call(
                keys=[k.call(call_id), k.queue(queue), k.queue(new_queue), k.events],
                args=[*self._head(None), "1" if rescore else "0", queue, *flat(encoded)])

        # Without a re-score the hint is not used: skip the read.
        first = self._call_hints.get(call_id) if rescore else ("", "", "")
        done = bool(await self._with_hint(k.call(call_id), _CALL_HINT, run, first))
        old = self._call_hints.get(call_id)
        if done and old is not None:
            self._call_hints[call_id] = (encoded.get("queue", old[0]), old[1],
                                         encoded.get("flow", old[2]))
        return done

    async def set_priority(self, call_id: str, priority: int, now: float) -> Call | None:
        """Re-prioritise a waiting call (same entered_at); None if it is not waiting."""
        check_priority(priority)
        k = self._k

        async def run(queue: str, _agent_id: str, _flow: str) -> Any:
            return await self._lua.set_priority(
                keys=[k.call(call_id), k.queue(queue), k.events],
                args=[*self._head(now), call_id, int(priority), queue])

        return self._seen(call_of(await self._hinted(call_id, run)))

    async def get_call(self, call_id: str) -> Call | None:
        return self._seen(call_of(await self._r.hgetall(self._k.call(call_id))))

    async def load_live_calls(self) -> list[Call]:
        """Every call not ended, in id order."""
        return await self._hashes(self._k.live_calls, self._k.call,
                                  lambda h: self._seen(codec.decode_call(h)))

    async def enqueue(self, call_id: str, queue: str, priority: int, required: dict[str, int],
                      entered_at: float, now: float,
                      ewt_pred_s: float | None = None) -> Call | None:
        """ivr -> waiting in `queue`; None if the call is not in state ivr. `ewt_pred_s`: the
        EWT predicted for the caller now (kept for the accuracy figures)."""
        check_priority(priority)

        async def run(_queue: str, _agent_id: str, flow: str) -> Any:
            script, keys, args = self._enqueue_step(call_id, queue, priority, required,
                                                    entered_at, now, ewt_pred_s, flow)
            return await script(keys=keys, args=args)

        return self._seen(call_of(await self._hinted(call_id, run)))

    def prepare_enqueue(self, call_id: str, queue: str, priority: int,
                        required: dict[str, int], entered_at: float, now: float,
                        ewt_pred_s: float | None = None) -> Prepared[Call | None] | None:
        """enqueue() prepared for run_prepared (e.g. with the claim of the agent the call
        will go to: prepare_claim_in); None for a call the store has not seen."""
        check_priority(priority)
        hint = self._call_hints.get(call_id)
        if hint is None:
            return None
        return Prepared(
            self._enqueue_step(call_id, queue, priority, required, entered_at, now, ewt_pred_s,
                               hint[2]),
            lambda reply: self._seen(call_of(reply)),
            lambda: self.enqueue(call_id, queue, priority, required, entered_at, now,
                                 ewt_pred_s))

    def _enqueue_step(self, call_id: str, queue: str, priority: int, required: dict[str, int],
                      entered_at: float, now: float, ewt_pred_s: float | None, flow: str
                      ) -> Step:
        k = self._k
        start = interval_start(now)
        return (self._lua.enqueue,
                [k.call(call_id), k.queue(queue), k.events, k.queue_interval(queue, start),
                 k.queue_recent(queue), k.funnel_interval(flow, start)],
                [*self._head(now), call_id, queue, priority, codec.enc_json(required),
                 codec.enc_float(entered_at), flow, self._stats_ttl_s, RECENT_KEEP_S,
                 codec.enc_opt_float(ewt_pred_s)])

    async def claim(self, call_id: str, agent_id: str, leg_id: str, now: float) -> ClaimResult:
        """Atomically: waiting call -> ringing and ready agent -> reserved, or nothing."""
        async def run(queue: str, _agent_id: str, _flow: str) -> Any:
            script, keys, args = self._claim_step(call_id, agent_id, leg_id, now, queue)
            return await script(keys=keys, args=args)

        result = claim_result(await self._hinted(call_id, run))
        self._seen(result.call)
        return result

    async def claim_many(self, pairs: list[tuple[str, str, str]], now: float, *,
                         lean: bool = False) -> list[ClaimResult | Exception]:
        """claim() of each (call id, agent id, leg id): the calls the store has seen (their
        queue is the hint) in one round trip (run_prepared: a stale hint is redone), the others
        one by one. Each pair is atomic on its own; a pair whose script failed gets its
        exception. `lean`: as prepare_claim's."""
        out: list[ClaimResult | Exception | None] = [None] * len(pairs)
        hinted = [n for n, (call_id, _a, _l) in enumerate(pairs) if call_id in self._call_hints]
        results = await self.run_prepared([self._prepare_claim(*pairs[n], now, lean=lean)
                                           for n in hinted])
        for n, result in zip(hinted, results, strict=True):
            out[n] = result
        for n, (call_id, agent_id, leg_id) in enumerate(pairs):
            if out[n] is None:
                try:
                    out[n] = await self.claim(call_id, agent_id, leg_id, now)
                except StoreError as exc:
                    out[n] = exc
        return [r for r in out if r is not None]

    def prepare_claim(self, call_id: str, agent_id: str, leg_id: str, now: float, *,
                      lean: bool = False) -> Prepared[ClaimResult] | None:
        """claim() prepared for run_prepared; None for a call the store has not seen (its
        queue, the hint, unknown: claim() reads it first). `lean`: a won claim answers
        neither hash (ClaimResult.lean: the caller applies the change to its own copies,
        ClaimResult.claimed); a refused one answers both, as always."""
        return (self._prepare_claim(call_id, agent_id, leg_id, now, lean=lean)
                if call_id in self._call_hints else None)

    def prepare_claim_in(self, call_id: str, agent_id: str, leg_id: str, now: float,
                         queue: str, *, lean: bool = False) -> Prepared[ClaimResult]:
        """claim() prepared for a call that will be waiting in `queue` when it runs: after
        its prepare_enqueue, in the same round trip (a stale enqueue is redone first, then
        this claim). `lean`: as prepare_claim's."""
        return self._prepare_claim(call_id, agent_id, leg_id, now, queue, lean=lean)

    def _prepare_claim(self, call_id: str, agent_id: str, leg_id: str, now: float,
                       queue: str | None = None, *, lean: bool = False
                       ) -> Prepared[ClaimResult]:
        queue = self._call_hints[call_id][0] if queue is None else queue

        def decode(reply: Any) -> ClaimResult:
            result = claim_result(reply, now)
            if result.lean:  # where the call is now, for its next step's hint
                hint = self._call_hints.get(call_id)
                if hint is not None:  # (else the next step reads it, as for any call)
                    self._call_hints[call_id] = (queue, agent_id, hint[2])
            else:
                self._seen(result.call)
            return result

        return Prepared(self._claim_step(call_id, agent_id, leg_id, now, queue, lean), decode,
                        lambda: self.claim(call_id, agent_id, leg_id, now))

    def _claim_step(self, call_id: str, agent_id: str, leg_id: str, now: float, queue: str,
                    lean: bool = False) -> Step:
        k = self._k
        return (self._lua.claim,
                [k.call(call_id), k.agent(agent_id), k.queue(queue), k.events,
                 k.agent_interval(agent_id, interval_start(now))],
                [*self._head(now), call_id, agent_id, leg_id, queue, self._stats_ttl_s,
                 "1" if lean else ""])

    async def answer(self, call_id: str, leg_id: str, now: float,
                     leg_channel: str = "") -> tuple[Call, Agent] | None:
        """Ringing call on `leg_id` -> connected, its agent -> on_call; None if not matching.
        `leg_channel`: the leg's channel name, kept with the call (transfers bridge to it)."""
        k = self._k

        start = interval_start(now)

        async def run(queue: str, agent_id: str, _flow: str) -> Any:
            return await self._lua.answer(
                keys=[k.call(call_id), k.agent(agent_id), k.events,
                      k.queue_interval(queue, start), k.queue_recent(queue),
                      k.agent_interval(agent_id, start)],
                args=[*self._head(now), call_id, leg_id, agent_id, queue, self._stats_ttl_s,
                      RECENT_KEEP_S, leg_channel])

        pair = self._seen_pair(_with_agent(await self._hinted(call_id, run)))
        if pair is not None:  # where this agent's wrap-up will be charged
            if len(self._agent_hints) >= HINT_CACHE_MAX:
                self._agent_hints.clear()
            self._agent_hints[pair[1].id] = pair[0].queue
        return pair

    async def requeue(self, call_id: str, leg_id: str, now: float,
                      agent_state: AgentState = AgentState.NOT_READY,
                      agent_reason: str = "rona") -> tuple[Call, Agent] | None:
        """Ring-no-answer: back to waiting at its old place; its agent -> `agent_state`.

        None if the call is not ringing on `leg_id` (a replayed or late event).
        """
        _check_requeue(agent_state)

        async def run(queue: str, agent_id: str, _flow: str) -> Any:
            script, keys, args = self._requeue_step(call_id, leg_id, now, agent_state,
                                                    agent_reason, queue, agent_id)
            return await script(keys=keys, args=args)

        return self._seen_pair(_with_agent(await self._hinted(call_id, run)))

    def prepare_requeue(self, call_id: str, leg_id: str, now: float,
                        agent_state: AgentState = AgentState.NOT_READY,
                        agent_reason: str = "rona") -> Prepared[tuple[Call, Agent] | None] | None:
        """requeue() as a prepared step (Store.run_prepared); None when the store has not
        seen the call (no hint to build its keys from: use requeue())."""
        _check_requeue(agent_state)
        hint = self._call_hints.get(call_id)
        if hint is None:
            return None
        queue, agent_id, _flow = hint
        return Prepared(
            self._requeue_step(call_id, leg_id, now, agent_state, agent_reason, queue, agent_id),
            lambda reply: self._seen_pair(_with_agent(reply)),
            lambda: self.requeue(call_id, leg_id, now, agent_state, agent_reason))

    def _requeue_step(self, call_id: str, leg_id: str, now: float, agent_state: AgentState,
                      agent_reason: str, queue: str, agent_id: str) -> Step:
        k = self._k
        return (self._lua.requeue,
                [k.call(call_id), k.queue(queue), k.agent(agent_id), k.events,
                 k.agent_interval(agent_id, interval_start(now))],
                [*self._head(now), call_id, leg_id, queue, agent_id, agent_state.value,
                 agent_reason, self._stats_ttl_s])

    async def end_call(self, call_id: str, outcome: CallOutcome, now: float,
                       wrapup_s: float, ended_by: str = "") -> EndResult | None:
        """Any live state -> ended; frees its agent. None if already ended or unknown.
        `ended_by` ("caller", "agent" or ""): who hung up, kept in the call_ended event."""
        k = self._k
        start = interval_start(now)

        async def run(queue: str, agent_id: str, flow: str) -> Any:
            return await self._lua.end_call(
                keys=[k.call(call_id), k.live_calls, k.queue(queue), k.agent(agent_id),
                      k.events, k.queue_interval(queue, start), k.queue_recent(queue),
                      k.agent_interval(agent_id, start), k.funnel_interval(flow, start),
                      k.lease(call_id)],
                args=[*self._head(now), call_id, outcome.value, "1" if wrapup_s > 0 else "0",
                      queue, agent_id, self._ended_ttl_s, flow, self._stats_ttl_s,
                      RECENT_KEEP_S, ended_by])

        decoded = call_and_agent(await self._hinted(call_id, run))
        self._call_hints.pop(call_id, None)
        if decoded is not None and decoded[1] is not None \
                and decoded[1].state is AgentState.WRAP_UP:
            self.note_wrap(decoded[1].id, call_id)
        return None if decoded is None else EndResult(*decoded)

    async def _hinted(self, call_id: str, run: Run) -> Any:
        first = self._call_hints.get(call_id)
        return await self._with_hint(self._k.call(call_id), _CALL_HINT, run, first)

    def _seen(self, call: _C) -> _C:
        """Remember where a call is, for the next step's hint."""
        if call is None:
            return call
        if call.state is CallState.ENDED:
            self._call_hints.pop(call.id, None)
            return call
        if len(self._call_hints) >= HINT_CACHE_MAX:
            self._call_hints.clear()
        self._call_hints[call.id] = (call.queue, call.agent_id, call.flow)
        return call

    def _seen_pair(self, pair: tuple[Call, Agent] | None) -> tuple[Call, Agent] | None:
        if pair is not None:
            self._seen(pair[0])
        return pair


def _with_agent(reply: Any) -> tuple[Call, Agent] | None:
    decoded = call_and_agent(reply)
    if decoded is None:
        return None
    call, agent = decoded
    if agent is None:  # the scripts keep a ringing call and its agent paired: cannot happen
        raise StoreError(f"call {call.id} has no agent {call.agent_id!r}")
    return call, agent


def _check_requeue(agent_state: AgentState) -> None:
    if agent_state in _BUSY:
        raise ValueError(f"requeue cannot leave the agent {agent_state}")


def check_priority(priority: int) -> None:
    if abs(priority) > MAX_ABS_PRIORITY:
        raise ValueError(f"priority {priority} outside +-{MAX_ABS_PRIORITY}")
