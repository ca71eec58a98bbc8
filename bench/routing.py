"""Routing: load waiting calls through the IVR, a login burst, then paced agent cycles.

Everything runs through the real wiring: the simulated PBX on a TCP port (in a child process
by default, bench/simproc.py, where both ends of a decision's latency are timed), the real
service attached to it over AMI, a real redis-server. Phones only ring: the simulator hangs a
rung leg up at once (a ring-no-answer: the call goes back to its place, the agent goes not
ready), and `*53` (unpause) frees the agent again, so the number of waiting calls stays
constant while the paced phase measures latency.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from acd.config import Config, parse_config
from acd.core.model import AgentState, Call, CallState
from acd.durations import Durations
from acd.gcpauses import GC_PAUSES, GcPauses
from acd.service.app import Service
from acd.service.engine import Engine
from acd.service.runtime import reset_runtime, start_runtime
from acd.store import Store
from acd.testing.harness import Harness, wait_for
from bench import api_load, centre, history
from bench.common import (
    CLIENTS_NICE,
    CpuShares,
    LoopLag,
    RedisSlowLog,
    percentiles_ms,
    redis_pid,
    redis_used_bytes,
    rss_mb,
    say,
)
from bench.loaded import LoadedClaims, seed_pairs
from bench.probe import EdgeProbe
from bench.simproc import SHIPPED_FILTERS, LocalSim, RemoteSim, bench_phone

log = logging.getLogger("bench.routing")


Sim = LocalSim | RemoteSim
# The latency curve: paced again at these rates (per s) below the first one.
LADDER = (500.0, 200.0, 100.0, 50.0)
# Calls an agent answered in the hour before the run (AHT 5 min, fully busy): the facts the
# figures' 15/60-minute windows hold in a centre that has been running.
HOUR_CALLS_PER_AGENT = 12
# Calls a second that arrive to ready agents (the call-first decision): the arrival queue's
# agents answer and are free again within ~0.2 s, so a few dozen agents keep up.
ARRIVAL_RATE_PER_S = 20.0
# paced(): the agents to free in the next 20 ms go to the simulator in one question
PLAN_AHEAD_S = 0.02
KEEPS_UP_P50 = 2.0  # a rate keeps up while its p50 is within this many times the least one's


def paced_phases(latency_curve: bool) -> int:
    """At most how many paced phases run() has (the top rate, and the ladder below it): what
    a probe beside every paced phase (bench/loaded.py) must last."""
    return 1 + len(LADDER) if latency_curve else 1


@dataclass
class Rig:
    """The service under test and the simulated PBX it is attached to."""

    service: Service
    cfg: Config
    sim: Sim
    harness: Harness | None = None  # with the sim in this process

    @property
    def engine(self) -> Engine:
        assert self.service.engine is not None
        return self.service.engine


def _in_state(h: Rig, state: CallState) -> list[Call]:
    return [c for c in h.engine.calls.values() if c.state is state]


def _count(h: Rig, state: CallState) -> int:
    return len(_in_state(h, state))


async def load_calls(h: Rig, sizes: centre.Sizes, *, window: int = 400,
                     timeout_s: float = 120.0) -> dict[str, Any]:
    """Place sizes.calls callers (spread over the queues) through the IVR until all wait."""
    t0 = time.perf_counter()
    placed = 0
    deadline = time.monotonic() + timeout_s
    while True:
        # (the waiting index's size, not a count over every call: at 10,000 calls, 50 counts
        # a second were a tenth of the routing process's time while loading)
        waiting = len(h.engine.mirror.index)
        if placed >= sizes.calls and waiting >= sizes.calls:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {waiting} of {sizes.calls} calls waiting "
                               f"({placed} placed, {_count(h, CallState.IVR)} in the IVR)")
        # Keep at most `window` callers in the IVR at once: a real PBX's arrivals are spread too.
        room = max(0, min(window - (placed - waiting), sizes.calls - placed))
        if room:
            await h.sim.call("place_calls", [(f"55{n:07d}", centre.dnis_of(n % sizes.queues))
                                             for n in range(placed, placed + room)])
            placed += room
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - t0
    return {"calls": sizes.calls, "seconds": round(elapsed, 3),
            "calls_per_s": round(sizes.calls / elapsed, 1)}


async def burst(h: Rig, expected: int, *, stall_s: float = 30.0) -> dict[str, Any]:
    """Every agent logs in (*51) at once; count the Originates that follow.

    The simulated PBX produces the 500-5,000 login events with its output held, then sends
    them in one write: the service gets the whole burst at once, and the rate measured is the
    service's own (with the sim dialling in real time, the sim's ~1 ms per feature-code call
    was most of the measured time)."""
    await h.sim.call("reset")
    exts = [a.extension for a in h.cfg.agents.values()]
    t_dial = time.perf_counter()
    await h.sim.call("hold", exts, "*51")
    await wait_for_async(lambda: _held(h, len(exts)), 60.0, "the sim to produce the logins")
    dial_s = time.perf_counter() - t_dial
    lag = LoopLag().start()
    t0 = await h.sim.call("release")
    last_n, last_change = -1, time.monotonic()
    while True:
        n = (await h.sim.call("status"))["originates"]
        if n >= expected:
            break
        if n != last_n:
            last_n, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            break
        await asyncio.sleep(0.01)
    lag_p = await lag.stop()
    res = await h.sim.call("results")
    n = res["originates"]
    t_end = res["last_originate"] if n else time.perf_counter()
    elapsed = max(1e-9, t_end - t0)
    return {"agents_logged_in": len(h.cfg.agents), "decisions": n, "expected": expected,
            "seconds": round(elapsed, 3), "sim_dial_s": round(dial_s, 3),
            "decisions_per_s": round(n / elapsed, 1),
            "latency_ms": percentiles_ms(res["latencies"]),
            "latency_in_sim_ms": percentiles_ms(res["latencies_in_sim"]), "loop_lag_ms": lag_p}


async def _held(h: Rig, n: int) -> bool:
    return bool(await h.sim.call("held") >= n)


async def wait_for_async(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str
                         ) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def reject_all(h: Rig, timeout_s: float = 120.0) -> float:
    """Hang up every ringing agent leg (a ring-no-answer): agents go not ready, calls back."""
    t0 = time.perf_counter()
    await h.sim.call("reject_all")
    await wait_for(lambda: _count(h, CallState.RINGING) == 0, timeout_s, "every leg rejected")
    late = len((await h.sim.call("tick", []))["rang"])
    if late:
        say(f"{late} legs rang after the burst was over (rejected too)")
    return time.perf_counter() - t0


def arrival_ids(h: Rig) -> set[str]:
    return {aid for aid, a in h.cfg.agents.items() if centre.ARRIVAL_SKILL in a.skills}


async def arrivals(h: Rig, rate_per_s: float, duration_s: float) -> dict[str, Any]:
    """Calls arrive, one every 1/rate s, to agents ready and idle (the arrival queue, which no
    other call reaches: bench/centre.py): the call-first decision, timed from the event that
    brings the call (AsyncAGIStart) to the Originate that rings its agent. The agents answer
    at once and hang up after a short talk (bench/simproc.py)."""
    await h.sim.call("reset")
    ids = arrival_ids(h)
    agents = h.engine.agents
    codes = {AgentState.LOGGED_OUT: "*51", AgentState.NOT_READY: "*53"}
    for aid in ids:
        code = codes.get(agents[aid].state)
        if code is not None:
            await h.sim.call("dial", [h.cfg.agents[aid].extension], code)
    await wait_for(lambda: all(agents[a].state is AgentState.READY for a in ids), 60.0,
                   "the arrival queue's agents ready")
    t_start = time.perf_counter()
    placed = 0
    while (now := time.perf_counter()) - t_start < duration_s:
        due = int((now - t_start) * rate_per_s) + 1
        if due > placed:
            placed = await h.sim.call("place_arrivals", due - placed)
        await asyncio.sleep(0.002)
    seconds = time.perf_counter() - t_start
    await wait_for_async(lambda: _rung(h, placed), 60.0, "every arrival rung")
    res = await h.sim.call("results")
    await wait_for(lambda: all(agents[a].state is AgentState.READY for a in ids), 60.0,
                   "the arrival queue's agents ready again")
    return {"rate_target_per_s": rate_per_s, "calls": placed, "seconds": round(seconds, 3),
            "agents": len(ids), "decisions": len(res["arrival_latencies"]),
            "latency_ms": percentiles_ms(res["arrival_latencies"]),
            "latency_in_sim_ms": percentiles_ms(res["arrival_latencies_in_sim"])}


async def _rung(h: Rig, n: int) -> bool:
    return bool((await h.sim.call("status"))["arrivals_rung"] >= n)


async def paced(h: Rig, rate_per_s: float, duration_s: float) -> dict[str, Any]:
    """Free one agent every 1/rate s (*53 unpause) and measure event -> Originate latency.

    A freed agent is rung (and the sim rejects the leg at once): it is free again once the
    service has put it back to not ready."""
    await h.sim.call("reset", True)
    agents = h.engine.agents
    ext_of = {aid: a.extension for aid, a in h.cfg.agents.items()}
    aid_of = {ext: aid for aid, ext in ext_of.items()}
    arriving = arrival_ids(h)  # (those take arriving calls only: bench/centre.py)
    idle = [aid for aid, a in agents.items() if a.state is AgentState.NOT_READY
            and aid not in arriving]
    returning: set[str] = set()
    lag = LoopLag().start()
    slow = await RedisSlowLog(h.service.redis_url).start()
    edge = EdgeProbe(h.engine, {a.extension: a.interface for a in h.cfg.agents.values()})
    cpu = CpuShares(await process_ids(h)).start()
    t_start = time.perf_counter()
    sent = 0
    starved = 0
    originates = 0
    while True:
        now = time.perf_counter()
        if now - t_start >= duration_s:
            break
        if returning:
            back = [a for a in returning if agents[a].state is AgentState.NOT_READY]
            returning.difference_update(back)
            idle.extend(back)
        # The frees due before the next step go to the simulator with their times: its own
        # timers dial them. (Asked one by one, every 2 ms, the bench's questions were a busy
        # part of the service's own loop, which they share, and of the simulator's.)
        horizon = min(now + PLAN_AHEAD_S, t_start + duration_s)
        frees: list[tuple[str, float]] = []
        while (at := t_start + sent / rate_per_s) < horizon:
            if not idle:
                starved += 1
                break
            frees.append((ext_of[idle.pop(0)], at))
            sent += 1
        tick = await h.sim.call("plan", frees)
        returning.update(aid_of[e] for e in tick["rang"] if e in aid_of)
        originates = tick["originates"]
        await asyncio.sleep(PLAN_AHEAD_S / 2)
    t_end = time.perf_counter()
    cores = cpu.stop()
    deadline = time.monotonic() + 60
    while originates < sent and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        originates = (await h.sim.call("status"))["originates"]
    if originates < sent:  # reported (decisions < freed), not hidden
        say(f"only {originates} of {sent} freed agents were rung within 60 s")
    res = await h.sim.call("results")
    await h.sim.call("reset")  # auto-reject off
    edge.close()
    lag_p = await lag.stop()
    redis_slow = await slow.stop()
    return {"rate_target_per_s": rate_per_s, "freed": sent, "decisions": res["originates"],
            "seconds": round(t_end - t_start, 3),
            "rate_achieved_per_s": round(sent / (t_end - t_start), 1),
            "starved_ticks": starved, "latency_ms": percentiles_ms(res["latencies"]),
            # the same decisions timed inside the simulator (bench/simproc.py), and at the
            # service's edge (bench/probe.py)
            "latency_in_sim_ms": percentiles_ms(res["latencies_in_sim"]),
            "wire_sessions": res["wire"],
            "service_latency_ms": percentiles_ms(edge.latencies),
            "loop_lag_ms": lag_p, "stalls": stalls(res["slow"]), "sim_gc": res["gc"],
            "sim_loop_lag_ms": res["loop_lag_ms"], "redis_slowlog": redis_slow,
            "cpu_cores": cores,
            "service_cpu_ms_per_decision": _per_decision(cores, sent, t_end - t_start)}


async def process_ids(h: Rig) -> dict[str, int | None]:
    """The processes whose CPU a phase reports (CpuShares): this one (the service's routing,
    with the bench's own driving loop), the figures process, the simulator (None in this
    process) and redis-server."""
    figures = h.service.figures
    return {"service": os.getpid(), "figures": figures.pid if figures is not None else None,
            "sim": h.sim.proc.pid if isinstance(h.sim, RemoteSim) else None,
            "redis": await redis_pid(h.service.redis_url)}


def _per_decision(cores: dict[str, float | None], freed: int, seconds: float) -> float | None:
    """The routing process's CPU ms per agent freed in the phase (with what it does anyway:
    timers, hold-loop bookkeeping, the bench's own driving)."""
    service = cores.get("service")
    return None if service is None or not freed else round(1000 * service * seconds / freed, 3)


