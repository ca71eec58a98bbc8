"""The routing simulator (`acd simulate`): the real routing core in virtual time, checked
against queueing theory, for reproducibility, for the routing rules it must keep (VIP first,
required skills, no agent idle while a call it may take waits), and for clear errors.

The Erlang C check and its run lengths: the figures of one run are correlated waits, not
independent samples, and their noise grows fast with occupancy (batch-means 95 % half-widths
measured over 8 seeds: ASA ±3 % at occupancy 0.5 over 100k calls, ±9 % at 0.857 with 35
agents, ±20-40 % at 0.95). So the issue's tolerance (1 point of SL, 5 % of ASA) is asserted
where a run is long enough for it to mean something (0.5 over 100k calls, 0.7 over 400k, 0.8
over 500k), and the heavy loads (0.857, 0.95) are checked to agree with Erlang C within the
run's own confidence interval, which must itself be tight enough to catch a real bias.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from acd.cli import main
from acd.config import ConfigError
from acd.core.model import Agent, Call
from acd.core.routing import call_key, eligible
from acd.simulate.decide import Decider
from acd.simulate.engine import Engine, simulate
from acd.simulate.results import RunResult, results
from acd.simulate.scenario import Scenario, apply_overrides, load_scenario, parse_scenario
from acd.simulate.tally import Tally

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "docs" / "scenarios"
ERLANG_C = SCENARIOS / "erlang_c.toml"
H_S = 180.0  # the handle time of erlang_c.toml


@pytest.fixture(autouse=True)
def _keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """`acd.cli.main` sets up the root logger for a process: not for the test session's."""
    monkeypatch.setattr("acd.cli.setup_logging", lambda *args, **kwargs: None)


def mmc(agents: int, occupancy: float, calls: int, *extra: str) -> Scenario:
    """erlang_c.toml (one FIFO queue, exponential 180 s, patient callers) at a load."""
    rate = occupancy * agents * 3600 / H_S
    return load_scenario(ERLANG_C, [f"roster.0.count={agents}",
                                    f"traffic.sales.calls_per_hour={rate}",
                                    f"calls={calls}", *extra])


def run(sc: Scenario, seed: int = 1) -> RunResult:
    return results(sc, simulate(sc, seed), "test", seed)


# --- against theory ------------------------------------------------------------------------

@pytest.mark.parametrize(("agents", "occupancy", "calls"),
                         [(1, 0.5, 100_000), (2, 0.7, 400_000), (1, 0.8, 500_000)])
def test_matches_erlang_c_within_one_point_and_five_percent(agents: int, occupancy: float,
                                                            calls: int) -> None:
    started = time.perf_counter()
    q = run(mmc(agents, occupancy, calls), seed=7).queues[0]
    wall_s = time.perf_counter() - started
    p = q.erlang_c
    assert p is not None and p.agents == agents
    assert p.load_erl == pytest.approx(occupancy * agents)
    f = q.figures
    assert f.offered == calls and f.answered == calls and f.abandoned == f.timed_out == 0
    assert f.service_level.value is not None and f.asa_s is not None
    assert 0.15 < p.service_level < 0.9  # not trivially 100 %
    assert abs(f.service_level.value - p.service_level) <= 0.01
    assert abs(f.asa_s / p.asa_s - 1) <= 0.05  # type: ignore[operator]
    # the run is long enough for the tolerance to mean something
    assert q.sl_ci95 is not None and q.sl_ci95 < 0.01
    assert q.asa_ci95_s is not None and q.asa_ci95_s < 0.05 * p.asa_s  # type: ignore[operator]
    assert f.aht_s == pytest.approx(H_S, rel=0.01)
    assert q.occupancy == pytest.approx(occupancy, abs=0.01)
    assert calls / wall_s > 5_000  # ~40,000 calls/s on a quiet 2-core box


@pytest.mark.parametrize(("agents", "occupancy", "sl_ci_max", "asa_ci_max"),
                         [(35, 30 / 35, 0.04, 0.35), (20, 0.95, 0.08, 0.6)])
