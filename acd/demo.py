"""`acd demo`: the whole service against the simulated PBX with synthetic traffic.

Starts a private redis-server on a temporary socket (unless --redis-url is given), the simulated
PBX on a free loopback port, and the service attached to it over TCP exactly as to a real
Asterisk. After --duration seconds of traffic it prints a JSON summary per queue, as the service
counted it, beside what the simulated callers really lived (the PBX's truth).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the heavy imports wait until the demo runs: `acd --help` stays light
    from acd.pbxsim import AgentPhone
    from acd.testing.harness import Harness

DEMO_CONFIG = Path(__file__).with_name("demo.toml")
# Caller keys: language (1 en / 2 es), account (9001 is a VIP account), then the main menu.
DEMO_INPUTS = "1|1|2;12345|23456|34567|9001;1|2|2|0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--duration", type=float, default=60.0, help="seconds of traffic (default 60)")
    a("--rate", type=float, default=24.0, help="calls per minute (default 24)")
    a("--vip-share", type=float, default=0.15)
    a("--talk-mean", type=float, default=20.0, help="mean talk time in seconds")
    a("--patience-mean", type=float, default=60.0, help="mean caller patience in seconds")
    a("--seed", type=int, default=7)
    a("--config", type=Path, default=DEMO_CONFIG)
    a("--redis-url", default=None, help="use this Redis instead of a private one")
    a("--truth", type=Path, default=None, help="also write the callers' truth here (JSON)")


def _phone_factory(seed: int) -> Any:
    from acd.pbxsim import AgentPhone

    rng = random.Random(seed)

    def make(interface: str, extension: str) -> AgentPhone:
        # Some agents hang up first, some wait for the caller; answers take 0.5-2.5 s.
        talk = rng.choice([None, None, 45.0])
        return AgentPhone(interface=interface, extension=extension,
                          answer_after_s=round(rng.uniform(0.5, 2.5), 2), talk_s=talk)

    return make


def _truth_counts(truth: list[dict[str, Any]]) -> dict[str, Any]:
    outcomes = Counter(t["outcome"] for t in truth)
    waits = [t["wait_s"] for t in truth if t.get("wait_s") is not None]
    return {"callers": len(truth), "outcomes": dict(sorted(outcomes.items())),
            "mean_wait_s": round(sum(waits) / len(waits), 2) if waits else None}


async def _progress(h: Harness, started: float) -> None:
    while True:
        await asyncio.sleep(10)
        calls = list(h.engine.calls.values())
        states = Counter(c.state.value for c in calls)
        agents = Counter(a.state.value for a in h.engine.agents.values())
        print(f"[{time.monotonic() - started:5.0f} s] calls {dict(states)} agents "
              f"{dict(agents)}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> int:
    from acd.service.runtime import start_runtime
    from acd.testing.harness import Harness
    from acd.testing.redis_server import RedisServer

    cfg_data = tomllib.loads(args.config.read_text(encoding="utf-8"))
    redis: RedisServer | None = None
    url = args.redis_url
    if url is None:
        redis = RedisServer().start()
        url = redis.url
    try:
        h = await Harness.start(cfg_data, url, phone=_phone_factory(args.seed), prompt_s=0.4)
        # as `acd run` does once the service is up: /metrics then shows the loop's lag and the
        # collector's pauses (the demo is one process: the service and the simulated PBX)
        start_runtime()
        try:
            return await _drive(h, args)
        finally:
            await h.stop()
    finally:
        if redis is not None:
            redis.stop()


async def _drive(h: Harness, args: argparse.Namespace) -> int:
    from acd.core.model import AgentState
    from acd.pbxsim import Traffic
    from acd.stats.report import queue_summary

    traffic = Traffic(rate_per_min=args.rate, dnis=["100"], vip_numbers=h.cfg.vip.numbers,
                      vip_share=args.vip_share, input_script=DEMO_INPUTS,
                      patience_mean_s=args.patience_mean, talk_mean_s=args.talk_mean,
                      seed=args.seed, duration_s=args.duration)
    started = time.monotonic()
    print(f"acd demo: {len(h.cfg.agents)} agents, queues {', '.join(h.cfg.queues)}, "
          f"{args.rate:g} calls/min for {args.duration:g} s\n"
          f"wallboard: http://{h.cfg.http.host}:{h.service.http_port}/   figures: "
          f"curl -s http://{h.cfg.http.host}:{h.service.http_port}/api/v1/queues",
          file=sys.stderr, flush=True)
    progress = asyncio.create_task(_progress(h, started))
    traffic.start(h.sim)
    try:
        await asyncio.sleep(args.duration)
    finally:
        traffic.stop()
        progress.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await progress
    store = h.engine.store
    truth = h.sim.truth()
    if args.truth is not None:
        args.truth.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    result = {
        "duration_s": args.duration,
        "queues": await queue_summary(store, h.cfg, h.engine.now()),
        "agents": {aid: {"state": a.state.value, "calls_handled": a.calls_handled}
                   for aid, a in sorted(h.engine.agents.items())},
        "still_live": len(h.engine.calls),
        "pbx_truth": _truth_counts(truth),
    }
    print(json.dumps(result, indent=2))
    answered_everywhere = all(q["answered"] > 0 for q in result["queues"].values())
    busy = sum(a.state is not AgentState.LOGGED_OUT for a in h.engine.agents.values())
    return 0 if answered_everywhere and busy else 1