STALL_GAP_S = 0.25


def stalls(slow: list[tuple[float, float]]) -> dict[str, Any]:
    """Slow decisions (over simproc.SLOW_S) grouped into episodes: those freed within
    STALL_GAP_S of one another are one. Few episodes holding many slow decisions are stalls
    (something stopped a process for a while); slow decisions spread out are a queue."""
    episodes: list[list[tuple[float, float]]] = []
    for t0, took in sorted(slow):
        if episodes and t0 - episodes[-1][-1][0] <= STALL_GAP_S:
            episodes[-1].append((t0, took))
        else:
            episodes.append([(t0, took)])
    worst = sorted(episodes, key=lambda e: -max(x for _, x in e))[:5]
    return {"slow_decisions": len(slow), "episodes": len(episodes),
            "worst": [{"decisions": len(e), "longest_ms": round(1000 * max(x for _, x in e), 1),
                       "span_ms": round(1000 * (e[-1][0] - e[0][0]), 1)} for e in worst]}


def keeps_up(ladder: list[dict[str, Any]]) -> dict[str, Any]:
    """The phase at the highest rate the service keeps up with: every freed agent rung, and
    its median latency within KEEPS_UP_P50 times the least median of the rungs that rang
    every agent (above it, events queue up and the latency is the queue's). The first phase
    if none does.

    The floor is the least median, not the lightest rate's: at 50/s every process sleeps
    between decisions and is woken from idle for each, so that median is higher than at
    200/s (1.05 against 0.82 ms, quick, session 20), and measured against it a rate whose
    median had doubled (1,000/s: 3.2 ms, 5.6x the least) counted as kept up in some runs and
    not in others."""
    rung = [p for p in ladder if p["decisions"] >= p["freed"] and p["latency_ms"]["p50"]]
    if not rung:
        return ladder[0]
    floor = min(p["latency_ms"]["p50"] for p in rung)
    ok = [p for p in rung if p["latency_ms"]["p50"] <= KEEPS_UP_P50 * floor]
    return max(ok, key=lambda p: p["rate_target_per_s"])


