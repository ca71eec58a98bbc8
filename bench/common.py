"""Small helpers shared by the scenarios: percentiles, event-loop lag, RSS, Redis memory."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import Any

import redis.asyncio as aioredis

from acd import looplag


def percentiles_ms(samples_s: Sequence[float]) -> dict[str, float | int | None]:
    """p50 / p99 / p99.9 / max of durations in seconds, in milliseconds (nearest rank)."""
    if not samples_s:
        return {"n": 0, "p50": None, "p99": None, "p999": None, "max": None, "mean": None}
    xs = sorted(samples_s)
    n = len(xs)

    def rank(q: float) -> float:
        return round(xs[min(n - 1, max(0, int(q * n + 0.999999) - 1))] * 1000, 3)

    return {"n": n, "p50": rank(0.50), "p99": rank(0.99), "p999": rank(0.999),
            "max": round(xs[-1] * 1000, 3), "mean": round(sum(xs) / n * 1000, 3)}


class NiceError(RuntimeError):
    pass


# The nice this process had when the bench started: the processes spawn_child starts (the
# simulated PBX, the probes) run at it, whatever --nice gave the service; the API's clients
# run at CLIENTS_NICE.
BYSTANDERS_NICE = os.getpriority(os.PRIO_PROCESS, 0)
# The API's clients (500 pollers, the push listeners) stand for screens on other machines,
# which take none of the service's CPU: here their nice is this much above the bench's, so
# they take the CPU the service leaves rather than holding the figures process off a core
# (at the same nice they did: API p99 23-68 ms against 9-28 beside routing at the full
# size, BENCHMARKS.md session 22). They time the requests themselves, so a client kept off
# a core by its low priority counts against the service, never for it.
CLIENTS_NICE_ABOVE = 10
CLIENTS_NICE = min(19, BYSTANDERS_NICE + CLIENTS_NICE_ABOVE)


def set_nice(nice: int, who: str, pid: int = 0) -> None:
    """Process `pid` (0: this one) at `nice`, as a deployment gives the service's processes
    (docs/admin-guide.md, "Priority on a shared box"). A value below the current one needs
    root or CAP_SYS_NICE: NiceError says so, naming `who`."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except PermissionError as exc:
        raise NiceError(f"--nice {nice}: {who} may not be given that priority here "
                        f"({exc.strerror}; a nice below the current one needs root or "
                        "CAP_SYS_NICE)") from exc


def _as_bystander(nice: int, target: Callable[..., None], *args: Any) -> None:
    if os.getpriority(os.PRIO_PROCESS, 0) != nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)  # (up from the service's: always allowed)
    target(*args)


def spawn_child(target: Callable[..., None], *args: Any,
                nice: int | None = None) -> tuple[Any, Connection]:
    """target(its end of a pipe, *args) in a spawned process (a fresh interpreter, none of
    this process's state), at `nice` (by default the nice the bench was started with,
    BYSTANDERS_NICE); returns the process and this end. The child's end is closed here, so a
    dead child reads as EOFError, not as a silent wait."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    at = BYSTANDERS_NICE if nice is None else nice
    proc = ctx.Process(target=_as_bystander, args=(at, target, child, *args), daemon=True)
    proc.start()
    child.close()
    return proc, parent


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of a process (this one by default), in MB (from /proc)."""
    with open(f"/proc/{pid or os.getpid()}/statm", encoding="ascii") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def _redis_info(url: str, section: str) -> dict[str, Any]:
    client = aioredis.from_url(url)
    try:
        info: dict[str, Any] = await client.info(section)
        return info
    finally:
        await client.aclose()


async def redis_used_bytes(url: str) -> int:
    return int((await _redis_info(url, "memory"))["used_memory"])


async def redis_pid(url: str) -> int:
    """The redis-server's process id (its CPU is read from /proc: CpuShares)."""
    return int((await _redis_info(url, "server"))["process_id"])


class RedisSlowLog:
    """Redis's own slow log over a phase: the commands that kept its one thread busy longer
    than `slower_than_us` (every client's command waits behind them)."""

    def __init__(self, url: str, slower_than_us: int = 5000) -> None:
        self.client = aioredis.from_url(url)
        self.slower_than_us = slower_than_us

    async def start(self) -> RedisSlowLog:
        await self.client.config_set("slowlog-log-slower-than", self.slower_than_us)
        await self.client.config_set("slowlog-max-len", 1024)
        await self.client.slowlog_reset()
        return self

    async def stop(self) -> dict[str, Any]:
        try:
            entries = await self.client.slowlog_get(1024)
        finally:
            await self.client.aclose()
        worst = sorted(entries, key=lambda e: -int(e["duration"]))[:5]

        def shown(command: bytes | str) -> str:
            text = command.decode(errors="replace") if isinstance(command, bytes) else command
            return text[:60]

        return {"over_ms": self.slower_than_us / 1000, "commands": len(entries),
                "busy_ms": round(sum(int(e["duration"]) for e in entries) / 1000, 1),
                "worst": [{"ms": round(int(e["duration"]) / 1000, 1),
                           "command": shown(e["command"])} for e in worst]}


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (every thread of it), this one by default."""
    with open(f"/proc/{pid or os.getpid()}/stat", encoding="ascii") as f:
        # (after the command's closing parenthesis: state is field 3; utime 14, stime 15)
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time the machine's cores spent not idle since boot, all cores added up."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait (guest time is already in user)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuShares:
    """Where the cores went over a phase: each named process's CPU time per second of the
    phase (1.0 = one core busy), the machine's, and `others` (the machine's minus the named
    ones: the bench's other children, the kernel, anything else running). A process that
    ends meanwhile reads None."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid is not None}
        self._t0 = 0.0
        self._cpu0: dict[str, float | None] = {}
        self._machine0 = 0.0

    @staticmethod
    def _read(pid: int) -> float | None:
        try:
            return cpu_seconds(pid)
        except (OSError, IndexError, ValueError):
            return None

    def start(self) -> CpuShares:
        self._cpu0 = {name: self._read(pid) for name, pid in self.pids.items()}
        self._machine0 = machine_busy_seconds()
        self._t0 = time.perf_counter()
        return self

    def stop(self) -> dict[str, float | None]:
        wall = max(1e-9, time.perf_counter() - self._t0)
        out: dict[str, float | None] = {}
        for name, pid in self.pids.items():
            now, then = self._read(pid), self._cpu0.get(name)
            out[name] = None if now is None or then is None else round((now - then) / wall, 3)
        machine = (machine_busy_seconds() - self._machine0) / wall
        named = sum(v for v in out.values() if v is not None)
        out["machine"] = round(machine, 3)
        out["others"] = round(machine - named, 3)
        return out


class LoopLag(looplag.LoopLag):
    """The service's loop-lag probe (acd/looplag.py), every 5 ms, keeping every sample too:
    the bench gives percentiles, not the histogram's buckets."""

    def __init__(self, interval_s: float = 0.005) -> None:
        super().__init__(interval_s)
        self.samples: list[float] = []

    def record(self, lag_s: float) -> None:
        super().record(lag_s)
        self.samples.append(lag_s)

    def restart(self) -> None:
        """From now on (called in the loop, from a callback too)."""
        self.cancel()
        self.samples.clear()
        self.start()

    async def stop(self) -> dict[str, Any]:
        self.cancel()
        return percentiles_ms(self.samples)


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """with timed() as t: ...; t[0] is the elapsed seconds afterwards."""
    out: list[float] = []
    t0 = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - t0)


def say(msg: str) -> None:
    """Progress on stderr (the result goes to the JSON file)."""
    import sys

    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
