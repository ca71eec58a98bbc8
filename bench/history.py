"""An hour of a busy centre's recent facts, written straight into the store's `queue_recent`
sets (the members answer.lua, end_call.lua, ... write; see acd/store/stats.py).

A centre mid-day holds the last hour of its calls there, and the figures' 15/60-minute
windows are counted from them; a bench that starts from an empty store would never see that
cost. One answered call leaves five facts (offered, answered, its EWT, handled, wrap-up).
"""

from __future__ import annotations

import random
import time
from typing import Any

import redis.asyncio as aioredis

from acd.store.keys import Keys

FACTS_PER_CALL = 5
PIPELINE = 2_000  # ZADDs per round trip


def members(call: str, agent: str, wait: float, talk: float) -> list[str]:
    return [f"o|{call}", f"a|{call}|{wait!r}", f"e|{call}|{wait + 5.0!r}|{wait!r}",
            f"h|{call}|{talk!r}", f"w|{agent}|{talk!r}|30.0"]


async def seed_hour(redis_url: str, pbx: str, queues: list[str], calls: int,
                    now: float | None = None, seed: int = 11) -> dict[str, Any]:
    """`calls` answered calls spread over the hour before `now` (default: the wall clock),
    queues picked at random; the facts of each at its own times (those still to come for the
    last calls are left out)."""
    now = time.time() if now is None else now
    rnd = random.Random(seed)
    keys = Keys(pbx=pbx)
    client = aioredis.Redis.from_url(redis_url)
    t0 = time.perf_counter()
    written = 0
    try:
        pipe = client.pipeline(transaction=False)
        for i in range(calls):
            queue = rnd.choice(queues)
            wait, talk = rnd.expovariate(1 / 20), rnd.expovariate(1 / 240)
            entered = now - 3590 + 3580 * i / max(1, calls)  # all inside the hour
            answered = entered + wait
            at = [entered, answered, answered, answered + talk, answered + talk + 30]
            facts = members(f"hist{i}", f"hist-agent{i % 997}", wait, talk)
            done = {m: t for m, t in zip(facts, at, strict=True) if t <= now}  # (not yet)
            pipe.zadd(keys.queue_recent(queue), done)
            written += len(done)
            if (i + 1) % (PIPELINE // FACTS_PER_CALL) == 0:
                await pipe.execute()
        await pipe.execute()
        for queue in queues:  # (the scripts keep them an hour past their last write)
            await client.expire(keys.queue_recent(queue), 3900)
    finally:
        await client.aclose()
    return {"calls": calls, "facts": written, "seconds": round(time.perf_counter() - t0, 2)}