def _backlog(h: Rig) -> str:
    """What keeps the service from having caught up: its inbox and the legs still ringing."""
    now = h.engine.now()
    ringing = _in_state(h, CallState.RINGING)
    shown = ", ".join(f"{c.id} (agent {c.agent_id}, leg {c.leg_id}, in queue since "
                      f"{now - (c.entered_at or now):.0f} s)" for c in ringing[:5])
    return (f"{h.engine.inbox.qsize()} events in the inbox, {len(ringing)} calls ringing"
            + (f": {shown}" if shown else ""))


SETTLED_RTT_S = 0.02  # a question to the simulator answered this fast: it has caught up


async def settle(h: Rig, timeout_s: float = 120.0) -> None:
    """Wait until the service has caught up with the previous phase (nothing in its inbox,
    no leg ringing) and so has the simulator (three questions in a row answered within
    SETTLED_RTT_S: after the full size's burst it spends seconds putting 5,000 callers back
    into their hold loops): a backlog would otherwise be counted in the next phase's latency."""
    try:
        await wait_for(lambda: h.engine.inbox.qsize() == 0
                       and _count(h, CallState.RINGING) == 0, timeout_s,
                       "the service to catch up")
    except TimeoutError:
        raise TimeoutError(f"the service did not catch up within {timeout_s} s: "
                           f"{_backlog(h)}") from None
    deadline = time.monotonic() + timeout_s
    quick = 0
    while quick < 3:
        if time.monotonic() > deadline:  # said, not fatal: a busy machine is not a failure
            say(f"the simulator did not settle within {timeout_s} s: the next phase's "
                "latency includes its backlog")
            break
        t0 = time.perf_counter()
        await h.sim.call("status")
        quick = quick + 1 if time.perf_counter() - t0 < SETTLED_RTT_S else 0
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)


