"""Keeps the benchmark (bench/) from rotting: its parts run at a tiny size, quickly.

Timings are not asserted (other work shares the machine): only that every figure is produced.
"""

from __future__ import annotations

import json
from pathlib import Path

from acd.testing.redis_server import RedisServer
from bench import ami_ingest, centre, report, routing
from bench.api_load import baseline


async def test_bench_parts_run_at_a_tiny_size(redis_server: RedisServer, redis_url: str,
                                              tmp_path: Path) -> None:
    sizes = centre.Sizes(calls=6, agents=4, queues=2, skills=5)
    lua = await routing.lua_baseline(redis_url, 20)
    assert lua["n"] == 20 and lua["p99"] is not None
    # (the API and figures in a process of their own, as the benchmark runs by default)
    main = await routing.run(sizes, redis_url, paced_rate=20, paced_s=0.5, api_pollers=5,
                             api_s=1.0, api_interval_s=0.25, own_process=True)
    assert main["burst"]["decisions"] == 4
    assert main["memory"]["figures_rss_mb"] > 0
    assert main["paced"]["latency_ms"]["n"] > 0
    api = main["api"]
    for phase in (api, api["saturation"]):
        assert phase["requests"] > 0 and phase["errors"] == 0
        assert phase["routing_during"]["freed"] > 0
    # polled: the clients revalidate with the ETag they got (304s) and take gzip
    # (4 polls a second against a snapshot every second: most find it unchanged)
    assert api["mode"] == "poll" and api["not_modified"] > 0
    assert api["latency_ms"]["n"] == api["requests"] and api["push_delay_ms"]["n"] > 0
    assert 0 < api["gzip_bytes"] < api["body_bytes"]
    body = api.pop("_body")
    api_base = await baseline(body, 5, 0.5, 0.25)
    assert api_base["requests"] > 0 and api_base["saturation"]["requests"] > 0
    ami = await ami_ingest.run(redis_url, blast=300, paced_rate=300, paced_s=0.5)
    assert ami["blast"]["events_per_s"] > 0 and ami["baseline_parse"]["per_s"] > 0
    result = {"mode": "test", "date": "2026-01-01T00:00:00+00:00", "commit": "0" * 40,
              "machine": {"nproc": 1, "cpu": "x", "ram_gb": 1}, "load_average_start": [0.0],
              "sizes": sizes.as_dict(),
              **report.summarise(main, [{"factor": 1, **main}], lua, api_base, ami)}
    for key in ("decisions_per_s", "latency_ms", "baseline_lua_rtt_ms"):
        assert key in result["routing"]
    # the same pollers with routing idle, apart from what sharing the cores with it adds
    assert api["routing_idle"]["requests"] > 0 and api["routing_idle"]["errors"] == 0
    for key in ("requests_per_s", "p99_ms", "baseline_p99_ms",  # the result file's fields
                "p99_ms_routing_idle"):
        assert result["api"][key] is not None
    assert result["api"]["saturation"]["requests_per_s"] > 0
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
    assert main["burst"]["decisions"] == 3
    assert main["paced"]["latency_ms"]["n"] > 0


def test_bench_snapshot_alone() -> None:
    from bench import snapshot

    out = snapshot.measure(centre.Sizes(calls=20, agents=10, queues=4, skills=5))
    assert out["first"]["build_ms"] >= 0 and out["again"]["dump_ms"] >= 0
