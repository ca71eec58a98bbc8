"""Keeps the benchmark (bench/) from rotting: its parts run at a tiny size, quickly.

Timings are not asserted (other work shares the machine): only that every figure is produced.
"""

from __future__ import annotations

import gc
import json
import os
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from acd.testing.redis_server import RedisServer
from bench import ami_ingest, api_load, centre, common, report, routing
from bench.__main__ import main as bench_main
from bench.api_load import baseline
from bench.loaded import LoadedClaims


async def test_bench_parts_run_at_a_tiny_size(redis_server: RedisServer, redis_url: str,
                                              tmp_path: Path) -> None:
    sizes = centre.Sizes(calls=6, agents=4, queues=2, skills=5)
    lua = await routing.lua_baseline(redis_url, 20)
    assert lua["n"] == 20 and lua["p99"] is not None
    # the claim script timed beside the paced phase too, by a process of its own
    loaded = await LoadedClaims.start(redis_url, 30)
    try:
        # (the API and figures in a process of their own, as the benchmark runs by default)
        main = await routing.run(sizes, redis_url, paced_rate=20, paced_s=0.5, api_pollers=5,
                                 api_s=1.0, api_interval_s=0.25, own_process=True,
                                 loaded=loaded)
    finally:
        await loaded.close()
    beside = main["paced"]["baseline_lua_loaded_ms"]
    assert 0 < beside["n"] <= 30 and beside["p99"] > 0
    assert main["burst"]["decisions"] == 4
    # calls that arrive to ready agents: each timed from its AsyncAGIStart to its Originate
    first = main["arrivals"]
    assert first["calls"] > 0 and first["decisions"] == first["calls"]
    assert first["latency_ms"]["n"] == first["calls"] and first["latency_ms"]["p50"] > 0
    assert main["memory"]["figures_rss_mb"] > 0
    # an hour of facts behind the figures' windows, and a refresh timed with it and after
    assert main["history"]["facts"] > 0 and main["snapshot"]["refresh_next_ms"] > 0
    assert main["paced"]["latency_ms"]["n"] > 0
    # the same decisions timed at the service's edge: each inside its end-to-end time
    edge, whole = main["paced"]["service_latency_ms"], main["paced"]["latency_ms"]
    assert edge["n"] == whole["n"]
    assert 0 < edge["p50"] <= whole["p50"] and edge["max"] <= whole["max"]
    _timed_on_the_wire(main)
    # the collector's pauses per phase: of the service's process, of the simulator's
    for part in (main["burst"]["gc"], main["paced"]["gc"], main["paced"]["sim_gc"]):
        assert sorted(part) == ["gen0", "gen1", "gen2"]
    assert main["paced"]["stalls"]["slow_decisions"] <= main["paced"]["latency_ms"]["n"]
    # where the cores went: every process of the run named (none ended meanwhile); the
    # machine's busy time (/proc/stat) holds the service's own (/proc/PID/stat), to a tick
    cores = main["paced"]["cpu_cores"]
    assert sorted(cores) == ["figures", "machine", "others", "redis", "service", "sim"]
    assert all(v is not None and v >= 0 for k, v in cores.items() if k != "others")
    assert cores["service"] > 0 and cores["machine"] + 0.05 >= cores["service"]
    assert main["paced"]["service_cpu_ms_per_decision"] > 0
    # how late the simulator's loop ran, and Redis's slow log over the phase
    assert main["paced"]["sim_loop_lag_ms"]["n"] > 0
    slowlog = main["paced"]["redis_slowlog"]
    assert slowlog["over_ms"] == 5.0 and len(slowlog["worst"]) == min(5, slowlog["commands"])
    api = main["api"]
    for phase in (api, api["saturation"]):
        assert phase["requests"] > 0 and phase["errors"] == 0
        assert phase["routing_during"]["freed"] > 0
    # polled: the clients revalidate with the ETag they got (304s) and take gzip
    # (4 polls a second against a snapshot every second: most find it unchanged)
    assert api["mode"] == "poll" and api["not_modified"] > 0
    assert api["latency_ms"]["n"] == api["requests"] and api["push_delay_ms"]["n"] > 0
    assert 0 < api["gzip_bytes"] < api["body_bytes"]
    # the CPU each client process took from the cores the service runs on
    assert set(api["clients_cpu_share"]) == {"poll", "listen"}
    assert set(api["saturation"]["clients_cpu_share"]) == {"closed"}
    assert all(share > 0 for share in api["clients_cpu_share"].values())
    body = api.pop("_body")
    api_base = await baseline(body, 5, 0.5, 0.25)
    assert api_base["requests"] > 0 and api_base["saturation"]["requests"] > 0
    ami = await ami_ingest.run(redis_url, blast=300, paced_rate=300, paced_s=0.5)
    assert ami["blast"]["events_per_s"] > 0 and ami["baseline_parse"]["per_s"] > 0
    result = {"mode": "test", "date": "2026-01-01T00:00:00+00:00", "commit": "0" * 40,
              "machine": {"nproc": 1, "cpu": "x", "ram_gb": 1}, "load_average_start": [0.0],
              "sizes": sizes.as_dict(),
              **report.summarise(main, [{"factor": 1, **main}], lua, api_base, ami)}
    for key in ("decisions_per_s", "latency_ms", "baseline_lua_rtt_ms", "service_latency_ms",
                "call_first_latency_ms"):
        assert key in result["routing"]
    assert result["routing"]["ratio_p99_to_loaded_lua_p99"] > 0
    assert "beside the load" in report.row(result)
    assert "inside the simulator" in report.row(result)
    assert result["routing"]["ratio_in_sim_p99_to_lua_p99"] > 0
    # the same pollers with routing idle, apart from what sharing the cores with it adds
    assert api["routing_idle"]["requests"] > 0 and api["routing_idle"]["errors"] == 0
    # and the figures process's collections and loop lag meanwhile, read from its /metrics
    for part in (api["api_process"], api["routing_idle"]["api_process"]):
        assert sorted(part["gc"]) == ["gen0", "gen1", "gen2"]
        assert all(gen["collections"] >= 0 for gen in part["gc"].values())
        assert part["loop_lag"]["count"] > 0  # sampled every 10 ms through the phase
    for key in ("requests_per_s", "p99_ms", "baseline_p99_ms",  # the result file's fields
                "p99_ms_routing_idle"):
        assert result["api"][key] is not None
    assert result["api"]["saturation"]["requests_per_s"] > 0
    assert result["api"]["clients_cpu_share"] == api["clients_cpu_share"]
    assert result["api"]["saturation"]["clients_cpu_share"]["closed"] > 0
    assert result["api"]["facts_in_the_hour"] == main["history"]["facts"]
    assert result["api"]["baseline_saturation"]["requests_per_s"] > 0
    json.dumps(result)
    md = tmp_path / "BENCHMARKS.md"
    report.update_markdown(md, result)
    report.update_markdown(md, result)  # the row of a mode is replaced, not added again
    assert md.read_text().count("| test |") == 1