async def lua_baseline(redis_url: str, n: int) -> dict[str, Any]:
    """The bare round trip of the claim script from Python: Store.claim on pairs seeded in a
    separate key prefix of the same Redis (one EVALSHA each, on the store's script lane as
    routing's; the hint is cached)."""
    store = await Store.open(redis_url, prefix="benchbase", pbx="base")
    try:
        now = time.time()
        await seed_pairs(store, n, now)
        samples = []
        for i in range(n):
            t0 = time.perf_counter()
            result = await store.claim(f"b{i}", f"g{i}", f"leg-{i}", now)
            samples.append(time.perf_counter() - t0)
            assert result.ok, result.reason
        return percentiles_ms(samples)
    finally:
        await store.close()


async def run(sizes: centre.Sizes, redis_url: str, *, paced_rate: float, paced_s: float,
              api_pollers: int = 0, api_s: float = 0.0, api_interval_s: float = 1.0,
              snapshot_interval_s: float = 1.0, own_process: bool = False,
              sim_in_process: bool = False, latency_curve: bool = False,
              call_first: bool = True, loaded: LoadedClaims | None = None) -> dict[str, Any]:
    """The routing scenario at `sizes`; with api_pollers, then the API under routing load.

    paced_rate: agents freed per second in the paced phase, capped at half the burst rate
    measured just before (so the latency is that of a service that keeps up). call_first:
    calls arriving to ready agents too, for `paced_s` (arrivals; the scale curve leaves it
    out, for the quick run's time). loaded: the claim script timed beside each paced phase
    too, in a process of its own (bench/loaded.py)."""
    out: dict[str, Any] = {"sizes": sizes.as_dict()}
    cfg = centre.build(sizes, snapshot_interval_s=snapshot_interval_s,
                       own_process=own_process)
    out["own_process"] = own_process
    redis0, rss0 = await redis_used_bytes(redis_url), rss_mb()
    t0 = time.perf_counter()
    h = await start(cfg, redis_url, sim_in_process=sim_in_process)
    out["sim"] = "in process" if sim_in_process else "child process"
    out["start_s"] = round(time.perf_counter() - t0, 3)
    try:
        redis1, rss1 = await redis_used_bytes(redis_url), rss_mb()
        say(f"routing {sizes}: service up in {out['start_s']} s; loading calls")
        out["load"] = await load_calls(h, sizes, timeout_s=120 + sizes.calls / 10)
        say(f"loaded: {out['load']}")
        await asyncio.sleep(0.5)
        redis2, rss2 = await redis_used_bytes(redis_url), rss_mb()
        out["memory"] = {
            "rss_mb": round(rss2, 1),
            "rss_mb_before_service": round(rss0, 1),
            "redis_bytes_per_agent": round((redis1 - redis0) / len(h.cfg.agents)),
            "redis_bytes_per_waiting_call": round((redis2 - redis1) / sizes.calls),
            "rss_bytes_per_agent": round((rss1 - rss0) * 1e6 / len(h.cfg.agents)),
            "rss_bytes_per_waiting_call": round((rss2 - rss1) * 1e6 / sizes.calls),
            "redis_used_mb": round(redis2 / 1e6, 2),
            "figures_rss_mb": figures_rss_mb(h),  # http.own_process: the 2nd process
        }
        # The last hour of a centre that has run all morning: its figures' windows count it.
        out["history"] = await history.seed_hour(
            redis_url, h.cfg.pbx.name, list(h.cfg.queues), HOUR_CALLS_PER_AGENT * sizes.agents)
        say(f"an hour of facts: {out['history']}")
        pauses = GC_PAUSES.copy()
        out["burst"] = await burst(h, min(sizes.agents, sizes.calls))
        out["burst"]["gc"] = GC_PAUSES.since(pauses)
        say(f"burst: {out['burst']['decisions_per_s']} decisions/s "
            f"({out['burst']['decisions']} of {out['burst']['expected']})")
        out["reject_all_s"] = round(await reject_all(h), 3)
        if call_first:
            await settle(h)
            out["arrivals"] = await arrivals(h, ARRIVAL_RATE_PER_S, paced_s)
            first = out["arrivals"]["latency_ms"]
            say(f"calls arriving at {ARRIVAL_RATE_PER_S}/s to ready agents: p50 {first['p50']} "
                f"ms, p99 {first['p99']} ms")
        top = max(1.0, min(paced_rate, 0.5 * out["burst"]["decisions_per_s"]))
        rates = [top]
        if latency_curve:  # and lighter loads: where queueing behind other work stops
            rates += [r for r in LADDER if r < top]
        ladder = []
        for rate in rates:
            await settle(h)  # (the first too: the burst's aftermath is not a steady state)
            pauses = GC_PAUSES.copy()
            if loaded is not None:
                loaded.begin()
            ladder.append(await paced(h, rate, paced_s))
            if loaded is not None:
                ladder[-1]["baseline_lua_loaded_ms"] = await loaded.end()
            # the collector's pauses in the service's process meanwhile: a stall, not a queue
            ladder[-1]["gc"] = GC_PAUSES.since(pauses)
            say(f"paced at {rate}/s: p50 {ladder[-1]['latency_ms']['p50']} ms, "
                f"p99 {ladder[-1]['latency_ms']['p99']} ms")
        out["paced"] = keeps_up(ladder)
        out["paced_ladder"] = ladder
        rate = out["paced"]["rate_target_per_s"]
        if api_pollers:
            await settle(h)
            out["api"] = await _api(h, rate, api_pollers, api_s, api_interval_s)
        out["waiting_during_paced"] = _count(h, CallState.WAITING) + _count(h, CallState.RINGING)
        out["memory"]["rss_mb_end"] = round(rss_mb(), 1)
        out["memory"]["figures_rss_mb_end"] = figures_rss_mb(h)
        # Last, after the readings above: it builds whole figures snapshots in this process,
        # which the routing process never does in service (the figures process does). At the
        # full size ~180 MB of that stayed in this process's RSS, read as the service's.
        out["snapshot"] = await snapshot_cost(h)
        say(f"snapshot: {out['snapshot']}")
    finally:
        out["stop_s"] = await stop(h)
    return out


