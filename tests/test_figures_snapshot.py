"""build_snapshot and history_rows on a small centre (pure). Expected values by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from acd.config import Config, parse_config
from acd.core.model import Agent, AgentState, Call, CallState
from acd.stats.figures import build_snapshot, history_rows
from acd.stats.raw import AgentCounts, FunnelCounts, QueueCounts
from acd.stats.schema import Snapshot

TZ = "Europe/Paris"
NOW = datetime(2024, 6, 5, 10, 0, tzinfo=ZoneInfo(TZ)).timestamp()
MIDNIGHT = datetime(2024, 6, 5, 0, 0, tzinfo=ZoneInfo(TZ)).timestamp()


def config(**extra: Any) -> Config:
    data: dict[str, Any] = {
        "pbx": {"secret": "x"},
        "timezone": TZ,
        "queues": {
            "sales": {"skills": {"sales": 1}, "wrapup_s": 10,
                      "sla": {"target_pct": 80, "threshold_s": 20, "extra_thresholds_s": [10]}},
            "support": {"skills": {"fr": 2}, "wrapup_s": 20,
                        "sla": {"target_pct": 90, "threshold_s": 10}},
        },
        "flows": {"main": {"dnis": ["100"], "start": "menu", "nodes": {
            "menu": {"type": "menu", "prompt": "p", "options": {"1": "to_sales",
                                                                 "2": "to_support"}},
            "to_sales": {"type": "queue", "queue": "sales"},
            "to_support": {"type": "queue", "queue": "support"},
            "bye": {"type": "hangup"},
        }}},
    }
    data.update(extra)
    return parse_config(data)


def agent(aid: str, state: AgentState, ago: float, skills: dict[str, int],
          queues: tuple[str, ...] = (), reason: str = "") -> Agent:
    return Agent(id=aid, interface=f"PJSIP/{aid}", name=aid.upper(), skills=skills, queues=queues,
                 state=state, state_since=NOW - ago, reason=reason)


def call(cid: str, queue: str, state: CallState, entered_ago: float, priority: int = 0,
         required: dict[str, int] | None = None, answered_ago: float | None = None,
         agent_id: str = "") -> Call:
    return Call(id=cid, channel=f"PJSIP/t-{cid}", uniqueid=cid, caller_num=f"0{cid}", dnis="100",
                state=state, queue=queue, priority=priority, vip=priority > 0,
                required=dict(required or {}), entered_at=NOW - entered_ago,
                answered_at=None if answered_ago is None else NOW - answered_ago,
                agent_id=agent_id)


AGENTS = [
    agent("a1", AgentState.READY, 100, {"sales": 2}),  # sales only (no fr)
    agent("a2", AgentState.ON_CALL, 30, {"sales": 1, "fr": 3}, queues=("support",)),
    agent("a3", AgentState.WRAP_UP, 4, {"sales": 1, "fr": 2}),  # both queues
    agent("a4", AgentState.LOGGED_OUT, 5000, {"sales": 5}),  # sales, not logged in
    agent("a5", AgentState.NOT_READY, 600, {"fr": 5}, queues=("support",), reason="lunch"),
    agent("a6", AgentState.READY, 50, {"fr": 1}),  # fr level too low: serves nothing
]
SALES, FR = {"sales": 1}, {"fr": 2}
CALLS = [
    call("c1", "sales", CallState.WAITING, 50, required=SALES),
    call("c2", "sales", CallState.WAITING, 70, required=SALES),
    call("c3", "sales", CallState.WAITING, 10, priority=10, required=SALES),  # VIP
    call("c4", "support", CallState.WAITING, 5, required=FR),
    call("c5", "support", CallState.CONNECTED, 100, required=FR, answered_ago=30,
         agent_id="a2"),
    call("c6", "", CallState.IVR, 0),
    call("c7", "sales", CallState.ENDED, 300, required=SALES, answered_ago=290),
    call("c8", "support", CallState.RINGING, 20, required=FR, agent_id="a9"),
]
AGENTS_TODAY = {
    "a1": AgentCounts(handled=10, talk_s=2000, wrapup_s=200, ready_s=1000),
    "a2": AgentCounts(handled=3, talk_s=500, wrapup_s=50, ready_s=420),
    "a3": AgentCounts(handled=2, talk_s=300, wrapup_s=96, ready_s=600),
    "a4": AgentCounts(handled=1, talk_s=100, ready_s=100),
    "a5": AgentCounts(not_ready_s=60),
}


def counts(answered: list[float], abandoned: list[float], handled: int, talk: float,
           wrapup: float) -> QueueCounts:
    c = QueueCounts(offered=len(answered) + len(abandoned), answered=len(answered),
                    abandoned=len(abandoned), wait_sum_s=sum(answered), handled=handled,
                    talk_sum_s=talk, wrapup_sum_s=wrapup)
    for w in answered:
        c.answered_waits[int(w)] = c.answered_waits.get(int(w), 0) + 1
    for w in abandoned:
        c.abandoned_waits[int(w)] = c.abandoned_waits.get(int(w), 0) + 1
    return c


WINDOWS: dict[Any, dict[str, QueueCounts]] = {
    "15m": {},
    "today": {
        "sales": counts([5, 15, 25], [2], handled=2, talk=200, wrapup=20),  # AHT 110
        "support": counts([8], [30], handled=1, talk=90, wrapup=10),  # AHT 100
        "gone": counts([1], [], 1, 1, 1),  # no longer configured: left out
    },
}
FUNNEL = {
    "main": FunnelCounts(reached={"menu": 10, "to_sales": 6},
                         left={"menu": {"hangup": 2}, "to_sales": {"queue": 6}}),
    "old": FunnelCounts(reached={"x": 1}, left={"x": {"closed": 1}}),
}


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    return build_snapshot(config(), NOW, CALLS, AGENTS, WINDOWS, AGENTS_TODAY, FUNNEL)


def test_queue_counts_and_longest_wait(snap: Snapshot) -> None:
    sales, support = snap.queues
    assert (sales.name, sales.waiting, sales.longest_wait_s) == ("sales", 3, 70.0)
    assert (support.name, support.waiting, support.longest_wait_s) == ("support", 1, 5.0)
    assert (snap.centre.name, snap.centre.waiting, snap.centre.longest_wait_s) == ("*", 4, 70.0)
    assert (sales.target_pct, sales.threshold_s) == (80.0, 20)
    assert snap.generated_at == NOW and snap.timezone == TZ


def test_agents_serving_each_queue(snap: Snapshot) -> None:
    sales, support = snap.queues
    # sales: a1 ready, a3 wrap-up, a4 logged out (a2 is limited to support, a6 has no sales)
    assert sales.agents.model_dump() == {"logged_in": 2, "ready": 1, "reserved": 0,
                                         "on_call": 0, "wrap_up": 1, "not_ready": 0}
    # support: a2 on call, a3 wrap-up, a5 not ready (a6: fr 1 < 2)
    assert support.agents.model_dump() == {"logged_in": 3, "ready": 0, "reserved": 0,
                                           "on_call": 1, "wrap_up": 1, "not_ready": 1}
    assert snap.centre.agents.model_dump() == {"logged_in": 5, "ready": 2, "reserved": 0,
                                               "on_call": 1, "wrap_up": 1, "not_ready": 1}
    assert {a.id: a.queues for a in snap.agents} == {
        "a1": ["sales"], "a2": ["support"], "a3": ["sales", "support"], "a4": ["sales"],
        "a5": ["support"], "a6": []}


def test_ewt(snap: Snapshot) -> None:
    sales, support = snap.queues
    # sales: able a1 (ready) and a3 (wrap-up, 10 - 4 = 6 s left), AHT 110. Ahead: c1, c2, c3
    # (only a1/a3 take them: 1 each) and c4 (a2 or a3: half) = 3.5 -> 4; position 5.
    # Free-ups: a1 0, 110, 220; a3 6, 116: the 5th is 220.
    assert sales.ewt_s == 220.0
    # support: able a2 (on call 30 s of AHT 100: 70 s left) and a3 (20 - 4 = 16 s left); a5 is
    # not ready. Ahead: c4 (1) + c1, c2, c3 (a1 or a3: half each) = 2.5 -> 3; position 4.
    # Free-ups: 16, 70, 116, 170: the 4th is 170.
    assert support.ewt_s == 170.0
    assert snap.centre.ewt_s == 220.0  # the worst of the queues


def test_ewt_is_none_without_an_able_agent() -> None:
    snap = build_snapshot(config(), NOW, CALLS, [AGENTS[4], AGENTS[5]], WINDOWS, {}, {})
    assert [q.ewt_s for q in snap.queues] == [None, None]
    assert snap.centre.ewt_s is None
    empty = build_snapshot(config(), NOW, [], [], {}, {}, {})
    assert empty.centre.ewt_s is None and empty.queues[0].agents.logged_in == 0


def test_occupancy_includes_the_running_state(snap: Snapshot) -> None:
    by_id = {a.id: a for a in snap.agents}
    # a1 ready for 100 s more: (2000 + 200) / (2000 + 200 + 1000 + 100)
    assert by_id["a1"].occupancy_today == 2200 / 3300
    # a2 on a call for 30 s: talk 530
    assert (by_id["a2"].talk_s_today, by_id["a2"].occupancy_today) == (530.0, 580 / 1000)
    # a3 in wrap-up for 4 s: wrap-up 100
    assert (by_id["a3"].wrapup_s_today, by_id["a3"].occupancy_today) == (100.0, 400 / 1000)
    assert by_id["a4"].occupancy_today == 100 / 200  # logged out: nothing running
    assert by_id["a5"].occupancy_today is None  # never ready nor busy today
    assert by_id["a6"].occupancy_today == 0.0  # 50 s ready, no counts stored
    sales, support = snap.queues
    assert sales.occupancy == (2200 + 400 + 100) / (2200 + 400 + 100 + 1100 + 600 + 100)
    assert support.occupancy == (580 + 400) / (580 + 400 + 420 + 600)
    assert snap.centre.occupancy == 3280 / (3280 + 1100 + 420 + 600 + 100 + 50)


def test_agent_rows(snap: Snapshot) -> None:
    a2 = snap.agents[1]
    assert a2.model_dump() == {
        "id": "a2", "name": "A2", "interface": "PJSIP/a2", "state": "on_call", "reason": "",
        "time_in_state_s": 30.0, "call_id": "", "queues": ["support"],
        "calls_handled_today": 3, "talk_s_today": 530.0, "wrapup_s_today": 50.0,
        "occupancy_today": 0.58, "pbx": "default", "repeats_today": 0,
        "fcr_proxy_today": 1.0}
    assert snap.agents[4].reason == "lunch"


def test_running_state_is_cut_at_local_midnight() -> None:
    now = MIDNIGHT + 600
    ready = Agent(id="n", interface="PJSIP/n", state=AgentState.READY,
                  state_since=MIDNIGHT - 3600)
    snap = build_snapshot(config(), now, [], [ready], {}, {"n": AgentCounts(talk_s=600)}, {})
    assert snap.agents[0].occupancy_today == 600 / 1200
    assert snap.agents[0].time_in_state_s == 4200.0


def test_calls_and_positions(snap: Snapshot) -> None:
    rows = [(c.id, c.state, c.queue, c.position, c.wait_s) for c in snap.calls]
    assert rows == [
        ("c3", "waiting", "sales", 1, 10.0),  # VIP first
        ("c2", "waiting", "sales", 2, 70.0),
        ("c1", "waiting", "sales", 3, 50.0),
        ("c4", "waiting", "support", 1, 5.0),
        ("c8", "ringing", "support", None, 20.0),
        ("c5", "connected", "support", None, 70.0),
    ]
    assert snap.calls[0].vip and snap.calls[0].priority == 10
    assert snap.calls[5].agent_id == "a2" and snap.calls[5].caller_num == "0c5"


def test_windows(snap: Snapshot) -> None:
    sales, support = snap.queues
    today = sales.windows["today"]
    # 3 answered (5, 15, 25 s), 1 short abandon (2 s): within 20 = 2 of 3 + 1 - 1
    assert (today.offered, today.answered_within, today.short_abandoned) == (4, 2, 1)
    assert today.service_level.value == 2 / 3
    assert today.service_level.by_threshold == {"10": 1 / 3, "20": 2 / 3}
    assert today.aht_s == 110.0
    assert support.windows["today"].service_level.value == 1 / 2
    for w in ("15m", "60m"):
        assert sales.windows[w].offered == 0 and sales.windows[w].service_level.value is None
    centre = snap.centre.windows["today"]
    # each call against its own queue's threshold: 2 (sales, 20 s) + 1 (support, 10 s)
    assert (centre.offered, centre.answered, centre.abandoned) == (6, 4, 2)
    assert centre.answered_within == 3
    assert centre.service_level.value == 3 / (4 + 2 - 1)
    assert centre.service_level.threshold_s == 0
    assert centre.service_level.target == (80 * 4 + 90 * 2) / 6 / 100
    assert snap.centre.target_pct == (80 * 4 + 90 * 2) / 6
    assert centre.aht_s == (200 + 20 + 90 + 10) / 3


def test_funnel(snap: Snapshot) -> None:
    main = snap.ivr_funnel["main"]
    assert list(main) == ["menu", "to_sales", "to_support", "bye"]
    assert main["menu"].model_dump() == {"reached": 10, "left": {"hangup": 2}}
    assert main["to_sales"].model_dump() == {"reached": 6, "left": {"queue": 6}}
    assert main["to_support"].model_dump() == {"reached": 0, "left": {}}
    assert snap.ivr_funnel["old"]["x"].model_dump() == {"reached": 1, "left": {"closed": 1}}


def test_snapshot_is_json_ready(snap: Snapshot) -> None:
    again = Snapshot.model_validate_json(snap.model_dump_json())
    assert again == snap


def test_history_rows() -> None:
    cfg = config()
    rows = history_rows(cfg, {
        "support": {1800: counts([8], [30], 1, 90, 10)},
        "sales": {1800: counts([5, 15, 25], [2], 2, 200, 20), 900: counts([], [], 0, 0, 0)},
        "gone": {900: counts([30], [], 0, 0, 0)},
    })
    assert [(r.queue, r.start, r.end) for r in rows] == [
        ("sales", 900.0, 1800.0), ("gone", 900.0, 1800.0),
        ("sales", 1800.0, 2700.0), ("support", 1800.0, 2700.0)]
    assert rows[2].figures.service_level.value == 2 / 3
    assert rows[3].figures.service_level.threshold_s == 10
    assert rows[1].figures.service_level.threshold_s == 20  # default SLA
    assert rows[1].figures.service_level.value == 0.0
    assert rows[0].figures.service_level.value is None
