"""`acd simulate SCENARIO.toml` and `acd erlang`: arguments and output.

Exit codes: 0 done; 2 a bad scenario, override or argument (every problem on stderr, named by
its key path). The standard output of a seeded run is the same on every run; the speed line
(simulated calls per second of wall time) goes to stderr, so it never breaks that.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from acd.config import ConfigError
from acd.stats import erlang

EXIT_BAD_INPUT = 2


def add_simulate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="the scenario file (TOML, see docs/simulator.md)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed (default: the scenario's `seed`, else 1)")
    p.add_argument("--json", action="store_true", help="print a JSON document")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="override a scenario key (dotted TOML key, value "
                   "as TOML), e.g. --set queues.sales.wrapup_s=30 --set roster.0.count=40; "
                   "repeatable")


def run_simulate(args: argparse.Namespace) -> int:
    from acd.simulate.engine import simulate
    from acd.simulate.render import render
    from acd.simulate.results import results
    from acd.simulate.scenario import load_scenario

    try:
        sc = load_scenario(args.scenario, args.overrides)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{args.scenario}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    seed = sc.seed if args.seed is None else args.seed
    started = time.perf_counter()
    tally = simulate(sc, seed)
    wall_s = time.perf_counter() - started
    result = results(sc, tally, args.scenario, seed)
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        sys.stdout.write(render(result, sc.description))
    rate = tally.calls_simulated / wall_s if wall_s > 0 else math.inf
    print(f"simulated {tally.calls_simulated:,} calls ({tally.events:,} events) in "
          f"{wall_s:.2f} s of wall time: {rate:,.0f} calls/s", file=sys.stderr)
    return 0


def add_erlang_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calls-per-hour", type=float, required=True, help="arrival rate")
    p.add_argument("--aht", type=float, required=True, metavar="SECONDS",
                   help="average handle time (talk + wrap-up), seconds")
    p.add_argument("--agents", type=int, default=None,
                   help="a staffing to evaluate (default: the fewest meeting the target)")
    p.add_argument("--target", default="80/20", metavar="X/T",
                   help="service level target: X %% answered within T seconds (default 80/20)")
    p.add_argument("--json", action="store_true", help="print a JSON document")


def _erlang_rows(s: erlang.Staffing) -> list[erlang.Staffing]:
    """Staffings around the one needed (and the one asked for), fewest agents first."""
    low = max(math.floor(s.load_erl) + 1, s.agents_needed - 3)
    counts = sorted({*range(low, s.agents_needed + 4), s.agents})
    return [erlang.staffing(s.calls_per_hour, s.aht_s, s.target_pct, s.threshold_s, c)
            for c in counts if c >= 0]


def _erlang_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments, naming the option; None when all is well."""
    try:
        erlang.parse_target(args.target)
    except ValueError as exc:
        return f"--target: {exc}"
    if args.calls_per_hour < 0 or not math.isfinite(args.calls_per_hour):
        return "--calls-per-hour: must be a number >= 0"
    if not args.aht > 0 or not math.isfinite(args.aht):
        return "--aht: must be a number of seconds > 0"
    if args.agents is not None and args.agents < 0:
        return "--agents: must be >= 0"
    return None


def _erlang_staffing(args: argparse.Namespace) -> erlang.Staffing | str:
    """The staffing asked for, or what is wrong with the arguments."""
    problem = _erlang_problem(args)
    if problem is not None:
        return problem
    target_pct, threshold_s = erlang.parse_target(args.target)
    try:
        return erlang.staffing(args.calls_per_hour, args.aht, target_pct, threshold_s,
                               args.agents)
    except ValueError as exc:  # a load beyond any staffing
        return f"--calls-per-hour, --aht: {exc}"


def run_erlang(args: argparse.Namespace) -> int:
    from acd.simulate.render import pct, secs, table

    s = _erlang_staffing(args)
    if isinstance(s, str):
        print(f"acd erlang: {s}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(_staffing_json(s), indent=2))
        return 0
    print(f"{s.calls_per_hour:g} calls/h x {s.aht_s:g} s = {s.load_erl:.2f} Erlangs; "
          f"target {s.target_pct:g}/{s.threshold_s}")
    rows = [["agents", "SL", "ASA", "P(wait)", "occupancy"]]
    marks = [""]
    for row in _erlang_rows(s):
        mark = []
        if row.agents == s.agents_needed:
            mark.append(f"fewest meeting {s.target_pct:g}/{s.threshold_s}")
        if args.agents is not None and row.agents == args.agents:
            mark.append("asked")
        asa = secs(row.asa_s) if math.isfinite(row.asa_s) else "unbounded"
        rows.append([str(row.agents), pct(row.service_level), asa, pct(row.p_wait),
                     pct(row.occupancy)])
        marks.append(("  <- " + ", ".join(mark)) if mark else "")
    print("\n".join(line + mark for line, mark in zip(table(rows), marks, strict=True)))
    print(f"agents needed: {s.agents_needed}")
    return 0


def _staffing_json(s: erlang.Staffing) -> dict[str, object]:
    return {"calls_per_hour": s.calls_per_hour, "aht_s": s.aht_s, "load_erl": s.load_erl,
            "agents": s.agents, "target_pct": s.target_pct, "threshold_s": s.threshold_s,
            "service_level": s.service_level,
            "asa_s": s.asa_s if math.isfinite(s.asa_s) else None,
            "p_wait": s.p_wait, "occupancy": s.occupancy, "agents_needed": s.agents_needed}
