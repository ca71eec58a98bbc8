"""The claim script's bare round trip timed beside the load: the idle baseline's twin.

The idle baseline (routing.lua_baseline) times Store.claim with nothing else running. The
decisions it is compared with run on a machine whose two cores are shared by the service, the
simulator, Redis and the figures process: every round trip there waits for a core now and
then, and for Redis to finish another client's command. This probe, in a process of its own
(not the service's event loop), claims pairs seeded in a key prefix of their own, RATE_PER_S a
second, while a paced phase runs: what the same round trip costs on the loaded machine. It
adds a little load of its own (~100 claims a second); its figure stands beside the idle
baseline, it does not replace it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from bench.common import percentiles_ms, spawn_child

if TYPE_CHECKING:
    from acd.store import Store

RATE_PER_S = 100.0
PREFIX = "benchloaded"
PHASE_EXTRA_S = 1.0  # (0.5-0.7 s seen at the quick size)
SEED_AT_ONCE = 32  # pairs seeded side by side (each its own three round trips)


def pairs_for(phases: int, phase_s: float) -> int:
    """The pairs the probe claims beside `phases` paced phases of `phase_s` each (a claim
    uses one up). A phase is timed from before its pacing to after its last decisions are
    in: PHASE_EXTRA_S more."""
    return int(RATE_PER_S * phases * (phase_s + PHASE_EXTRA_S)) + 100


async def seed_pairs(store: Store, n: int, now: float) -> None:
    """n waiting calls b<i> and ready agents g<i> (one skill each) for Store.claim."""
    from acd.core.model import Agent, AgentState, Call

    async def pair(i: int) -> None:
        cid = f"b{i}"
        await store.create_call(Call(id=cid, channel=f"PJSIP/x-{i}", uniqueid=cid,
                                     caller_num="1", dnis="1", pbx="base", arrived_at=now))
        await store.enqueue(cid, "q", 0, {"s00": 1}, now, now)
        await store.sync_agent(Agent(id=f"g{i}", interface=f"PJSIP/g{i}", skills={"s00": 3},
                                     state=AgentState.READY, state_since=now, ready_since=now))

    for start in range(0, n, SEED_AT_ONCE):
        await asyncio.gather(*(pair(i) for i in range(start, min(n, start + SEED_AT_ONCE))))


class LoadedClaims:
    """The probe's process: start() seeds n pairs; each begin()/end() times claims between."""

    def __init__(self, proc: Any, conn: Connection) -> None:
        self.proc = proc
        self.conn = conn

    @classmethod
    async def start(cls, redis_url: str, n: int) -> LoadedClaims:
        probe = cls(*spawn_child(_child, redis_url, n))
        await probe._recv()  # seeded
        return probe

    async def _recv(self) -> Any:
        return await asyncio.to_thread(self.conn.recv)

    def begin(self) -> None:
        self.conn.send("go")

    async def end(self) -> dict[str, Any]:
        """The round trips timed since begin(), as percentiles (ms)."""
        self.conn.send("stop")
        samples: list[float] = await self._recv()
        return {**percentiles_ms(samples), "rate_per_s": RATE_PER_S}

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send("quit")
        await asyncio.to_thread(self.proc.join, 5)
        if self.proc.is_alive():
            self.proc.kill()
        self.conn.close()


def _child(conn: Connection, redis_url: str, n: int) -> None:
    asyncio.run(_main(conn, redis_url, n))


async def _main(conn: Connection, redis_url: str, n: int) -> None:
    from acd.store import Store

    store = await Store.open(redis_url, prefix=PREFIX, pbx="base")
    try:
        now = time.time()
        await seed_pairs(store, n, now)
        gc.freeze()  # (as the bench's other clients: its own pauses are not Redis's)
        gc.disable()
        conn.send("seeded")
        used = 0
        while await asyncio.to_thread(conn.recv) == "go":
            samples: list[float] = []
            t_start = time.perf_counter()
            while not conn.poll() and used < n:
                t0 = time.perf_counter()
                result = await store.claim(f"b{used}", f"g{used}", f"leg-{used}", now)
                samples.append(time.perf_counter() - t0)
                if not result.ok:
                    raise RuntimeError(f"loaded baseline: claim {used} refused: {result.reason}")
                used += 1
                due = t_start + len(samples) / RATE_PER_S
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if conn.recv() != "stop":
                return
            conn.send(samples)
    finally:
        await store.close()
