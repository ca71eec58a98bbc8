"""The figures snapshot alone, at a size, without Redis or the PBX (pure CPU):

    python -m bench.snapshot 10000,5000,1000     # calls, agents, queues
    python -m bench.snapshot 10000,5000,1000 --gc off   # the same with the collector off

A centre from bench/centre.py, its agents in random states, its calls waiting in random
queues; prints the CPU time of build_snapshot (the first one, which also works out who serves
which queue, and a second one that reuses it) and of its JSON form (dump_steps), and the
longest steps between yields: in the service each step blocks the loop whole (slices.py), so
the longest step is the figures' share of the API's tail. `--gc`: `tuned` (the default) as
the service runs (runtime.tune_gc, after the centre is built, as the service does once it is
up; each snapshot and its dump made with the collector held, as the service's refresh makes
them), `default` CPython's own thresholds, `off` no collector (what the steps cost alone).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import sys
import time
from collections.abc import Generator
from typing import Any, TypeVar

from acd.config import Config, parse_config
from acd.core.model import Agent, AgentState, Call, CallState
from acd.service.runtime import collector_held, reset_runtime, tune_gc
from acd.stats.figures import dump_steps, membership_of, snapshot_steps
from bench import centre

T = TypeVar("T")
GC_MODES = ("tuned", "default", "off")
LONG_STEP_MS = 10.0

STATES = [AgentState.READY, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.NOT_READY,
          AgentState.RESERVED]


def make(sizes: centre.Sizes, seed: int = 1) -> tuple[Config, float, list[Call], list[Agent]]:
    data = centre.build(sizes)
    data["pbx"]["secret"] = "x"
    cfg = parse_config(data)
    rnd = random.Random(seed)
    now = time.time()
    agents = [Agent(id=aid, interface=ac.interface, skills=dict(ac.skills),
                    queues=tuple(ac.queues), name=aid, state=rnd.choice(STATES),
                    state_since=now - rnd.random() * 300, ready_since=now - 400)
              for aid, ac in cfg.agents.items()]
    queues = list(cfg.queues)
    calls = []
    for i in range(sizes.calls):
        q = queues[i % len(queues)]
        calls.append(Call(id=f"c{i}", channel="x", uniqueid=f"c{i}", caller_num="555", dnis="7",
                          state=CallState.WAITING, queue=q, required=dict(cfg.queues[q].skills),
                          entered_at=now - rnd.random() * 600,
                          priority=rnd.choice([0, 0, 0, 10])))
    return cfg, now, calls, agents


class StepClock:
    """Runs step generators to their end and keeps the wall time of every step."""

    def __init__(self) -> None:
        self.steps_ms: list[float] = []

    def run(self, steps: Generator[None, None, T]) -> T:
        clock = time.perf_counter
        while True:
            started = clock()
            try:
                next(steps)
            except StopIteration as done:
                self.steps_ms.append((clock() - started) * 1000)
                result: T = done.value
                return result
            self.steps_ms.append((clock() - started) * 1000)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.steps_ms)
        # one rounding for both: the longest rounded coarser could read below the p99
        return {"steps": len(ordered), "longest_ms": round(ordered[-1], 2),
                "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2),
                f"over_{LONG_STEP_MS:g}_ms": sum(1 for x in ordered if x > LONG_STEP_MS)}


def measure(sizes: centre.Sizes, gc_mode: str = "tuned", runs: int = 3) -> dict[str, Any]:
    cfg, now, calls, agents = make(sizes)
    threshold = gc.get_threshold()
    if gc_mode == "tuned":
        tune_gc()
    elif gc_mode == "off":
        gc.disable()
    members = membership_of(cfg)
    out: dict[str, Any] = {"sizes": sizes.as_dict(), "gc": gc_mode}
    collections = sum(s["collections"] for s in gc.get_stats())
    # (before session 13 the tuned mode left the collector running during the snapshot: its
    # longest steps at the full size, 30-37 ms, were collections the service does not make)
    held = collector_held if gc_mode == "tuned" else contextlib.nullcontext
    for run in range(runs):
        clock = StepClock()
        with held():
            t0 = time.process_time()
            snap = clock.run(snapshot_steps(cfg, now, calls, agents, {}, {}, {},
                                            membership=members))
            t1 = time.process_time()
            clock.run(dump_steps(snap))
            t2 = time.process_time()
        out["first" if run == 0 else f"again{run}"] = {
            "build_ms": round((t1 - t0) * 1000, 1), "dump_ms": round((t2 - t1) * 1000, 1),
            **clock.summary()}
    out["collections"] = sum(s["collections"] for s in gc.get_stats()) - collections
    out["tracked_objects"] = len(gc.get_objects())
    out["frozen_objects"] = gc.get_freeze_count()
    # As it was (the tests call this in their own process)
    reset_runtime()
    gc.set_threshold(*threshold)
    gc.enable()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot")
    parser.add_argument("sizes", nargs="?", default="1000,500,100", type=centre.parse_sizes,
                        help="calls,agents,queues (default 1000,500,100)")
    parser.add_argument("--gc", choices=GC_MODES, default="tuned",
                        help="the collector's setting (default: tuned, as the service runs)")
    parser.add_argument("--runs", type=int, default=3, help="snapshots made one after another")
    args = parser.parse_args(argv)
    print(measure(args.sizes, args.gc, max(1, args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
