"""`python -m bench`: the benchmark of the real service (see BENCHMARKS.md).

    python -m bench --quick          # < 90 s, smaller sizes -> bench/results/quick.json
    python -m bench                  # full sizes (10,000 calls, 5,000 agents, 1,000 queues)
    python -m bench --soak 2         # hours: RSS and latency drift -> bench/results/soak.json

Each run also measures its baselines (the bare claim Lua round trip, panoramisk's bare parse,
a bare aiohttp handler) so every figure is also given as a ratio that carries across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from acd.service.figures_process import NICE_ABOVE_ROUTING
from acd.testing.redis_server import RedisServer
from bench import ami_ingest, api_load, centre, report, routing
from bench.common import (
    BYSTANDERS_NICE,
    CLIENTS_NICE,
    CLIENTS_NICE_ABOVE,
    NiceError,
    load_average,
    rss_mb,
    say,
    set_nice,
)
from bench.loaded import LoadedClaims, pairs_for

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines()
                      if x.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kb = 0
    redis_v = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 1e6, 1),
            "python": platform.python_version(), "redis": redis_v.split(" ")[2][2:]
            if redis_v.count(" ") > 2 else redis_v}


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()

    # dirty: the code differs from the commit; the bench's own outputs (the table, the
    # result files) do not count, so that runs one after another all name their commit
    return {"commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".",
                              ":!BENCHMARKS.md", ":!bench/results"))}


SCALE_RATE = 100.0  # agents freed per s in the paced phase of the scale curve's runs


class Plan:
    def __init__(self, mode: str, sizes: centre.Sizes, sim_in_process: bool = False,
                 own_process: bool = True) -> None:
        self.mode = mode
        self.sizes = sizes
        self.sim_in_process = sim_in_process
        self.own_process = own_process  # http.own_process: API and figures in a 2nd process
        quick = mode.startswith("quick")
        self.scales = [10, 100]
        self.paced_rate = 1000.0
        self.paced_s = 3.0 if quick else 15.0  # (quick: the loaded claim probe takes ~2 s)
        self.api_pollers = 500
        self.api_s = 4.0 if quick else 20.0
        self.api_interval_s = 1.0  # each poller asks every so many seconds
        self.ami_blast = 20_000 if quick else 100_000
        self.ami_paced_rate = 20_000.0
        self.ami_paced_s = 2.0 if quick else 10.0
        self.lua_n = 1000 if quick else 5000
        self.nice: int | None = None  # --nice: the service's processes and Redis at it


async def run(plan: Plan, out_path: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "mode": plan.mode,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(), **git_commit(), "load_average_start": load_average(),
        "sizes": plan.sizes.as_dict(), "http_own_process": plan.own_process,
    }
    with RedisServer() as redis_server:
        url = redis_server.url
        result["nice"] = _redis_at_nice_too(plan.nice, redis_server)
        say("baseline: claim Lua round trip")
        lua = await routing.lua_baseline(url, plan.lua_n)
        await _flush(url)
        say("the claim script beside the load: seeding its process")
        loaded = await LoadedClaims.start(
            url, pairs_for(routing.paced_phases(latency_curve=True), plan.paced_s))
        say(f"routing at {plan.sizes}")
        try:
            main = await routing.run(plan.sizes, url, paced_rate=plan.paced_rate,
                                     paced_s=plan.paced_s, api_pollers=plan.api_pollers,
                                     api_s=plan.api_s, api_interval_s=plan.api_interval_s,
                                     sim_in_process=plan.sim_in_process,
                                     own_process=plan.own_process, latency_curve=True,
                                     loaded=loaded)
        finally:
            await loaded.close()
        body = main["api"].pop("_body")
        await _flush(url)
        curve = []
        for factor in plan.scales:
            small = plan.sizes.scaled(factor)
            # one fixed rate at every size (the main run's ladder has it too), so the rows of
            # the scale curve compare like with like
            r = await routing.run(small, url, paced_rate=SCALE_RATE, paced_s=plan.paced_s / 2,
                                  sim_in_process=plan.sim_in_process,
                                  own_process=plan.own_process, call_first=False)
            curve.append({"factor": factor, **r})
            await _flush(url)
        say("baseline: bare aiohttp handler")
        api_base = await api_load.baseline(body, plan.api_pollers, plan.api_s,
                                           plan.api_interval_s)
        say("AMI ingest")
        ami = await ami_ingest.run(url, blast=plan.ami_blast, paced_rate=plan.ami_paced_rate,
                                   paced_s=plan.ami_paced_s)
    result.update(report.summarise(main, curve, lua, api_base, ami))
    result["load_average_end"] = load_average()
    result["bench_seconds"] = round(time.perf_counter() - t0, 1)
    result["detail"] = {"routing": main, "scale": curve, "lua_baseline": lua,
                        "api_baseline": api_base, "ami": ami}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


async def _flush(url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    await client.flushall()
    await client.aclose()


async def soak(hours: float, sizes: centre.Sizes, out_path: Path, every_s: float,
               sim_in_process: bool = False, own_process: bool = True,
               rate_per_s: float | None = None, nice: int | None = None) -> None:
    """A long paced routing run: RSS, Redis memory and latency per window, then the drift.
    `rate_per_s`: freed agents per second (default half the burst's rate, at most 200);
    `nice`: as --nice."""
    from bench.common import redis_used_bytes

    rows: list[dict[str, Any]] = []
    result: dict[str, Any] = {"mode": "soak", "hours": hours, "sizes": sizes.as_dict(),
                              "http_own_process": own_process,
                              "machine": machine(), **git_commit(),
                              "date": datetime.datetime.now(datetime.UTC).isoformat(
                                  timespec="seconds")}
    with RedisServer() as redis_server:
        url = redis_server.url
        result["nice"] = _redis_at_nice_too(nice, redis_server)
        h = await routing.start(centre.build(sizes, own_process=own_process), url,
                                sim_in_process=sim_in_process)
        result["sim"] = "in process" if sim_in_process else "child process"
        try:
            await routing.load_calls(h, sizes)
            b = await routing.burst(h, min(sizes.agents, sizes.calls))
            await routing.reject_all(h)
            await routing.settle(h)
            rate = rate_per_s or max(1.0, min(200.0, 0.5 * b["decisions_per_s"]))
            result["paced_rate_per_s"] = rate
            end = time.monotonic() + hours * 3600
            while time.monotonic() < end:
                p = await routing.paced(h, rate, min(every_s, end - time.monotonic()))
                rows.append({"t_s": round(hours * 3600 - (end - time.monotonic())),
                             "rss_mb": round(rss_mb(), 1),
                             "figures_rss_mb": routing.figures_rss_mb(h),
                             "redis_mb": round(await redis_used_bytes(url) / 1e6, 2),
                             "p50_ms": p["latency_ms"]["p50"], "p99_ms": p["latency_ms"]["p99"],
                             "decisions": p["decisions"],
                             # Python's own count of what it holds, apart from the RSS (which
                             # also moves with the allocator's arenas): blocks allocated, and
                             # the frozen objects (runtime.py), which a cycle dying frozen
                             # would make grow until the hourly full collection
                             "allocated_blocks": sys.getallocatedblocks(),
                             "frozen_objects": gc.get_freeze_count(),
                             "load_average": load_average()})
                say(f"soak: {rows[-1]}")
                result["rows"] = rows
                result["drift"] = report.drift(rows)
                out_path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        finally:
            await routing.stop(h)


def _redis_at_nice_too(nice: int | None, redis_server: RedisServer) -> dict[str, int] | None:
    """--nice for the run's redis-server (this process got it at the start: _settings); what
    each process runs at, for the result file (None: all at the nice the bench had)."""
    if nice is None:
        return None
    if redis_server.pid is not None:
        set_nice(nice, "redis-server", redis_server.pid)
    return {"routing": nice, "figures": min(19, nice + NICE_ABOVE_ROUTING), "redis": nice,
            "simulator": BYSTANDERS_NICE, "api_clients": CLIENTS_NICE}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, under 90 s")
    ap.add_argument("--soak", type=float, metavar="HOURS", help="long run: RSS/latency drift")
    ap.add_argument("--soak-every", type=float, default=300.0, metavar="S",
                    help="soak sample window (s)")
    ap.add_argument("--soak-rate", type=float, metavar="PER_S",
                    help="soak: freed agents per second (default half the burst's rate, "
                         "at most 200)")
    ap.add_argument("--sizes", metavar="CALLS,AGENTS,QUEUES", type=centre.parse_sizes,
                    help="override the sizes")
    ap.add_argument("--out", type=Path, help="result file (default bench/results/<mode>.json)")
    ap.add_argument("--no-md", action="store_true", help="do not update BENCHMARKS.md")
    ap.add_argument("--sim-in-process", action="store_true",
                    help="run the simulated PBX in the service's process (as the tests do): "
                         "its CPU is then the service's")
    ap.add_argument("--one-process", action="store_true",
                    help="API and figures in the routing process (http.own_process off), "
                         "to compare with the default")
    ap.add_argument("--api-poll-interval", type=float, default=1.0, metavar="S",
                    help="each of the API's 500 pollers asks every S seconds (default 1)")
    ap.add_argument("--api-plain-pollers", action="store_true",
                    help="the pollers send neither Accept-Encoding: gzip nor If-None-Match")
    ap.add_argument("--nice", type=int, metavar="N",
                    help="the service's routing process and redis-server at nice N (-20..19), "
                         f"the figures process at N+{NICE_ABOVE_ROUTING}, as "
                         "docs/admin-guide.md's \"Priority\" sets them up; the simulator "
                         "stays at the nice the bench was started with, the API's clients "
                         f"{CLIENTS_NICE_ABOVE} above it (a negative N needs root or "
                         "CAP_SYS_NICE)")
    ap.add_argument("--announce-every", type=float, default=0.0, metavar="S",
                    help="every queue's callers told their place and EWT every S seconds "
                         "(the policies' tick at work; default: no announcements)")
    return ap


def _settings(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The options' checks (ap.error names what was wrong), and the settings they make."""
    api_load.BROWSER_LIKE = not args.api_plain_pollers
    if args.api_poll_interval <= 0:
        ap.error("--api-poll-interval: seconds above 0")
    if args.announce_every < 0:
        ap.error("--announce-every: seconds, 0 or above")
    centre.ANNOUNCE_EVERY_S = args.announce_every
    if args.nice is not None:
        if not -20 <= args.nice <= 19:
            ap.error(f"--nice: a nice value from -20 to 19, not {args.nice}")
        try:
            set_nice(args.nice, "the bench's process")  # (the service's: it inherits it)
        except NiceError as exc:
            ap.error(str(exc))
    if args.soak_rate is not None and not args.soak_rate > 0:
        ap.error("--soak-rate: freed agents per second above 0")


def _mode_and_sizes(args: argparse.Namespace) -> tuple[str, centre.Sizes]:
    """The run's name (its result file's, and its row's in BENCHMARKS.md) and sizes."""
    mode = "soak" if args.soak else ("quick" if args.quick else "full")
    sizes = centre.QUICK if args.quick or args.soak else centre.FULL
    if args.sizes:
        sizes = args.sizes
        if not args.soak:
            mode = f"{mode}-{sizes.calls}-{sizes.agents}-{sizes.queues}"
    if args.sim_in_process:
        mode += "-sim-in-process"
    if args.one_process:
        mode += "-one-process"
    if args.announce_every:
        mode += f"-announce-{args.announce_every:g}s"
    if args.nice is not None:
        mode += f"-nice{args.nice}"
    return mode, sizes


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    _settings(ap, args)
    # Killed (SIGTERM) as if interrupted: the runs' clean-up then stops the service, the
    # simulator and redis-server, rather than leave them running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    mode, sizes = _mode_and_sizes(args)
    out = args.out or RESULTS / f"{mode}.json"
    if args.soak:
        asyncio.run(soak(args.soak, sizes, out, args.soak_every, args.sim_in_process,
                         not args.one_process, args.soak_rate, args.nice))
        print(out)
        return 0
    plan = Plan(mode, sizes, args.sim_in_process, not args.one_process)
    plan.api_interval_s = args.api_poll_interval
    plan.nice = args.nice
    result = asyncio.run(run(plan, out))
    if not args.no_md:
        report.update_markdown(ROOT / "BENCHMARKS.md", result)
    print(json.dumps({k: v for k, v in result.items() if k != "detail"}, indent=1))
    print(f"written: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
