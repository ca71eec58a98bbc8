"""The headline figures and ratios of a run, and the table in BENCHMARKS.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:results:begin -->"
END = "<!-- bench:results:end -->"


def _ratio(a: float | None, b: float | None, nd: int = 2) -> float | None:
    if a is None or b in (None, 0):
        return None
    return round(a / b, nd)


def summarise(main: dict[str, Any], curve: list[dict[str, Any]], lua: dict[str, Any],
              api_base: dict[str, Any], ami: dict[str, Any]) -> dict[str, Any]:
    burst, paced = main["burst"], main["paced"]
    lat = paced["latency_ms"]
    edge = paced.get("service_latency_ms", {})
    in_sim = paced.get("latency_in_sim_ms", {})
    loaded = paced.get("baseline_lua_loaded_ms", {})
    api = main["api"]
    mem = main["memory"]
    routing = {
        "decisions_per_s": burst["decisions_per_s"],
        "latency_ms": {k: lat[k] for k in ("p50", "p99", "p999", "max", "n")},
        "paced_rate_per_s": paced["rate_target_per_s"],
        "burst_latency_ms": {k: burst["latency_ms"][k] for k in ("p50", "p99", "p999")},
        "loop_lag_p99_ms": paced["loop_lag_ms"]["p99"],
        "baseline_lua_rtt_ms": {k: lua[k] for k in ("p50", "p99", "p999")},
        "ratio_p99_to_lua_p99": _ratio(lat["p99"], lua["p99"], 1),
        # latency_ms is timed where the frames cross the wire (bench/simproc.py); the same
        # decisions timed inside the simulator, as every run before 2026-11-25 was, with the
        # simulator's own delay in writing the event and in reading the Originate
        "latency_in_sim_ms": {k: in_sim.get(k) for k in ("p50", "p99", "p999", "max", "n")},
        "ratio_in_sim_p99_to_lua_p99": _ratio(in_sim.get("p99"), lua["p99"], 1),
        # the same phase timed at the service's edge (bench/probe.py): what the service
        # itself takes, without the simulator's loop and the two socket hops
        "service_latency_ms": {k: edge.get(k) for k in ("p50", "p99", "p999", "max", "n")},
        "ratio_service_p99_to_lua_p99": _ratio(edge.get("p99"), lua["p99"], 1),
        # the same claim timed beside this phase, in a process of its own (bench/loaded.py):
        # what the round trip costs on the loaded machine (beside the idle baseline above)
        "baseline_lua_rtt_loaded_ms": {k: loaded.get(k) for k in ("p50", "p99", "p999", "n")},
        "ratio_p99_to_loaded_lua_p99": _ratio(lat["p99"], loaded.get("p99"), 1),
        "ratio_service_p99_to_loaded_lua_p99": _ratio(edge.get("p99"), loaded.get("p99"), 1),
        # decisions/s against the claims/s one Python client can make back to back
        "ratio_decisions_to_lua_claims_per_s": _ratio(burst["decisions_per_s"],
                                                      1000 / lua["p50"] if lua["p50"] else None,
                                                      3),
        "load_calls_per_s": main["load"]["calls_per_s"],
        # where the cores went in that phase (1.0 = one core busy): the service's routing
        # process, the figures process, the simulator, redis-server, the machine, the rest
        "cpu_cores": paced.get("cpu_cores"),
        "service_cpu_ms_per_decision": paced.get("service_cpu_ms_per_decision"),
        # calls that arrive to ready agents: AsyncAGIStart -> the Originate (call first)
        "call_first_latency_ms": _call_first(main.get("arrivals")),
        "call_first_rate_per_s": (main.get("arrivals") or {}).get("rate_target_per_s"),
        # every paced phase, from the heaviest: (rate, p50, p99) each; latency_ms above is the
        # highest rate that keeps up (bench.routing.keeps_up)
        "latency_curve_ms": [
            {"rate_per_s": c["rate_target_per_s"], "p50": c["latency_ms"]["p50"],
             "p99": c["latency_ms"]["p99"], "p999": c["latency_ms"]["p999"],
             "service_p50": c.get("service_latency_ms", {}).get("p50"),
             "service_p99": c.get("service_latency_ms", {}).get("p99"),
             "machine_cores": (c.get("cpu_cores") or {}).get("machine"),
             "keeps_up": c is paced}
            for c in main.get("paced_ladder", [paced])],
    }
    amif = {
        "events_per_s": ami["blast"]["events_per_s"],
        "baseline_parse_per_s": ami["baseline_parse"]["per_s"],
        "ratio_to_parse": _ratio(ami["blast"]["events_per_s"], ami["baseline_parse"]["per_s"],
                                 3),
        "paced_rate_per_s": ami["paced"]["rate_sent_per_s"],
        "paced_loop_lag_p99_ms": ami["paced"]["loop_lag_ms"]["p99"],
        "paced_max_inbox": ami["paced"]["max_inbox"],
        "blast_loop_lag_p99_ms": ami["blast"]["loop_lag_ms"]["p99"],
    }
    apif = _api_figures(api, api_base, main["snapshot"], main.get("history", {}).get("facts"))
    memory = {
        "rss_mb": mem["rss_mb"], "rss_mb_end": mem.get("rss_mb_end"),
        # http.own_process: the figures process's RSS (the routing process's is rss_mb)
        "figures_rss_mb": mem.get("figures_rss_mb"),
        "redis_bytes_per_waiting_call": mem["redis_bytes_per_waiting_call"],
        "redis_bytes_per_agent": mem["redis_bytes_per_agent"],
        "rss_bytes_per_waiting_call": mem["rss_bytes_per_waiting_call"],
        "rss_bytes_per_agent": mem["rss_bytes_per_agent"],
    }
    scale = [{"factor": c["factor"], **c["sizes"],
              "decisions_per_s": c["burst"]["decisions_per_s"],
              "p50_ms": c["paced"]["latency_ms"]["p50"], "p99_ms": c["paced"]["latency_ms"]["p99"],
              "p999_ms": c["paced"]["latency_ms"]["p999"],
              "paced_rate_per_s": c["paced"]["rate_target_per_s"],
              "load_calls_per_s": c["load"]["calls_per_s"],
              "redis_bytes_per_waiting_call": c["memory"]["redis_bytes_per_waiting_call"],
              "rss_mb": c["memory"]["rss_mb"],
              "snapshot_store_reads_at_2350_ms": c["snapshot"]["store_reads_at_2350_ms"],
              "snapshot_refresh_ms": c["snapshot"]["refresh_ms"],
              "snapshot_refresh_next_ms": c["snapshot"].get("refresh_next_ms")}
             for c in curve]
    return {"routing": routing, "ami": amif, "api": apif, "memory": memory, "scale": scale}


def _call_first(arrivals: dict[str, Any] | None) -> dict[str, Any] | None:
    if not arrivals:
        return None
    lat = arrivals["latency_ms"]
    return {k: lat.get(k) for k in ("p50", "p99", "p999", "max", "n")}


def _api_figures(api: dict[str, Any], base: dict[str, Any], snapshot: dict[str, Any],
                 facts: int | None) -> dict[str, Any]:
    """Polled (the target's figure: pollers every interval_s) and saturation (closed loop),
    each against the bare handler under the same clients."""
    lat, sat, bsat = api["latency_ms"], api["saturation"], base["saturation"]
    idle = api.get("routing_idle")

    def routing(phase: dict[str, Any]) -> dict[str, Any]:
        during = phase["routing_during"]
        return {"rate_per_s": during["rate_target_per_s"], "freed": during["freed"],
                "decisions": during["decisions"],
                **{k: during["latency_ms"][k] for k in ("n", "p50", "p99", "max")}}

    return {
        "pollers": api["pollers"], "interval_s": api["interval_s"],
        "pollers_browser_like": api.get("browser_like"),
        "clients_nice": api.get("clients_nice"),
        "requests_per_s": api["requests_per_s"],
        "p50_ms": lat["p50"], "p99_ms": lat["p99"], "p999_ms": lat["p999"], "max_ms": lat["max"],
        "late": api["late"], "unanswered": api["unanswered"], "errors": api["errors"],
        "not_modified_share": api["not_modified_share"],
        "wire_bytes_per_answer": api["wire_bytes_per_answer"],
        "body_bytes": api["body_bytes"], "gzip_bytes": api.get("gzip_bytes"),
        "client_send_lag_p99_ms": api["send_lag_ms"]["p99"],
        # the bench's own client processes' CPU, a share of one core (since session 13)
        "clients_cpu_share": api.get("clients_cpu_share"),
        "baseline_requests_per_s": base["requests_per_s"],
        "baseline_p99_ms": base["latency_ms"]["p99"],
        "baseline_p999_ms": base["latency_ms"]["p999"],
        "baseline_late": base["late"],
        "ratio_p99_to_baseline": _ratio(lat["p99"], base["latency_ms"]["p99"]),
        # the same pollers with routing idle (absent from results older than session 6)
        "p99_ms_routing_idle": idle["latency_ms"]["p99"] if idle else None,
        "push_delay_ms": {k: api["push_delay_ms"][k] for k in ("n", "p50", "p99", "max")},
        "push_bytes_max": api.get("push_bytes_max"),
        "routing_p99_ms_during": api["routing_during"]["latency_ms"]["p99"],
        "routing_during": routing(api),
        "saturation": {
            "clients": api["pollers"], "requests_per_s": sat["requests_per_s"],
            "p50_ms": sat["latency_ms"]["p50"], "p99_ms": sat["latency_ms"]["p99"],
            "errors": sat["errors"], "routing_p99_ms_during": sat["routing_during"][
                "latency_ms"]["p99"], "routing_during": routing(sat),
            "clients_cpu_share": sat.get("clients_cpu_share")},
        "baseline_saturation": {
            "requests_per_s": bsat["requests_per_s"], "p50_ms": bsat["latency_ms"]["p50"],
            "p99_ms": bsat["latency_ms"]["p99"]},
        "ratio_rps_to_baseline": _ratio(sat["requests_per_s"], bsat["requests_per_s"]),
        "ratio_saturation_p99_to_baseline": _ratio(sat["latency_ms"]["p99"],
                                                   bsat["latency_ms"]["p99"]),
        "snapshot_refresh_ms": snapshot["refresh_ms"],
        "snapshot_refresh_next_ms": snapshot.get("refresh_next_ms"),
        "facts_in_the_hour": facts,
        "snapshot_store_reads_at_2350_ms": snapshot["store_reads_at_2350_ms"],
    }


def drift(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """First window against the last (the first is warm-up-prone: the second if there is one)."""
    if len(rows) < 2:
        return {}
    a, b = rows[1] if len(rows) > 2 else rows[0], rows[-1]
    return {"rss_mb": round(b["rss_mb"] - a["rss_mb"], 1),
            "redis_mb": round(b["redis_mb"] - a["redis_mb"], 2),
            "p99_ms": round((b["p99_ms"] or 0) - (a["p99_ms"] or 0), 3)}


def row(r: dict[str, Any]) -> str:
    rt, am, ap, me = r["routing"], r["ami"], r["api"], r["memory"]
    s = r["sizes"]
    m = r["machine"]
    cells = [
        r["mode"], r["date"][:16].replace("T", " "),
        r["commit"][:8] + ("+dirty" if r.get("dirty") else ""),
        f"{m['nproc']}x {m['cpu']}, {m['ram_gb']} GB",
        " / ".join(str(x) for x in r["load_average_start"]),
        f"{s['calls']}/{s['agents']}/{s['queues']}/{s['skills']}",
        f"{rt['decisions_per_s']}",
        f"{rt['latency_ms']['p50']} / {rt['latency_ms']['p99']} / {rt['latency_ms']['p999']}"
        f" @{rt['paced_rate_per_s']}/s" + _edge(rt.get("service_latency_ms"))
        + _in_sim(rt.get("latency_in_sim_ms"))
        + _first(rt.get("call_first_latency_ms"), rt.get("call_first_rate_per_s")) + " (curve: "
        + "; ".join(f"{c['p50']} / {c['p99']} @{c['rate_per_s']}/s"
                    for c in rt.get("latency_curve_ms", [])) + ")",
        f"{rt['baseline_lua_rtt_ms']['p99']} (x{rt['ratio_p99_to_lua_p99']}"
        + (f"; service edge x{rt['ratio_service_p99_to_lua_p99']}"
           if rt.get("ratio_service_p99_to_lua_p99") is not None else "") + ")"
        + _loaded(rt),
        f"{am['events_per_s']} (parse {am['baseline_parse_per_s']}, x{am['ratio_to_parse']})",
        f"{ap['p99_ms']} @{ap['pollers']} every {ap['interval_s']} s (routing idle "
        f"{ap.get('p99_ms_routing_idle')}; bare {ap['baseline_p99_ms']}); saturation "
        f"{ap['saturation']['requests_per_s']} / "
        f"{ap['saturation']['p99_ms']} (bare {ap['baseline_saturation']['requests_per_s']} / "
        f"{ap['baseline_saturation']['p99_ms']})",
        f"{ap['push_delay_ms']['p50']} / {ap['push_delay_ms']['p99']}",
        f"{me['rss_mb']}" + (f" + {me['figures_rss_mb']}" if me.get("figures_rss_mb")
                             else ""),
        f"{me['redis_bytes_per_waiting_call']} / {me['redis_bytes_per_agent']}",
        f"{ap.get('snapshot_refresh_ms')} / {ap.get('snapshot_refresh_next_ms')} "
        f"({ap.get('facts_in_the_hour')})",
    ]
    return "| " + " | ".join(cells) + " |"


def _first(first: dict[str, Any] | None, rate: float | None) -> str:
    """Calls that arrive to ready agents (older result files have none)."""
    if not first or first.get("p50") is None:
        return ""
    return f"; call first {first['p50']} / {first['p99']} / {first['p999']} @{rate}/s"


def _loaded(rt: dict[str, Any]) -> str:
    """The claim script timed beside the load (older result files have none)."""
    loaded = rt.get("baseline_lua_rtt_loaded_ms") or {}
    if loaded.get("p99") is None:
        return ""
    return (f"; beside the load {loaded['p99']} (x{rt['ratio_p99_to_loaded_lua_p99']}; "
            f"service edge x{rt['ratio_service_p99_to_loaded_lua_p99']})")


def _edge(edge: dict[str, Any] | None) -> str:
    """The service-edge latency (older result files have none)."""
    if not edge or edge.get("p50") is None:
        return ""
    return f"; at the service's edge {edge['p50']} / {edge['p99']} / {edge['p999']}"


def _in_sim(in_sim: dict[str, Any] | None) -> str:
    """The same decisions timed inside the simulator (older result files: that is latency_ms)."""
    if not in_sim or in_sim.get("p50") is None:
        return ""
    return f"; inside the simulator {in_sim['p50']} / {in_sim['p99']} / {in_sim['p999']}"


HEADER = ("| mode | date (UTC) | commit | machine | load avg | calls/agents/queues/skills | "
          "decisions/s | decision ms p50 / p99 / p99.9 @ paced rate | claim Lua p99 ms "
          "(ratio) | AMI events/s | API p99 ms polled; saturation req/s / p99 ms | "
          "push delay ms p50 / p99 | RSS MB (+ figures process) | "
          "Redis B per call / agent | figures refresh ms, first / next (facts in the "
          "last hour) |\n" + "|---" * 15 + "|")


def update_markdown(path: Path, result: dict[str, Any]) -> None:
    """Replace this mode's row in the results table of BENCHMARKS.md (the other rows stay)."""
    text = (path.read_text(encoding="utf-8") if path.exists()
            else f"# Benchmarks\n\n{BEGIN}\n{END}\n")
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    body, tail = rest.split(END, 1)
    rows = [ln for ln in body.strip().splitlines() if ln.startswith("| ")
            and not ln.startswith("| mode ") and not ln.startswith("|---")]
    rows = [ln for ln in rows if not re.match(rf"\| {re.escape(result['mode'])} \|", ln)]
    rows.append(row(result))
    rows.sort()
    path.write_text(f"{head}{BEGIN}\n{HEADER}\n" + "\n".join(rows) + f"\n{END}{tail}",
                    encoding="utf-8")
