"""The Erlang C staffing helper: the fewest agents for a target (against a brute-force search
over METRICS.md's formula), `acd erlang`, GET /api/v1/erlang, and the live
`agents_needed_now` / `agents_short_now` of each queue in the snapshot."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from acd.api import create_app
from acd.api.testing import FakeBackend
from acd.cli import main
from acd.stats import erlang
from acd.stats.figures import build_snapshot
from acd.stats.raw import QueueCounts
from tests.test_api import api, auth, figures, http_config
from tests.test_figures_snapshot import AGENTS, AGENTS_TODAY, CALLS, FUNNEL, NOW, config


@pytest.fixture(autouse=True)
def _keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """`acd.cli.main` sets up the root logger for a process: not for the test session's."""
    monkeypatch.setattr("acd.cli.setup_logging", lambda *args, **kwargs: None)

# --- the maths --------------------------------------------------------------------------------


def brute_force_needed(a: float, aht_s: float, target: float, t_s: float) -> int:
    c = 0
    while erlang.service_level(c, a, t_s, aht_s) < target:
        c += 1
    return c


@pytest.mark.parametrize(("a", "aht_s", "target", "t_s"), [
    (30.0, 180, 0.8, 20), (30.0, 180, 0.9, 10), (0.2, 60, 0.8, 20), (1.0, 300, 0.95, 0),
    (7.33, 220, 0.8, 20), (250.0, 240, 0.8, 30), (2.0, 120, 1.0, 3600), (12.0, 90, 0.5, 5)])
def test_agents_needed_is_the_fewest_meeting_the_target(a: float, aht_s: float, target: float,
                                                        t_s: float) -> None:
    needed = erlang.agents_needed(a, aht_s, target, t_s)
    assert needed == brute_force_needed(a, aht_s, target, t_s)
    assert needed > a
    assert erlang.service_level(needed, a, t_s, aht_s) >= target
    assert erlang.service_level(needed - 1, a, t_s, aht_s) < target


def test_the_issues_centre() -> None:
    """600 calls/h x 180 s with 35 agents (docs/scenarios/erlang_c.toml)."""
    s = erlang.staffing(600, 180, 80, 20, 35)
    assert s.load_erl == pytest.approx(30.0)
    assert s.service_level == pytest.approx(erlang.service_level(35, 30.0, 20, 180))
    assert s.asa_s == pytest.approx(erlang.asa(35, 30.0, 180))
    assert s.p_wait == pytest.approx(erlang.erlang_c(35, 30.0))
    assert s.occupancy == pytest.approx(30 / 35)
    assert s.agents_needed == 35 and 0.83 < s.service_level < 0.84
    assert erlang.staffing(600, 180, 80, 20).agents == 35  # default: the agents needed


def test_staffing_limits() -> None:
    idle = erlang.staffing(0, 180, 80, 20, 3)
    assert (idle.agents_needed, idle.service_level, idle.asa_s, idle.p_wait,
            idle.occupancy) == (0, 1.0, 0.0, 0.0, 0.0)
    short = erlang.staffing(600, 180, 80, 20, 30)  # agents == load: unstable
    assert short.asa_s == math.inf and short.service_level == 0.0 and short.occupancy == 1.0
    with pytest.raises(ValueError, match="more than 10 agents"):
        erlang.agents_needed(50.0, 180, 0.8, 20, max_agents=10)
    for bad in (lambda: erlang.agents_needed(1, 0, 0.8, 20),
                lambda: erlang.agents_needed(1, 180, 1.5, 20),
                lambda: erlang.agents_needed(-1, 180, 0.8, 20),
                lambda: erlang.staffing(-5, 180, 80, 20)):
        with pytest.raises(ValueError):
            bad()


@pytest.mark.parametrize(("text", "expected"), [("80/20", (80.0, 20)), ("90/10", (90.0, 10)),
                                                ("99.5/0", (99.5, 0))])
def test_parse_target(text: str, expected: tuple[float, int]) -> None:
    assert erlang.parse_target(text) == expected


@pytest.mark.parametrize("text", ["80", "80/", "/20", "0/20", "120/20", "80/-1", "a/b", "80/2.5"])
def test_parse_target_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="X/T"):
        erlang.parse_target(text)


# --- acd erlang -----------------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["erlang", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--calls-per-hour", "600", "--aht", "180", "--agents", "33")
    assert code == 0 and err == ""
    assert "30.00 Erlangs; target 80/20" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isdigit()}
    assert "<- asked" in rows["33"] and "64.9%" in rows["33"]
    assert "<- fewest meeting 80/20" in rows["35"] and "83.7%" in rows["35"]
    assert out.rstrip().endswith("agents needed: 35")
    code, out, _ = run_cli(capsys, "--calls-per-hour", "600", "--aht", "180", "--target",
                           "90/10", "--json")
    doc = json.loads(out)
    expected = erlang.staffing(600, 180, 90, 10)
    assert doc["agents"] == doc["agents_needed"] == expected.agents_needed
    assert doc["service_level"] == pytest.approx(expected.service_level)
    assert doc["target_pct"] == 90 and doc["threshold_s"] == 10