def figures_rss_mb(h: Rig) -> float | None:
    """RSS of the figures process (http.own_process), None without one."""
    child = h.service.figures
    if child is None or child.pid is None:
        return None
    try:
        return round(rss_mb(child.pid), 1)
    except OSError:  # gone (being restarted)
        return None


async def stop(h: Rig, timeout_s: float = 20.0) -> float | None:
    """Stop the service and the sim; the seconds it took, or None if the service's stop hung
    (seen with the engine's consumer task stuck 'cancelling': reported, then abandoned)."""
    t0 = time.perf_counter()
    # Not asyncio.wait_for: on timeout it waits for the cancelled stop to finish, and a stop
    # whose engine swallowed a cancellation never does.
    task = asyncio.ensure_future(h.service.stop())
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    hung = task not in done
    if hung:
        say(f"the service did not stop within {timeout_s} s: abandoned")
        task.cancel()
        _cancel_leftovers(h)
    else:
        task.result()
    await h.sim.stop()
    reset_runtime()  # (the next service of the run tunes it again; the tests share this process)
    return None if hung else round(time.perf_counter() - t0, 3)


async def _api(h: Rig, rate: float, pollers: int, seconds: float, interval_s: float
               ) -> dict[str, Any]:
    """The clients (child process) against the live service: polling every interval_s with
    routing idle (`routing_idle`), then while the paced routing runs: polling (with the SSE
    listeners), then in a closed loop (`saturation`).
    Routing's latency during each is kept (`routing_during`): do the clients hurt it?"""
    import aiohttp

    base = f"http://127.0.0.1:{h.service.http_port}/api/v1"
    async with aiohttp.ClientSession() as session, session.get(
            f"{base}/queues", headers={"Accept-Encoding": "identity"}) as resp:
        body = await resp.read()
    async with aiohttp.ClientSession(auto_decompress=False) as session, session.get(
            f"{base}/queues", headers={"Accept-Encoding": "gzip"}) as resp:
        gzip_bytes = len(await resp.read())

    async def phase(stream: str | None, span: float, every: float | None) -> dict[str, Any]:
        # (+3 s: the clients' process starts and opens its connections before it times)
        routing_task = asyncio.create_task(paced(h, rate, span + 3.0))
        out = await api_load.measure(f"{base}/queues", stream, pollers, span, every)
        out["routing_during"] = await routing_task
        return out

    # The same pollers with routing idle first: the API's own cost, apart from what sharing
    # two cores with routing at `rate` adds (the figure of the target is the next phase's).
    before = await api_process(base)
    idle = await api_load.measure(f"{base}/queues", None, pollers,
                                  api_load.poll_seconds(seconds, interval_s), interval_s)
    idle["api_process"] = await api_process_since(base, before)
    say(f"api polled every {interval_s} s, routing idle: {idle['requests_per_s']} req/s, p99 "
        f"{idle['latency_ms']['p99']} ms")
    await settle(h)

    # The listeners ask for what the wallboard shows (acd/api/static/wallboard.js), as it does.
    before = await api_process(base)
    result = await phase(f"{base}/stream?parts=centre,queues,agents",
                         api_load.poll_seconds(seconds, interval_s),
                         interval_s)
    result["api_process"] = await api_process_since(base, before)
    say(f"api polled every {interval_s} s: {result['requests_per_s']} req/s, p99 "
        f"{result['latency_ms']['p99']} ms, {result['late']} late, 304 share "
        f"{result['not_modified_share']}")
    await settle(h)
    result["saturation"] = await phase(None, seconds, None)
    say(f"api saturation: {result['saturation']['requests_per_s']} req/s, p99 "
        f"{result['saturation']['latency_ms']['p99']} ms")
    result.update(body_bytes=len(body), gzip_bytes=gzip_bytes, pollers=pollers, _body=body,
                  routing_idle=idle, clients_nice=CLIENTS_NICE)
    return result


