"""What one `GET /metrics` costs to render, at a size:

    python -m bench.metrics_cost                       # 10000,5000,1000: calls, agents, queues
    python -m bench.metrics_cost 1000,500,100

The snapshot of bench/snapshot.py's centre (its agents and calls, and counts in every queue's
windows so that the values vary as in a working day), in the JSON shape the API serves. It is
rendered by prometheus-client alone (`client_body`, how /metrics rendered before) and as
/metrics renders now (`render`: the snapshot's families written as text): the first scrape of
a snapshot, and a scrape of the same snapshot again (its text kept). Prints the CPU ms per
scrape of each (the best of a few runs), the body's size, and whether the bodies are the same
bytes, for the Prometheus text format and for OpenMetrics.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from prometheus_client.exposition import choose_encoder

from acd.api.metrics import SnapshotTexts, client_body, make_registry, render
from acd.api.metrics_text import Encoder
from acd.api.testing import FakeBackend
from acd.core.steps import run_steps
from acd.stats.figures import dump_steps, snapshot_steps
from acd.stats.raw import QueueCounts
from acd.stats.schema import WINDOWS
from bench import centre
from bench.snapshot import make

ACCEPTS = {"text 0.0.4": "", "openmetrics 1.0.0": "application/openmetrics-text; version=1.0.0"}


def counts(rnd: random.Random) -> QueueCounts:
    offered = rnd.randint(0, 300)
    answered = rnd.randint(0, offered)
    handled = rnd.randint(0, answered)
    return QueueCounts(offered=offered, answered=answered,
                       abandoned=rnd.randint(0, offered - answered),
                       wait_sum_s=answered * rnd.uniform(0, 60), handled=handled,
                       talk_sum_s=handled * rnd.uniform(60, 400),
                       wrapup_sum_s=handled * rnd.uniform(0, 30))


def snapshot(sizes: centre.Sizes) -> dict[str, Any]:
    cfg, now, calls, agents = make(sizes)
    rnd = random.Random(2)
    windows = {w: {q: counts(rnd) for q in cfg.queues} for w in WINDOWS}
    snap = run_steps(snapshot_steps(cfg, now, calls, agents, windows, {}, {}))
    return run_steps(dump_steps(snap))


def best_ms(scrape: Callable[[], bytes], runs: int) -> float:
    """The least CPU time of `runs` scrapes, in ms."""
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        scrape()
        times.append(time.process_time() - t0)
    return round(min(times) * 1000, 1)


def scrapes(encoder: Encoder, backend: FakeBackend, runs: int) -> dict[str, Any]:
    registry, kept = make_registry(), SnapshotTexts()
    old = client_body(encoder, backend, registry)
    new = render(encoder, backend, registry, kept)
    return {"bytes": len(old), "lines": old.count(b"\n"), "same_bytes": new == old,
            "client_ms": best_ms(lambda: client_body(encoder, backend, registry), runs),
            "written_ms": best_ms(lambda: render(encoder, backend, registry, SnapshotTexts()),
                                  runs),
            "kept_ms": best_ms(lambda: render(encoder, backend, registry, kept), runs)}


def measure(sizes: centre.Sizes, runs: int = 3) -> dict[str, Any]:
    backend = FakeBackend(snapshot(sizes))
    out: dict[str, Any] = {"sizes": sizes.as_dict()}
    for name, accept in ACCEPTS.items():
        out[name] = scrapes(choose_encoder(accept)[0], backend, runs)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_cost")
    parser.add_argument("sizes", nargs="?", default="10000,5000,1000", type=centre.parse_sizes,
                        help="calls,agents,queues (default 10000,5000,1000)")
    parser.add_argument("--runs", type=int, default=3, help="scrapes timed of each kind")
    args = parser.parse_args(argv)
    print(measure(args.sizes, max(1, args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
