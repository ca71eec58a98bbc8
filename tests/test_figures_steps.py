"""The figures' work is made in steps between which the service's loop runs (slices.py): no
step may grow with the centre, or a big centre's snapshot holds every API request and push
behind one long step. The work of a step is counted as the Python and C function calls made
in it (sys.setprofile): deterministic, unlike a time."""

from __future__ import annotations

import gc
import sys
from collections.abc import Generator
from types import FrameType
from typing import Any

from acd.service.dismantle import dismantle_steps
from acd.service.reasons import live_and_today_steps
from acd.stats.figures import dump_steps, membership_of, snapshot_steps
from acd.stats.jsonparts import encode_steps
from acd.stats.raw import QueueCounts
from bench import centre
from bench.snapshot import make


def longest_step(steps: Generator[None, None, Any]) -> tuple[int, Any]:
    """The most calls made in one step, and the generator's value."""
    calls = 0

    def count(_frame: FrameType, event: str, _arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    longest = 0
    while True:
        calls = 0
        sys.setprofile(count)
        try:
            next(steps)
        except StopIteration as done:
            sys.setprofile(None)
            return max(longest, calls), done.value
        finally:
            sys.setprofile(None)
        longest = max(longest, calls)


def step_costs(agents: int, calls: int, queues: int) -> dict[str, int]:
    cfg, now, call_list, agent_list = make(centre.Sizes(calls=calls, agents=agents,
                                                        queues=queues))
    # (who serves which queue is worked out once per config, and kept: not a step's work)
    build, snap = longest_step(snapshot_steps(cfg, now, call_list, agent_list, {}, {}, {},
                                              membership=membership_of(cfg)))
    dump, dumped = longest_step(dump_steps(snap))
    encode, _encoded = longest_step(encode_steps(dumped))
    free_model, _ = longest_step(dismantle_steps(snap))
    free_dict, _ = longest_step(dismantle_steps(dumped))
    by_reason, _ = longest_step(live_and_today_steps(
        cfg, now, call_list, {q: QueueCounts(offered=1) for q in cfg.queues}))
    return {"build": build, "dump": dump, "encode": encode, "free_model": free_model,
            "free_dict": free_dict, "by_reason": by_reason}


def test_no_step_of_the_figures_grows_with_the_centre() -> None:
    # Without the collector, as the service makes a snapshot (runtime.collector_held): a
    # collection in a step would run the finalizers of other tests' garbage, counted here.
    gc.collect()
    gc.disable()
    try:
        small = step_costs(agents=64, calls=256, queues=32)
        big = step_costs(agents=512, calls=2048, queues=256)  # 8x the agents, calls, queues
    finally:
        gc.enable()
    for part, cost in small.items():
        # A loop over every agent, call or queue in one step would make it ~8x longer.
        assert big[part] <= 2 * cost + 50, (part, small, big)
