"""The CRM lookup's Redis side: its answer cache and its counts in the IVR funnel.

Plain commands, no script: one key each, nothing to keep atomic with another change.
"""

from __future__ import annotations

from acd.store.base import StoreBase, interval_start, text

MAX_KEY_LEN = 64  # a longer number or account is not a plausible one: not cached


class CrmSteps(StoreBase):
    async def crm_cached(self, by: str, key: str) -> str | None:
        """The cached answer (as stored by crm_cache), or None."""
        if not key or len(key) > MAX_KEY_LEN:
            return None
        raw = await self._r.get(self._k.crm_cache(by, key))
        return None if raw is None else text(raw)

    async def crm_cache(self, by: str, key: str, value: str, ttl_s: int) -> None:
        if key and len(key) <= MAX_KEY_LEN and ttl_s > 0:
            await self._r.set(self._k.crm_cache(by, key), value, ex=ttl_s)

    async def count_lookup(self, flow: str, node: str, outcome: str, now: float) -> None:
        """One lookup of `node` in `flow` ended with `outcome`: field `x:<node>:<outcome>` of
        the flow's funnel hash of now's interval (read back by StatsReader.funnel)."""
        key = self._k.funnel_interval(flow, interval_start(now))
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, f"x:{node}:{outcome}", 1)
            pipe.expire(key, self._stats_ttl_s)
            await pipe.execute()