async def test_bench_routing_with_the_sim_in_process(redis_server: RedisServer,
                                                     redis_url: str) -> None:
    """--sim-in-process (the harness's wiring, to measure what sharing the process costs)."""
    sizes = centre.Sizes(calls=4, agents=3, queues=2, skills=5)
    main = await routing.run(sizes, redis_url, paced_rate=20, paced_s=0.5, sim_in_process=True)
    assert main["sim"] == "in process"
    assert "sim" not in main["paced"]["cpu_cores"]  # (its CPU is the service's process's)
    assert main["burst"]["decisions"] == 3
    assert main["arrivals"]["decisions"] == main["arrivals"]["calls"] > 0
    assert main["paced"]["latency_ms"]["n"] > 0
    # the same decisions timed at the service's edge: each inside its end-to-end time
    edge, whole = main["paced"]["service_latency_ms"], main["paced"]["latency_ms"]
    assert edge["n"] == whole["n"]
    assert 0 < edge["p50"] <= whole["p50"] and edge["max"] <= whole["max"]
    _timed_on_the_wire(main)


def _timed_on_the_wire(main: dict[str, Any]) -> None:
    """End to end is timed where the frames cross the simulator's socket (the service's
    session watched): each decision inside the time the simulator's own loop saw, and the
    in-simulator time of every one kept beside it."""
    assert main["paced"]["wire_sessions"] == 1
    for phase in (main["paced"], main["burst"], main["arrivals"]):
        wire, in_sim = phase["latency_ms"], phase["latency_in_sim_ms"]
        assert wire["n"] == in_sim["n"] > 0
        assert 0 < wire["p50"] <= in_sim["p50"] and wire["max"] <= in_sim["max"]


def test_slow_decisions_close_together_are_one_stall() -> None:
    slow = [(10.0, 0.1), (10.05, 0.08), (10.2, 0.03),  # one stall: 3 decisions
            (20.0, 0.05),                               # another, alone
            (10.01, 0.09)]                              # (out of order: the 1st stall's)
    got = routing.stalls(slow)
    assert got["slow_decisions"] == 5 and got["episodes"] == 2
    assert got["worst"][0] == {"decisions": 4, "longest_ms": 100.0, "span_ms": 200.0}
    assert got["worst"][1] == {"decisions": 1, "longest_ms": 50.0, "span_ms": 0.0}
    assert routing.stalls([]) == {"slow_decisions": 0, "episodes": 0, "worst": []}