def test_heavy_loads_agree_with_erlang_c_within_the_runs_confidence(
        agents: int, occupancy: float, sl_ci_max: float, asa_ci_max: float) -> None:
    q = run(mmc(agents, occupancy, 100_000), seed=3).queues[0]
    p, f = q.erlang_c, q.figures
    assert p is not None and p.asa_s is not None
    assert f.service_level.value is not None and f.asa_s is not None
    assert q.sl_ci95 is not None and q.asa_ci95_s is not None
    assert q.sl_ci95 < sl_ci_max and q.asa_ci95_s < asa_ci_max * p.asa_s
    # 1.5 half-widths of a 95 % interval with 19 degrees of freedom: about 3 standard errors
    assert abs(f.service_level.value - p.service_level) <= 1.5 * q.sl_ci95
    assert abs(f.asa_s - p.asa_s) <= 1.5 * q.asa_ci95_s


def test_the_doc_scenario_is_the_issues_erlang_c_centre() -> None:
    sc = load_scenario(ERLANG_C)
    (name, traffic), = sc.traffic.items()
    assert traffic.calls_per_hour == 600 and traffic.talk.type == "exponential"
    assert traffic.talk.mean == 180 and traffic.patience.type == "infinite"
    assert sc.roster[0].count == 35 and sc.queues[name].sla.threshold_s == 20
    assert sc.queues[name].wrapup_s == 0 and sc.calls == 100_000


def erlang_a(agents: int, lam: float, mu: float, theta: float) -> float:
    """P(abandon) of M/M/c+M (Erlang A) from its birth-death chain: θ·E[queue] / λ."""
    log_p = [0.0]
    n = 0
    while True:
        n += 1
        death = min(n, agents) * mu + max(n - agents, 0) * theta
        log_p.append(log_p[-1] + math.log(lam / death))
        if n > agents and log_p[-1] < max(log_p) - 50:
            break
    top = max(log_p)
    p = [math.exp(x - top) for x in log_p]
    total = sum(p)
    queue = sum(max(k - agents, 0) * pk for k, pk in enumerate(p)) / total
    return theta * queue / lam


def test_impatient_callers_abandon_as_erlang_a_says() -> None:
    sc = mmc(22, 24 / 22, 100_000, 'traffic.sales.patience={type="exponential", mean_s=60}')
    q = run(sc, seed=5).queues[0]
    expected = erlang_a(22, 24 / H_S, 1 / H_S, 1 / 60)
    assert 0.1 < expected < 0.25
    assert q.figures.abandon_rate == pytest.approx(expected, rel=0.05)
    assert q.figures.answered + q.figures.abandoned == q.figures.offered


def test_more_patience_or_more_agents_mean_fewer_abandons() -> None:
    def abandon_rate(agents: int, patience_s: int) -> float:
        sc = mmc(agents, 24 / agents, 10_000,
                 f'traffic.sales.calls_per_hour={24 * 3600 / H_S}',
                 f'traffic.sales.patience={{type="exponential", mean_s={patience_s}}}')
        rate = run(sc).queues[0].figures.abandon_rate
        assert rate is not None
        return rate

    by_patience = [abandon_rate(22, p) for p in (30, 60, 120, 240)]
    by_agents = [abandon_rate(c, 60) for c in (20, 22, 24, 26)]
    assert by_patience == sorted(by_patience, reverse=True) and by_patience[-1] > 0
    assert by_agents == sorted(by_agents, reverse=True) and by_agents[0] > 2 * by_agents[-1]


# --- reproducibility -------------------------------------------------------------------------

