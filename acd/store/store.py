"""The Redis store: calls, agents, queues and the events stream of one PBX.

Every multi-key change is one Lua script (see lua/), atomic with the event it appends. Scripts
return the new state of what they changed, so callers can update their mirror without a read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from acd.core.model import Agent, AgentState, Call, CallOutcome, CallState
from acd.store import codec
from acd.store.keys import Keys
from acd.store.results import (
    ClaimResult,
    EndResult,
    StoreError,
    agent_of,
    call_and_agent,
    call_of,
    claim_result,
    is_stale,
)
from acd.store.scripts import Scripts

EVENTS_MAXLEN = 100_000
ENDED_TTL_S = 86_400  # an ended call stays readable (and replays stay no-ops) this long
MAX_ABS_PRIORITY = 900  # keeps queue scores exact integers in a double (see lua/_lib.lua)
_HINT_TRIES = 8

# Every Redis failure (server gone, timeout) raises a subclass of this; callers catch it from
# acd.store without importing redis.
BackendError = RedisError
_BUSY = frozenset({AgentState.RESERVED, AgentState.ON_CALL})

# (queue, agent_id) of a call as read just before a script; the script re-checks both.
Hint = tuple[str, str]


class Store:
    def __init__(self, client: Redis, keys: Keys, *, events_maxlen: int = EVENTS_MAXLEN,
                 ended_ttl_s: int = ENDED_TTL_S) -> None:
        self._r = client
        self._k = keys
        self._lua = Scripts.register(client)
        self._maxlen = events_maxlen
        self._ended_ttl_s = ended_ttl_s

    @classmethod
    async def open(cls, url: str, *, prefix: str = "acd", pbx: str = "default",
                   events_maxlen: int = EVENTS_MAXLEN, ended_ttl_s: int = ENDED_TTL_S) -> Store:
        """Connect and check the server answers (fail at start, not at the first call)."""
        keys = Keys(prefix, pbx)
        client = Redis.from_url(url, decode_responses=True)
        try:
            await client.ping()
        except RedisError as exc:
            await client.aclose()
            raise StoreError(f"Redis at {url} does not answer: {exc}") from exc
        return cls(client, keys, events_maxlen=events_maxlen, ended_ttl_s=ended_ttl_s)

    @property
    def keys(self) -> Keys:
        return self._k

    async def close(self) -> None:
        await self._r.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self._r.ping())
        except (RedisError, OSError):
            return False

    def _head(self, now: float | None) -> list[str | int]:
        # No `now` given (config sync, field updates): the event's stream id still dates it.
        return [codec.enc_opt_float(now), self._maxlen]

    async def _with_hint(self, call_id: str, run: Callable[[Hint], Awaitable[Any]]) -> Any:
        """Run a script whose KEYS depend on the call's queue and agent, read just before.

        The script answers 'stale' if they changed in between (another instance won the race);
        then read again. Cluster-safe: the script never builds a key itself.
        """
        for _ in range(_HINT_TRIES):
            queue, agent_id = await self._r.hmget(self._k.call(call_id), ["queue", "agent_id"])
            reply = await run((_text(queue), _text(agent_id)))
            if not is_stale(reply):
                return reply
        raise StoreError(f"call {call_id} kept changing under {_HINT_TRIES} tries")

    # --- calls

    async def create_call(self, call: Call) -> bool:
        """Store a new call in state ivr; False if the id exists (a replay)."""
        if call.state is not CallState.IVR:
            raise ValueError(f"a new call starts in state ivr, not {call.state}")
        k = self._k
        created = await self._lua.create_call(
            keys=[k.call(call.id), k.live_calls, k.events],
            args=[*self._head(call.arrived_at), call.id, *_flat(codec.encode_call(call))])
        return bool(created)

    async def update_call(self, call_id: str, **fields: object) -> bool:
        """Change non-state fields of a live call; False if there is no such live call."""
        encoded = codec.encode_call_update(fields)
        if "priority" in encoded:
            _check_priority(int(encoded["priority"]))
        flat = _flat(encoded)
        rescore = "queue" in fields or "priority" in fields
        new_queue = str(fields["queue"]) if "queue" in fields else None
        k = self._k

        async def run(hint: Hint) -> Any:
            return await self._lua.update_call(
                keys=[k.call(call_id), k.queue(hint[0]), k.queue(new_queue or hint[0]), k.events],
                args=[*self._head(None), "1" if rescore else "0", hint[0], *flat])

        if not rescore:
            return bool(await run(("", "")))
        return bool(await self._with_hint(call_id, run))

    async def get_call(self, call_id: str) -> Call | None:
        return call_of(await self._r.hgetall(self._k.call(call_id)))

    async def load_live_calls(self) -> list[Call]:
        ids = sorted(_text(i) for i in await self._r.smembers(self._k.live_calls))
        return [c for c in await self._hashes([self._k.call(i) for i in ids], call_of) if c]

    async def enqueue(self, call_id: str, queue: str, priority: int, required: dict[str, int],
                      entered_at: float, now: float) -> Call | None:
        """ivr -> waiting in `queue`; None if the call is not in state ivr."""
        _check_priority(priority)
        k = self._k
        flat = await self._lua.enqueue(
            keys=[k.call(call_id), k.queue(queue), k.events],
            args=[*self._head(now), call_id, queue, priority, codec.enc_json(required),
                  codec.enc_float(entered_at)])
        return call_of(flat)

    async def claim(self, call_id: str, agent_id: str, leg_id: str, now: float) -> ClaimResult:
        """Atomically: waiting call -> ringing and ready agent -> reserved, or nothing."""
        k = self._k

        async def run(hint: Hint) -> Any:
            return await self._lua.claim(
                keys=[k.call(call_id), k.agent(agent_id), k.queue(hint[0]), k.events],
                args=[*self._head(now), call_id, agent_id, leg_id, hint[0]])

        return claim_result(await self._with_hint(call_id, run))

    async def answer(self, call_id: str, leg_id: str, now: float) -> tuple[Call, Agent] | None:
        """Ringing call on `leg_id` -> connected, its agent -> on_call; None if not matching."""
        k = self._k

        async def run(hint: Hint) -> Any:
            return await self._lua.answer(
                keys=[k.call(call_id), k.agent(hint[1]), k.events],
                args=[*self._head(now), call_id, leg_id, hint[1]])

        decoded = call_and_agent(await self._with_hint(call_id, run))
        if decoded is None or decoded[1] is None:
            return None
        return decoded[0], decoded[1]

    async def requeue(self, call_id: str, leg_id: str, now: float,
                      agent_state: AgentState = AgentState.NOT_READY,
                      agent_reason: str = "rona") -> tuple[Call, Agent | None] | None:
        """Ring-no-answer: back to waiting at its old place; the agent -> `agent_state`.

        None if the call is not ringing on `leg_id`. The agent is None if it no longer exists.
        """
        if agent_state in _BUSY:
            raise ValueError(f"requeue cannot leave the agent {agent_state}")
        k = self._k

        async def run(hint: Hint) -> Any:
            return await self._lua.requeue(
                keys=[k.call(call_id), k.queue(hint[0]), k.agent(hint[1]), k.events],
                args=[*self._head(now), call_id, leg_id, hint[0], hint[1],
                      agent_state.value, agent_reason])

        return call_and_agent(await self._with_hint(call_id, run))

    async def end_call(self, call_id: str, outcome: CallOutcome, now: float,
                       wrapup_s: float) -> EndResult | None:
        """Any live state -> ended; frees its agent. None if already ended or unknown."""
        k = self._k

        async def run(hint: Hint) -> Any:
            return await self._lua.end_call(
                keys=[k.call(call_id), k.live_calls, k.queue(hint[0]), k.agent(hint[1]),
                      k.events],
                args=[*self._head(now), call_id, outcome.value, "1" if wrapup_s > 0 else "0",
                      hint[0], hint[1], self._ended_ttl_s])

        decoded = call_and_agent(await self._with_hint(call_id, run))
        return None if decoded is None else EndResult(*decoded)

    # --- agents

    async def sync_agent(self, agent: Agent) -> Agent:
        """Config fields from `agent`; its state fields only if the agent is new."""
        config = codec.encode_agent_config(agent)
        state = {f: v for f, v in codec.encode_agent(agent).items() if f not in config}
        k = self._k
        flat = await self._lua.sync_agent(
            keys=[k.agent(agent.id), k.agents, k.events],
            args=[*self._head(None), agent.id, len(config), *_flat(config), *_flat(state)])
        synced = agent_of(flat)
        if synced is None:
            raise StoreError(f"sync_agent returned nothing for {agent.id}")
        return synced

    async def remove_agent(self, agent_id: str, now: float | None = None) -> bool:
        """Delete an agent; False (and nothing done) while it is reserved or on a call."""
        k = self._k
        done = await self._lua.remove_agent(
            keys=[k.agent(agent_id), k.agents, k.events], args=[*self._head(now), agent_id])
        return int(done) >= 0

    async def get_agent(self, agent_id: str) -> Agent | None:
        return agent_of(await self._r.hgetall(self._k.agent(agent_id)))

    async def load_agents(self) -> list[Agent]:
        ids = sorted(_text(i) for i in await self._r.smembers(self._k.agents))
        return [a for a in await self._hashes([self._k.agent(i) for i in ids], agent_of) if a]

    async def set_agent_state(self, agent_id: str, state: AgentState, now: float,
                              reason: str = "",
                              expect: frozenset[AgentState] | None = None) -> Agent | None:
        """Compare-and-set; None if the agent is unknown or not in `expect`.

        Without `expect`, a reserved or on_call agent is left alone: only the call steps move
        it. List those states in `expect` to force it out (a repair).
        """
        if state in _BUSY:
            raise ValueError(f"only claim/answer set an agent {state}")
        if expect is not None and not expect:
            return None
        expected = "" if expect is None else ",".join(sorted(s.value for s in expect))
        k = self._k
        flat = await self._lua.set_agent_state(
            keys=[k.agent(agent_id), k.events],
            args=[*self._head(now), agent_id, state.value, reason, expected])
        return agent_of(flat)

    # --- order and lookups

    async def waiting_ids(self, queue: str) -> list[str]:
        """Waiting call ids of `queue`, best first."""
        return [_text(i) for i in await self._r.zrange(self._k.queue(queue), 0, -1)]

    async def is_vip(self, number: str, account: str) -> bool:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.sismember(self._k.vip_numbers, number)
            pipe.sismember(self._k.vip_accounts, account)
            found = await pipe.execute()
        return bool(number and found[0]) or bool(account and found[1])

    async def add_vips(self, numbers: list[str], accounts: list[str]) -> None:
        async with self._r.pipeline(transaction=False) as pipe:
            if numbers:
                pipe.sadd(self._k.vip_numbers, *numbers)
            if accounts:
                pipe.sadd(self._k.vip_accounts, *accounts)
            await pipe.execute()

    async def read_events(self, last_id: str = "0",
                          count: int = 1000) -> list[tuple[str, dict[str, str]]]:
        """Up to `count` events after `last_id`, oldest first."""
        entries = await self._r.xrange(self._k.events, min=f"({last_id}", count=count) or []
        return [(_text(eid), {_text(f): _text(v) for f, v in (fields or {}).items()})
                for eid, fields in entries]

    async def _hashes(self, keys: list[str], decode: Callable[[Any], Any]) -> list[Any]:
        async with self._r.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            replies = await pipe.execute()
        return [decode(reply) for reply in replies]


def _text(value: object) -> str:
    """A reply value as str (the client decodes; bytes only in the type stubs)."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _flat(fields: dict[str, str]) -> list[str]:
    return [x for kv in fields.items() for x in kv]


def _check_priority(priority: int) -> None:
    if abs(priority) > MAX_ABS_PRIORITY:
        raise ValueError(f"priority {priority} outside +-{MAX_ABS_PRIORITY}")