async def api_process(base: str) -> tuple[GcPauses, Durations]:
    """The collector's pauses and the event loop's lag so far in the process that serves
    the API (the figures process with http.own_process), from its /metrics."""
    import aiohttp
    from prometheus_client.parser import text_string_to_metric_families

    async with aiohttp.ClientSession() as session, session.get(
            base.removesuffix("/api/v1") + "/metrics") as resp:
        text = await resp.text()
    buckets: dict[tuple[str, str], dict[str, float]] = {}  # (family, generation) -> le -> n
    sums: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name in ("acd_gc_pause_seconds", "acd_event_loop_lag_seconds"):
            for sample in family.samples:
                key = (family.name, sample.labels.get("generation", ""))
                if sample.name.endswith("_bucket"):
                    buckets.setdefault(key, {})[sample.labels["le"]] = sample.value
                elif sample.name.endswith("_sum"):
                    sums[key] = sample.value
    pauses, lag = GcPauses(), Durations()
    for (name, generation), counts in buckets.items():
        got = Durations.from_prometheus(counts, sums.get((name, generation), 0.0))
        if name == "acd_event_loop_lag_seconds":
            lag = got
        else:
            pauses.pauses[int(generation)] = got
    return pauses, lag


async def api_process_since(base: str, before: tuple[GcPauses, Durations]
                            ) -> dict[str, Any]:
    pauses, lag = await api_process(base)
    return {"gc": pauses.since(before[0]), "loop_lag": lag.since(before[1])}


