"""Leases: which service instance drives which call, so two instances on one PBX and one Redis
never both drive a call, and a call whose instance died is taken over by another.

An instance takes a call's lease when it first sees it (or when the lease has lapsed), renews
its leases well within their lifetime, and stops driving a call whose lease it lost. The store's
scripts still decide every race on calls and agents; leases only keep the AMI side single.
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
# waits behind it: 1,000 keys held Redis for 14-20 ms (10,000 calls renewed every 1.5 s);
# 100 took 0.5-1.7 ms beside routing at 200 decisions a second (the decisions' tail queued
# behind them); 50 halve that.
RENEW_BATCH = 50
SCAN_COUNT = 500  # live calls per SSCAN step


class LeaseSteps(StoreBase):
    async def acquire_lease(self, call_id: str, owner: str, ttl_ms: int) -> bool:
        """Take the call's lease if nobody holds it (or we do already)."""
        key = self._k.lease(call_id)
        if await self._r.set(key, owner, nx=True, px=ttl_ms):
            return True
        if text(await self._r.get(key)) == owner:
            await self._r.pexpire(key, ttl_ms)
            return True
        return False

    async def renew_leases(self, call_ids: list[str], owner: str, ttl_ms: int) -> list[str]:
        """Renew every lease we hold; returns the calls whose lease is no longer ours."""
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
        for start in range(0, len(call_ids), PIPELINE_BATCH):
            keys = [self._k.lease(c) for c in call_ids[start:start + PIPELINE_BATCH]]
            async with self._r.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.get(key)
                holders = await pipe.execute()
            mine = [k for k, holder in zip(keys, holders, strict=True) if text(holder) == owner]
            if mine:
                await self._r.delete(*mine)

    async def orphaned_calls(self, known: Collection[str] = ()) -> list[str]:
        """Live calls whose lease has lapsed: their instance is gone. Calls in `known` (those
        the caller drives and renews itself) are not looked at."""
        # SSCAN, not SMEMBERS: the set of 10,000 live calls in one reply held Redis (and the
        # routing claims behind it) 5-6 ms, every lease round. (SSCAN may repeat a member.)
        ids = sorted({call_id async for member in self._r.sscan_iter(
            self._k.live_calls, count=SCAN_COUNT) if (call_id := text(member)) not in known})
        held: list[Any] = []
        for start in range(0, len(ids), PIPELINE_BATCH):
            async with self._r.pipeline(transaction=False) as pipe:
                for call_id in ids[start:start + PIPELINE_BATCH]:
                    pipe.exists(self._k.lease(call_id))
                held += await pipe.execute()
        return [call_id for call_id, h in zip(ids, held, strict=True) if not h]

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
