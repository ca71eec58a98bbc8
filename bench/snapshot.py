"""The figures snapshot alone, at a size, without Redis or the PBX (pure CPU):

    python -m bench.snapshot 10000,5000,1000     # calls, agents, queues

A centre from bench/centre.py, its agents in random states, its calls waiting in random
queues; prints the CPU time of build_snapshot (the first one, which also works out who serves
which queue, and a second one that reuses it) and of its JSON form (dump_steps).
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from acd.config import Config, parse_config
from acd.core.model import Agent, AgentState, Call, CallState
from acd.stats.figures import build_snapshot, dump_steps, membership_of, run_steps
from bench import centre

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


def measure(sizes: centre.Sizes) -> dict[str, Any]:
    cfg, now, calls, agents = make(sizes)
    members = membership_of(cfg)
    out: dict[str, Any] = {"sizes": sizes.as_dict()}
    for run in ("first", "again"):
        t0 = time.process_time()
        snap = build_snapshot(cfg, now, calls, agents, {}, {}, {}, membership=members)
        t1 = time.process_time()
        run_steps(dump_steps(snap))
        t2 = time.process_time()
        out[run] = {"build_ms": round((t1 - t0) * 1000, 1), "dump_ms": round((t2 - t1) * 1000, 1)}
    return out


def main(argv: list[str]) -> int:
    c, a, q = (int(x) for x in (argv[0] if argv else "1000,500,100").split(","))
    print(measure(centre.Sizes(calls=c, agents=a, queues=q)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