def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["simulate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_same_seed_same_output_other_seed_other_output(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    path = str(SCENARIOS / "two_languages.toml")
    runs = [cli(capsys, path, "--seed", str(seed), "--json") for seed in (4, 4, 5)]
    assert [code for code, _, _ in runs] == [0, 0, 0]
    assert runs[0][1] == runs[1][1]
    assert runs[0][1] != runs[2][1]
    assert "calls/s" in runs[0][2]  # the speed goes to stderr, never into the figures
    text = [cli(capsys, path, "--seed", "4")[1] for _ in range(2)]
    assert text[0] == text[1] and "sales" in text[0] and "mix fr" in text[0]


def test_a_routing_change_sees_the_same_callers() -> None:
    """Arrivals, talk times and patience are drawn per queue, apart from routing: with more
    agents the very same callers arrive (so with/without comparisons are like for like)."""
    base = load_scenario(SCENARIOS / "understaffed.toml")
    more = load_scenario(SCENARIOS / "understaffed.toml", ["roster.0.count=30"])
    a, b = run(base).queues[0].figures, run(more).queues[0].figures
    assert a.offered == b.offered
    assert b.abandoned < a.abandoned and b.asa_s is not None and a.asa_s is not None
    assert b.asa_s < a.asa_s
    # each purpose draws from its own stream: a VIP share or a talk time distribution leaves
    # the arrivals as they were
    vip = load_scenario(SCENARIOS / "understaffed.toml", [
        "traffic.orders.vip_share=0.3", 'traffic.orders.talk={type="lognormal", mean_s=180, '
        'sd_s=90}'])
    c = run(vip).queues[0]
    assert c.figures.offered == a.offered
    assert c.classes["vip"].offered + c.classes["normal"].offered == a.offered


def test_a_mix_adds_its_skills_to_the_queues_keeping_the_stricter_level() -> None:
    sc = load_scenario(SCENARIOS / "two_languages.toml", [
        "queues.sales.skills={sales=3}",
        'traffic.sales.mix=[{label="x", share=0.5, skills={sales=1, fr=2}}, '
        '{label="y", share=0.5, skills={sales=4}}]'])
    sales = Engine(sc, 1).sources[0]
    assert sales.queue == "sales"
    assert [s.required for _, s in sales.segments] == [{"sales": 3, "fr": 2}, {"sales": 4}]


# --- routing rules, checked at every decision ----------------------------------------------

class CheckingDecider(Decider):
    """The engine's Decider, checking after each decision what the core promises."""

    connections: list[tuple[Agent, Call]]

    def call_waits(self, call: Call, now: float) -> Agent | None:
        agent = super().call_waits(call, now)
        if agent is None:  # queued: no ready agent could take it
            assert not any(eligible(a, call) for pool in self._ready.values()
                           for a in pool.values())
        else:
            self.connections.append((agent, call))
        return agent

    def agent_ready(self, agent: Agent, now: float) -> Call | None:
        takeable = [c for c in self.waiting.values() if eligible(agent, c)]
        call = super().agent_ready(agent, now)
        if call is None:  # idle: nothing waiting that it could take
            assert not takeable
        else:  # the first in routing order: VIP class first, then the longest waiting
            assert call is min(takeable, key=call_key)
            self.connections.append((agent, call))
        return call


def checked_run(sc: Scenario) -> tuple[Tally, list[tuple[Agent, Call]]]:
    engine = Engine(sc, 1)
    decider = CheckingDecider(sc.queues, engine.live)
    decider.connections = []
    engine.decider = decider
    return engine.run(), decider.connections


def test_vip_first_and_no_idle_agent_while_a_call_it_may_take_waits() -> None:
    sc = load_scenario(SCENARIOS / "vip.toml", ["duration_s=7200"])
    tally, connections = checked_run(sc)
    assert len(connections) > 500
    r = results(sc, tally, "vip", 1).queues[0]
    vip, normal = r.classes["vip"], r.classes["normal"]
    assert vip.asa_s is not None and normal.asa_s is not None and vip.asa_s < normal.asa_s / 2
    assert vip.service_level.value is not None and normal.service_level.value is not None
    assert vip.service_level.value > normal.service_level.value
    assert vip.offered + normal.offered == r.figures.offered


def test_required_skills_are_respected_and_the_best_match_goes_first() -> None:
    sc = load_scenario(SCENARIOS / "two_languages.toml", ["duration_s=7200"])
    _, connections = checked_run(sc)
    for agent, call in connections:
        assert all(agent.skills.get(s, 0) >= lvl for s, lvl in call.required.items())
    french = [a for a, c in connections if "fr" in c.required]
    assert french and all("-bi-" in a.id for a in french)  # only bilingual agents

    backup = load_scenario(SCENARIOS / "backup_skills.toml", ["duration_s=7200"])
    _, connections = checked_run(backup)
    billing = [a.id for a, c in connections if c.queue == "billing"]
    by_specialist = sum(1 for a in billing if a.startswith("billing-")) / 12
    by_backup = sum(1 for a in billing if a.startswith("support-")) / 25
    assert by_backup > 0 and by_specialist > 3 * by_backup  # backups only help out
    assert all(c.queue != "support" or a.id.startswith("support-") for a, c in connections)


def test_ring_time_counts_in_the_wait_and_timeouts_end_long_waits() -> None:
    sc = mmc(5, 0.5, 5_000, 'roster.0.ring={type="fixed", value_s=6}')
    tally = simulate(sc, 1)
    f = results(sc, tally, "ring", 1).queues[0].figures
    assert f.answered == 5_000 and f.asa_s is not None and f.asa_s > 6
    assert min(tally.queues["sales"].answered_waits) == 6  # every answer after the ring
    assert f.aht_s == pytest.approx(H_S, rel=0.05)  # the ring is not talk

    slow = load_scenario(SCENARIOS / "understaffed.toml", [
        "queues.orders.max_wait_s=30", 'traffic.orders.patience={type="infinite"}'])
    r = run(slow).queues[0]
    assert r.figures.timed_out > 0 and r.figures.abandoned == 0
    assert r.longest_wait_s <= 30 + 1e-6
    assert r.figures.answered + r.figures.timed_out == r.figures.offered


def test_duration_and_warmup_bound_what_is_counted() -> None:
    sc = load_scenario(SCENARIOS / "understaffed.toml", ["duration_s=36000", "warmup_s=3600"])
    r = run(sc)
    offered = r.queues[0].figures.offered
    expected = 480 * 10  # 10 hours at 480 calls/h: Poisson, sd ~69
    assert abs(offered - expected) < 5 * math.sqrt(expected)
    assert r.span_s == pytest.approx(36000, abs=1)
    assert r.calls_simulated > offered  # warm-up calls were simulated, not counted
    occupancy = r.queues[0].occupancy
    assert occupancy is not None and 0.85 < occupancy <= 1


# --- every scenario of docs/scenarios runs -------------------------------------------------

@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_documented_scenario_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, str(path), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["centre"]["figures"]["offered"] > 1000 and doc["notes"] == []
    for q in doc["queues"]:
        assert q["figures"]["answered"] > 0
        assert q["figures"]["service_level"]["value"] is not None


def test_notes_say_when_callers_cannot_be_served() -> None:
    sc = load_scenario(SCENARIOS / "two_languages.toml", [
        "duration_s=3600", "roster.1.count=0", "roster.3.count=0",
        'traffic.support.patience={type="infinite"}', "queues.support.max_wait_s=inf"])
    r = run(sc)
    support = r.queues[1].figures
    left = support.offered - support.answered - support.abandoned - support.timed_out
    assert left > 0 and r.queues[1].mix["fr"].answered == 0
    assert r.notes == [
        "sales: no agent of the queue holds the skills of mix 'fr': those callers can only "
        "abandon or time out",
        "support: no agent of the queue holds the skills of mix 'fr': those callers can only "
        "abandon or time out",
        f"support: {left:,} counted calls were still waiting when the run ended (patient "
        "callers no agent could take)"]


# --- errors ------------------------------------------------------------------------------------

def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_scenario(data)
    return info.value.problems


def base() -> dict[str, Any]:
    return {"calls": 100, "queues": {"q": {}},
            "traffic": {"q": {"calls_per_hour": 60,
                              "talk": {"type": "exponential", "mean_s": 60}}},
            "roster": [{"count": 2}]}


@pytest.mark.parametrize(("change", "expected"), [
    ({"traffic": {"x": {"calls_per_hour": 1, "talk": {"type": "fixed", "value_s": 1}}}},
     "traffic.x: unknown queue 'x' (no [queues.x])"),
    ({"duration_s": 60}, "duration_s: give either calls or duration_s, not both"),
    ({"queues": {"q": {"sla": {"threshold_s": 0}}}},
     "queues.q.sla.threshold_s: Input should be greater than 0"),
    ({"queues": {"q": {"wrapup_secs": 1}}}, "queues.q.wrapup_secs: unknown key"),
    ({"roster": [{"count": 1, "queues": ["nope"]}]}, "roster.0.queues.0: unknown queue 'nope'"),
    ({"roster": [{"count": 1}, {"count": 2}]},
     "roster.1.name: 'agent' is also the name of roster.0 (agent ids would clash)"),
    ({"traffic": {"q": {"calls_per_hour": 1, "talk": {"type": "weibull", "mean_s": 1}}}},
     "traffic.q.talk: Input tag 'weibull' found using 'type' does not match any of the "
     "expected tags"),
    ({"traffic": {"q": {"calls_per_hour": 1, "talk": {"type": "uniform", "low_s": 5,
                                                         "high_s": 1}}}},
     "traffic.q.talk: high_s must be >= low_s"),
    ({"traffic": {"q": {"calls_per_hour": 1, "talk": {"type": "infinite"}}}},
     "traffic.q.talk: Input tag 'infinite' found using 'type' does not match any"),
    ({"traffic": {"q": {"calls_per_hour": 1, "talk": {"type": "fixed", "value_s": 1},
                        "mix": [{"label": "a", "share": 0.7}, {"label": "b", "share": 0.5}]}}},
     "traffic.q.mix: the shares add up to more than 1"),
])
def test_bad_scenarios_are_named_by_key_path(change: dict[str, Any], expected: str) -> None:
    data = {**base(), **change}
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found


def test_a_scenario_needs_a_length() -> None:
    data = base()
    del data["calls"]
    assert problems(data) == ["calls: required key is missing (or give duration_s)"]


def test_every_problem_at_once() -> None:
    data = base()
    data["queues"]["q"]["wrapup_s"] = -1
    data["traffic"]["q"]["calls_per_hour"] = 0
    data["seed"] = "x"
    found = problems(data)
    assert {p.split(":")[0] for p in found} == {"queues.q.wrapup_s",
                                                "traffic.q.calls_per_hour", "seed"}


def test_overrides() -> None:
    data = base()
    apply_overrides(data, ["queues.q.sla.formula=ignore_abandoned", "roster.0.count=40",
                           'queues."a.b".wrapup_s=3', "traffic.q.vip_share=0.25",
                           'traffic.q.talk={ type = "fixed", value_s = 30 }',
                           "roster.0.skills.fr = 2"])
    assert data["queues"]["q"]["sla"] == {"formula": "ignore_abandoned"}
    assert data["queues"]["a.b"] == {"wrapup_s": 3}
    assert data["roster"][0] == {"count": 40, "skills": {"fr": 2}}
    assert data["traffic"]["q"]["talk"] == {"type": "fixed", "value_s": 30}
    assert data["traffic"]["q"]["vip_share"] == 0.25
    for bad, message in [("roster.3.count=1", "--set roster.3.count: no item '3' (there are 1)"),
                         ("calls", "--set 'calls': expected KEY=VALUE"),
                         ("calls.x=1", "--set calls.x: calls is not a table"),
                         ("a..b=1", "--set a..b: not a dotted TOML key"),
                         ("calls=[1,", "--set calls: '[1,' is not a TOML value")]:
        with pytest.raises(ConfigError) as info:
            apply_overrides(base(), [bad])
        assert info.value.problems == [message]


@pytest.mark.parametrize(("args", "expected"), [
    (["--set", "queues.sales.sla.threshold_s=0"],
     "queues.sales.sla.threshold_s: Input should be greater than 0"),
    (["--set", "traffic.sales.calls_per_hr=5"], "traffic.sales.calls_per_hr: unknown key"),
    (["--set", "roster.2.count=5"], "--set roster.2.count: no item '2' (there are 1)"),
])
def test_cli_bad_scenario_exit_2_names_the_key(capsys: pytest.CaptureFixture[str],
                                               args: list[str], expected: str) -> None:
    code, out, err = cli(capsys, str(ERLANG_C), *args)
    assert code == 2 and out == ""
    assert f"{ERLANG_C}: {expected}" in err


def test_cli_unreadable_and_broken_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("calls = [\n")
    for path, expected in [(tmp_path / "missing.toml", "cannot read"),
                           (broken, "not valid TOML")]:
        out = subprocess.run([sys.executable, "-m", "acd", "simulate", str(path)],
                             capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 2 and out.stdout == ""
        assert f"{path}: {expected}" in out.stderr
        assert "Traceback" not in out.stderr