def _rung(rate: float, p50: float, *, freed: int = 100, rung: int = 100) -> dict[str, Any]:
    return {"rate_target_per_s": rate, "freed": freed, "decisions": rung,
            "latency_ms": {"p50": p50, "p99": 4 * p50}}


def test_the_reported_rate_is_the_highest_whose_median_has_not_doubled() -> None:
    # the lightest rate's median is above the least (processes woken from idle at 50/s):
    # 1,000/s is 2.4x the least median, under 2x the lightest's, and does not keep up
    ladder = [_rung(1000, 1.7), _rung(500, 0.73), _rung(200, 0.97), _rung(50, 1.28)]
    assert routing.keeps_up(ladder)["rate_target_per_s"] == 500
    # a rung that left agents unrung neither keeps up nor sets the floor
    ladder = [_rung(1000, 0.2, rung=90), _rung(500, 0.9), _rung(50, 0.8)]
    assert routing.keeps_up(ladder)["rate_target_per_s"] == 500
    assert routing.keeps_up([_rung(1000, 1.5), _rung(50, 1.0)])["rate_target_per_s"] == 1000
    # none rang every agent: the first phase, as measured
    ladder = [_rung(1000, 9.0, rung=10), _rung(50, 1.0, rung=40)]
    assert routing.keeps_up(ladder) is ladder[0]


def _report_nice(conn: Connection) -> None:
    conn.send(os.getpriority(os.PRIO_PROCESS, 0))


def test_the_bench_s_children_run_at_the_nice_it_was_started_with(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # --nice gives the service's process a priority; the simulator and the probes it
    # spawns must not inherit it (raising one's nice needs no privilege: the test can)
    bystanders = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 3)
    monkeypatch.setattr(common, "BYSTANDERS_NICE", bystanders)
    proc, conn = common.spawn_child(_report_nice)
    try:
        assert conn.poll(30) and conn.recv() == bystanders
    finally:
        proc.join(10)


def test_the_api_s_clients_run_below_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    # the pollers and the push listeners stand for screens elsewhere: they must not hold the
    # service's processes off a core
    assert common.CLIENTS_NICE > common.BYSTANDERS_NICE or common.CLIENTS_NICE == 19
    spawned: list[int | None] = []

    def spawn(_target: object, *_args: object, nice: int | None = None) -> tuple[None, None]:
        spawned.append(nice)
        return None, None

    monkeypatch.setattr(api_load, "spawn_child", spawn)
    api_load.start_clients("http://127.0.0.1:1/q", "http://127.0.0.1:1/s", 3, 1.0, 1.0)
    assert spawned == [common.CLIENTS_NICE, common.CLIENTS_NICE]  # pollers, listeners
    proc, conn = common.spawn_child(_report_nice, nice=common.CLIENTS_NICE)
    try:
        assert conn.poll(30) and conn.recv() == common.CLIENTS_NICE
    finally:
        proc.join(10)


def test_a_nice_out_of_range_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        bench_main(["--quick", "--nice", "30", "--no-md"])
    assert exc.value.code == 2
    assert "--nice: a nice value from -20 to 19, not 30" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--quick", "--sizes", "1000,five,100", "--no-md"],
                                  ["snapshot", "1000,five,100"],
                                  ["metrics_cost", "1000,five,100"]])
def test_sizes_not_three_numbers_are_refused_by_name(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from bench import metrics_cost, snapshot

    commands = {"snapshot": snapshot.main, "metrics_cost": metrics_cost.main}
    command = commands.get(argv[0], bench_main)
    with pytest.raises(SystemExit) as exc:
        command(argv[1:] if argv[0] in commands else argv)
    assert exc.value.code == 2
    assert "three whole numbers such as 1000,500,100, not '1000,five,100'" \
        in capsys.readouterr().err


def test_bench_snapshot_alone() -> None:
    from bench import snapshot

    threshold = gc.get_threshold()
    out = snapshot.measure(centre.Sizes(calls=20, agents=10, queues=4, skills=5), runs=2)
    assert out["first"]["build_ms"] >= 0 and out["again1"]["dump_ms"] >= 0
    # every step timed: a snapshot of 4 queues takes more than one step
    assert out["first"]["steps"] > 1
    assert out["first"]["longest_ms"] >= out["first"]["p99_ms"] > 0
    assert out["gc"] == "tuned" and out["frozen_objects"] > 0
    # the test process gets its collector back as it was
    assert gc.get_threshold() == threshold and gc.get_freeze_count() == 0