async def snapshot_cost(h: Rig) -> dict[str, Any]:
    """What one figures snapshot costs (the task that feeds GET /api/v1/queues and the SSE
    stream): a whole refresh now (the first reads the last hour's facts; the next, only what
    is new), and the store reads alone as they will be at 23:50 local time, when "today" spans
    96 fifteen-minute intervals (the reads grow through the day)."""
    from acd.stats.timewin import local_midnight

    backend = h.service.backend
    assert backend is not None
    lag = LoopLag(0.002).start()
    t0 = time.perf_counter()
    await backend.refresh()
    refresh_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    await backend.refresh()
    next_s = time.perf_counter() - t0
    now = time.time()
    late = local_midnight(now, h.cfg.timezone) + 86_400 - 600
    t0 = time.perf_counter()
    await backend._raw(h.engine, late)
    late_s = time.perf_counter() - t0
    lag_p = await lag.stop()
    intervals_now = int((now - local_midnight(now, h.cfg.timezone)) // 900) + 1
    return {"refresh_ms": round(refresh_s * 1000, 1), "refresh_next_ms": round(next_s * 1000, 1),
            "intervals_today_now": intervals_now,
            "store_reads_at_2350_ms": round(late_s * 1000, 1),
            "loop_lag_max_ms": lag_p["max"]}


async def start(cfg: dict[str, Any], redis_url: str, attach_timeout_s: float = 300.0,
                sim_in_process: bool = False) -> Rig:
    """The service attached to the simulated PBX (in a child process, or with
    `sim_in_process` in this one, through the harness), waiting up to `attach_timeout_s` for
    the attach and resync (a big centre takes longer than the harness's 15 s)."""
    if sim_in_process:
        h = await _harness(cfg, redis_url, attach_timeout_s)
        start_runtime()  # as `acd run` does once the service is up
        return Rig(h.service, h.cfg, LocalSim(h.sim), harness=h)
    data = copy.deepcopy(cfg)
    secret = secrets.token_hex(12)
    phones = [(a["interface"], a["extension"]) for a in data["agents"].values()]
    sim, port = await RemoteSim.start(secret, phones)
    try:
        data["pbx"].update({"host": "127.0.0.1", "port": port, "username": "acd",
                            "secret": secret})
        data.setdefault("http", {}).setdefault("port", 0)
        parsed = parse_config(data)
        service = Service(parsed, redis_url=redis_url)
        rig = Rig(service, parsed, sim)
        try:
            await service.start()
            await wait_for(lambda: service.engine is not None and service.engine.routing_enabled,
                           attach_timeout_s, "the service to attach and resync")
            start_runtime()  # as `acd run` does once the service is up
        except BaseException:
            await service.stop()
            raise
    except BaseException:
        await sim.stop()
        raise
    return rig


async def _harness(cfg: dict[str, Any], redis_url: str, attach_timeout_s: float) -> Harness:
    """Harness.start with the harness's `wait_for` swapped for a patient one for the call
    (from here, without editing acd/testing)."""
    import acd.testing.harness as harness_mod

    plain = harness_mod.wait_for

    async def patient(cond: Callable[[], object], timeout_s: float = 10.0, what: str = "") -> None:
        await plain(cond, max(timeout_s, attach_timeout_s), what)

    harness_mod.wait_for = patient
    try:
        return await Harness.start(cfg, redis_url, phone=bench_phone, prompt_s=0.05,
                                   event_filters=SHIPPED_FILTERS)
    finally:
        harness_mod.wait_for = plain


def _cancel_leftovers(h: Rig) -> None:
    """After a hung stop: cancel the service's own tasks so that they do not load the next
    phase (private attributes, looked up defensively: this is damage control only)."""
    service: Any = h.service
    tasks: list[Any] = [getattr(getattr(service, "backend", None), "_task", None)]
    for engine in getattr(service, "engines", {}).values():
        tasks += [getattr(engine, "_runner", None), getattr(engine, "_heartbeat", None),
                  *getattr(engine, "_background", []), *getattr(engine, "_tasks", [])]
    for t in tasks:
        if isinstance(t, asyncio.Task):
            t.cancel()