def test_cli_unstable_staffing_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--calls-per-hour", "600", "--aht", "180", "--agents", "20",
                           "--json")
    assert code == 0 and json.loads(out)["asa_s"] is None
    code, out, _ = run_cli(capsys, "--calls-per-hour", "600", "--aht", "180", "--agents", "20")
    assert "unbounded" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "80"], "--target: expected X/T such as 80/20, got '80'"),
    (["--aht", "0"], "--aht: must be a number of seconds > 0"),
    (["--calls-per-hour", "-3"], "--calls-per-hour: must be a number >= 0"),
    (["--calls-per-hour", "nan"], "--calls-per-hour: must be a number >= 0"),
    (["--agents", "-1"], "--agents: must be >= 0"),
])
def test_cli_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                  message: str) -> None:
    given = {"--calls-per-hour": "600", "--aht": "180"}
    given.update(dict(zip(args[::2], args[1::2], strict=True)))
    code, out, err = run_cli(capsys, *[x for kv in given.items() for x in kv])
    assert code == 2 and out == ""
    assert err.strip() == f"acd erlang: {message}"


# --- GET /api/v1/erlang ---------------------------------------------------------------------------


async def test_api_erlang() -> None:
    async with api() as client:
        resp = await client.get("/api/v1/erlang?calls_per_hour=600&aht_s=180&agents=35",
                                headers=auth("viewer"))
        assert resp.status == 200
        body = await resp.json()
        s = erlang.staffing(600, 180, 80, 20, 35)
        assert body == {"calls_per_hour": 600.0, "aht_s": 180.0, "load_erl": 30.0,
                        "agents": 35, "target_pct": 80.0, "threshold_s": 20,
                        "service_level": s.service_level, "asa_s": s.asa_s, "p_wait": s.p_wait,
                        "occupancy": s.occupancy, "agents_needed": 35}
        resp = await client.get("/api/v1/erlang?calls_per_hour=600&aht_s=180&target_pct=90"
                                "&threshold_s=10", headers=auth("viewer"))
        body = await resp.json()
        assert body["agents"] == body["agents_needed"] == erlang.agents_needed(30, 180, 0.9, 10)
        resp = await client.get("/api/v1/erlang?calls_per_hour=600&aht_s=180&agents=29",
                                headers=auth("viewer"))
        assert (await resp.json())["asa_s"] is None  # fewer agents than Erlangs
        assert (await client.get("/api/v1/erlang?calls_per_hour=600&aht_s=180")).status == 401


@pytest.mark.parametrize(("query", "field"), [
    ("aht_s=180", "calls_per_hour"),
    ("calls_per_hour=600", "aht_s"),
    ("calls_per_hour=lots&aht_s=180", "calls_per_hour"),
    ("calls_per_hour=600&aht_s=0", "aht_s"),
    ("calls_per_hour=600&aht_s=nan", "aht_s"),
    ("calls_per_hour=600&aht_s=180&agents=-1", "agents"),
    ("calls_per_hour=600&aht_s=180&agents=2.5", "agents"),
    ("calls_per_hour=600&aht_s=180&target_pct=0", "target_pct"),
    ("calls_per_hour=600&aht_s=180&threshold_s=-5", "threshold_s"),
    ("calls_per_hour=1000000&aht_s=86400", "calls_per_hour"),  # 24 million Erlangs
])
async def test_api_erlang_bad_input_names_the_field(query: str, field: str) -> None:
    async with api() as client:
        resp = await client.get(f"/api/v1/erlang?{query}", headers=auth("viewer"))
        assert resp.status == 400
        body = await resp.json()
        assert body["code"] == "bad_request" and body["field"] == field
        assert body["message"].startswith(field)


async def test_api_erlang_is_in_the_openapi_document() -> None:
    app = create_app(FakeBackend(figures()), http_config())
    async with TestClient(TestServer(app)) as client:
        doc = await (await client.get("/api/v1/openapi.json", headers=auth("viewer"))).json()
    op = doc["paths"]["/api/v1/erlang"]["get"]
    assert op["x-acd-access"] == "read"
    assert {p["name"] for p in op["parameters"]} == {"calls_per_hour", "aht_s", "agents",
                                                      "target_pct", "threshold_s"}
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErlangOut"}
    assert "400" in op["responses"]
    assert "agents_needed" in doc["components"]["schemas"]["ErlangOut"]["required"]


# --- live: agents needed now, per queue -------------------------------------------------------


def hour(offered: int, handled: int, talk_s: float, wrapup_s: float) -> QueueCounts:
    return QueueCounts(offered=offered, answered=handled, handled=handled,
                       talk_sum_s=talk_s * handled, wrapup_sum_s=wrapup_s * handled)


def test_snapshot_says_how_many_agents_each_queue_needs_now() -> None:
    windows: dict[Any, dict[str, QueueCounts]] = {
        "15m": {}, "60m": {"sales": hour(120, 100, 200, 20)},  # 120 calls/h, AHT 220 s
        "today": {"support": hour(40, 30, 90, 10)}}  # support: no call in the last hour
    snap = build_snapshot(config(), NOW, CALLS, AGENTS, windows, AGENTS_TODAY, FUNNEL)
    sales, support = snap.queues
    needed = brute_force_needed(120 * 220 / 3600, 220, 0.8, 20)
    assert sales.agents_needed_now == needed == 11
    assert sales.agents_short_now == needed - sales.agents.logged_in == 9  # 2 logged in
    # no call offered in the last hour, today's AHT known: nobody is needed, 3 are spare
    assert (support.agents_needed_now, support.agents_short_now) == (0, -3)
    assert snap.centre.agents_needed_now is None and snap.centre.agents_short_now is None


def test_without_an_aht_the_need_is_unknown() -> None:
    windows: dict[Any, dict[str, QueueCounts]] = {"60m": {"sales": QueueCounts(offered=9)}}
    snap = build_snapshot(config(), NOW, CALLS, AGENTS, windows, AGENTS_TODAY, FUNNEL)
    assert all(q.agents_needed_now is None and q.agents_short_now is None for q in snap.queues)
