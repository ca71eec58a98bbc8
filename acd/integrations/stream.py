"""Raw Redis access for the integrations: THE one module of acd/integrations that imports redis.

The project rule is "only the store imports redis"; the integrations need commands the Store
does not offer (consumer groups: XGROUP/XREADGROUP/XACK/XAUTOCLAIM, and a few keys of their
own), so they are gathered here, behind a small typed surface, ready to move into acd/store.

Keys of the integrations live under the PBX's store base (`acd:{pbx}:int:...`), so they share
the PBX's Redis Cluster slot like every store key.
"""

from __future__ import annotations

import json
from typing import Any, Self

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from acd.store.keys import Keys

Entry = tuple[str, dict[str, str]]

IntegrationRedisError = RedisError  # callers catch this without importing redis


class IntKeys:
    """Key names of the integrations for one PBX."""

    def __init__(self, keys: Keys) -> None:
        self.base = f"{keys.base}:int"

    def track(self, call_id: str) -> str:
        """Hash: what the integrations remember of a live call (ring starts, rings, ...)."""
        return f"{self.base}:track:{call_id}"

    def agent(self, agent_id: str) -> str:
        """Hash: what the integrations remember of an agent (login time)."""
        return f"{self.base}:agent:{agent_id}"

    @property
    def records(self) -> str:
        """Stream: one call record per ended call (field `r`: JSON), capped."""
        return f"{self.base}:records"

    def wrapup(self, agent_id: str) -> str:
        """String (JSON): the record of the agent's last call, held until its wrap-up ends."""
        return f"{self.base}:wrapup:{agent_id}"

    def by_number(self, number: str) -> str:
        """List: the latest calls of a caller number, newest first (JSON each)."""
        return f"{self.base}:num:{number}"


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(raw: Any) -> list[Entry]:
    return [(_text(eid), {_text(f): _text(v) for f, v in (fields or {}).items()})
            for eid, fields in raw or []]


class IntegrationRedis:
    """One client for everything the integrations read and write."""

    def __init__(self, client: Redis) -> None:
        self._r = client

    @classmethod
    async def open(cls, url: str) -> Self:
        # No socket timeout: XREADGROUP blocks; a dead server still fails on the next command.
        client = Redis.from_url(url, decode_responses=True)
        await client.ping()
        return cls(client)

    async def close(self) -> None:
        await self._r.aclose()

    # --- consumer groups ---------------------------------------------------------------------

    async def ensure_group(self, stream: str, group: str, start_id: str) -> None:
        """Create the group at `start_id` unless it exists (then it keeps its position)."""
        try:
            await self._r.xgroup_create(stream, group, id=start_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read_group(self, stream: str, group: str, consumer: str, *, count: int,
                         block_ms: int | None, pending: bool = False) -> list[Entry]:
        """New entries (">"), or with `pending` this consumer's delivered-but-unacked ones.
        An entry trimmed from the stream meanwhile comes back with no fields (ack it)."""
        reply: Any = await self._r.xreadgroup(group, consumer, {stream: "0" if pending else ">"},
                                              count=count, block=block_ms)
        out: list[Entry] = []
        for _stream, entries in reply or []:
            out += _entries(entries)
        return out

    async def ack(self, stream: str, group: str, ids: list[str]) -> None:
        if ids:
            await self._r.xack(stream, group, *ids)

    async def claim_stale(self, stream: str, group: str, consumer: str, min_idle_ms: int,
                          count: int = 100) -> list[Entry]:
        """Take over entries another consumer (a dead instance) left unacked this long."""
        reply: Any = await self._r.xautoclaim(stream, group, consumer, min_idle_ms, "0-0",
                                              count=count)
        return _entries(reply[1] if reply else [])

    # --- small keys ----------------------------------------------------------------------------

    async def hgetall(self, key: str) -> dict[str, str]:
        return {_text(f): _text(v) for f, v in (await self._r.hgetall(key)).items()}

    async def hset(self, key: str, fields: dict[str, str], ttl_s: int) -> None:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(key, ttl_s)
            await pipe.execute()

    async def replace_hash(self, key: str, fields: dict[str, str], ttl_s: int) -> None:
        """The hash becomes exactly `fields` (deleted if empty)."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if fields:
                pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
                pipe.expire(key, ttl_s)
            await pipe.execute()

    async def set(self, key: str, value: str, ttl_s: int) -> None:
        await self._r.set(key, value, ex=ttl_s)

    async def getdel(self, key: str) -> str | None:
        """Read and delete at once: of two instances, one alone gets the value."""
        raw = await self._r.getdel(key)
        return None if raw is None else _text(raw)

    async def delete(self, key: str) -> None:
        await self._r.delete(key)

    async def push_recent(self, key: str, value: dict[str, Any], keep: int, ttl_s: int) -> None:
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.lpush(key, json.dumps(value, separators=(",", ":")))
            pipe.ltrim(key, 0, keep - 1)
            pipe.expire(key, ttl_s)
            await pipe.execute()

    async def recent(self, key: str) -> list[dict[str, Any]]:
        out = []
        for raw in await self._r.lrange(key, 0, -1):
            try:
                item = json.loads(_text(raw))
            except ValueError:
                continue
            if isinstance(item, dict):
                out.append(item)
        return out

    async def zrank(self, key: str, member: str) -> int | None:
        rank: Any = await self._r.zrank(key, member)
        return None if rank is None else int(rank)

    async def zcount_below(self, key: str, score: float) -> int:
        return int(await self._r.zcount(key, "-inf", f"({score!r}"))

    # --- records stream ------------------------------------------------------------------------

    async def xadd(self, stream: str, fields: dict[str, str], maxlen: int) -> str:
        return _text(await self._r.xadd(stream, fields, maxlen=maxlen,  # type: ignore[arg-type]
                                        approximate=True))

    async def xrange(self, stream: str, start: str, end: str, count: int) -> list[Entry]:
        return _entries(await self._r.xrange(stream, min=start, max=end, count=count))
