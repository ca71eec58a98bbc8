"""Leases: which service instance drives which call, so two instances on one PBX and one Redis
never both drive a call, and a call whose instance died is taken over by another.

An instance is alive while it renews its own key (`mark_alive`); a call's lease names the
instance that drives it, and is anyone's once that instance's key has lapsed. So an instance
renews one key, not one per call (10,000 calls' leases every 1.5 s were scripts that held
Redis, and every routing claim behind them, 4 % of the time). The store's scripts still decide
every race on calls and agents; leases only keep the AMI side single.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from redis.asyncio import Redis

from acd.store.base import PIPELINE_BATCH, StoreBase, text
from acd.store.results import StoreError


class EventsRead(NamedTuple):
    last_id: str  # the last entry read (skipped or not): where the next read starts
    seen: int  # entries read, skipped ones included
    events: list[tuple[str, dict[str, str]]]  # (id, fields) of those not skipped

# Lease keys per renew_leases script. Redis runs one script at a time and every routing claim
# waits behind it: 1,000 keys held Redis for 14-20 ms; 100 took 0.5-1.7 ms beside routing at
# 200 decisions a second (the decisions' tail queued behind them); 50 halve that.
RENEW_BATCH = 50
SCAN_COUNT = 500  # live calls per SSCAN step


class LeaseSteps(StoreBase):
    async def mark_alive(self, owner: str, ttl_ms: int) -> bool:
        """The instance `owner` is alive for ttl_ms more. False if its key had lapsed (or is
        new): another instance may have taken its calls meanwhile (renew_leases says which)."""
        k = self._k
        return bool(await self._lua.mark_alive(keys=[k.instance(owner), k.instances],
                                              args=[owner, ttl_ms]))

    async def retire(self, owner: str) -> None:
        """The instance stops: its key goes, so the others take what it still drives at
        their next lease round instead of after its key's TTL."""
        await self._r.delete(self._k.instance(owner))

    async def lapsed_instances(self, asker: str) -> list[str]:
        """Instances known to have held leases whose key has lapsed (the asker is never one
        of them)."""
        ids = sorted(i for m in await self._r.smembers(self._k.instances)
                     if (i := text(m)) != asker)
        alive = await self._alive(ids)
        return [i for i in ids if i not in alive]

    async def forget_instances(self, ids: Collection[str]) -> None:
        """Lapsed instances that hold no live call any more: no need to look for their calls
        again (one that comes back adds itself when it is next marked alive)."""
        if ids:
            await self._r.srem(self._k.instances, *ids)

    async def acquire_lease(self, call_id: str, owner: str, ttl_ms: int) -> bool:
        """Take the call's lease unless an instance that is alive holds it (we may hold it
        already). `ttl_ms`: the lease key's own TTL (see Keys.lease)."""
        k = self._k
        return bool(await self._lua.acquire_lease(keys=[k.lease(call_id)],
                                                  args=[owner, ttl_ms, k.instance_prefix]))

    async def renew_leases(self, call_ids: list[str], owner: str, ttl_ms: int) -> list[str]:
        """Stamp these leases again (ttl_ms: the lease keys' TTL); returns the calls whose
        lease is no longer ours."""
        out: list[str] = []
        for start in range(0, len(call_ids), RENEW_BATCH):  # one script per batch of keys
            part = call_ids[start:start + RENEW_BATCH]
            lost = await self._lua.renew_leases(keys=[self._k.lease(c) for c in part],
                                                args=[owner, ttl_ms])
            out += [part[int(i) - 1] for i in lost or []]
        return out

    async def release_lease(self, call_id: str, owner: str) -> None:
        key = self._k.lease(call_id)
        if text(await self._r.get(key)) == owner:
            await self._r.delete(key)

    async def release_leases(self, call_ids: list[str], owner: str) -> None:
        """release_lease of every call, PIPELINE_BATCH calls per two round trips (a stopping
        instance hands thousands of calls over at once)."""
        keys = [self._k.lease(c) for c in call_ids]
        holders = await self._each("get", keys)
        mine = [k for k, holder in zip(keys, holders, strict=True) if text(holder) == owner]
        for start in range(0, len(mine), PIPELINE_BATCH):
            await self._r.delete(*mine[start:start + PIPELINE_BATCH])

    async def orphaned_calls(self, known: Collection[str] = ()) -> list[str]:
        """Live calls whose lease no alive instance holds: none, or one whose instance key
        has lapsed (it died). Calls in `known` (those the caller drives itself) are not looked
        at."""
        # SSCAN, not SMEMBERS: the set of 10,000 live calls in one reply held Redis (and the
        # routing claims behind it) 5-6 ms. (SSCAN may repeat a member.)
        ids = sorted({call_id async for member in self._r.sscan_iter(
            self._k.live_calls, count=SCAN_COUNT) if (call_id := text(member)) not in known})
        holders = [text(h) if h is not None else None
                   for h in await self._each("get", [self._k.lease(c) for c in ids])]
        alive = await self._alive(sorted({h for h in holders if h is not None}))
        return [call_id for call_id, holder in zip(ids, holders, strict=True)
                if holder not in alive]

    async def _alive(self, ids: list[str]) -> set[str]:
        """The instances of `ids` whose key has not lapsed."""
        there = await self._each("exists", [self._k.instance(i) for i in ids])
        return {i for i, up in zip(ids, there, strict=True) if up}

    async def _each(self, command: str, keys: list[str]) -> list[Any]:
        """One command of one key for each of `keys`, PIPELINE_BATCH to a round trip."""
        out: list[Any] = []
        for start in range(0, len(keys), PIPELINE_BATCH):
            async with self._r.pipeline(transaction=False) as pipe:
                for key in keys[start:start + PIPELINE_BATCH]:
                    getattr(pipe, command)(key)
                out += await pipe.execute()
        return out

    async def follow_events(self, last_id: str, block_ms: int,
                            count: int = 500, skip_by: str = "") -> EventsRead:
        """Events after `last_id` ("$": only new ones), waiting up to block_ms for the first;
        those whose `by` is `skip_by` (an instance's own, already in its mirror) are passed
        over without being copied (most of a busy instance's stream).

        Uses a client of its own without a socket timeout: a blocking read must not be taken
        for a dead connection."""
        if self._blocking is None:
            if self.closed:
                raise StoreError("the store is closed")
            pool_kwargs = self._r.connection_pool.connection_kwargs
            # from_pool: the client owns its pool and disconnects it when closed.
            self._blocking = Redis.from_pool(type(self._r.connection_pool)(
                connection_class=self._r.connection_pool.connection_class,
                **{**pool_kwargs, "socket_timeout": None}))
        reply: Any = await self._blocking.xread({self._k.events: last_id}, count=count,
                                                block=block_ms)
        events: list[tuple[str, dict[str, str]]] = []
        last, seen = last_id, 0
        for _stream, entries in reply or []:
            for eid, fields in entries:
                seen += 1
                last = eid
                if skip_by and fields and fields.get("by") == skip_by:
                    continue
                events.append((text(eid), {text(f): text(v) for f, v in (fields or {}).items()}))
        return EventsRead(text(last), seen, events)
