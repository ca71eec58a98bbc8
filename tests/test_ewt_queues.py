"""The snapshot's per-queue EWT (acd/stats/ewt_queues.py) is call_ewt of each queue's probe
call, for any centre (property test), ties at x.5 included; and the snapshot built in steps
(snapshot_steps, dump_steps) is the snapshot built at once."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.config import QueueConfig, parse_config
from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.serving import QueueMembership
from acd.stats.ewt import call_ewt
from acd.stats.ewt_queues import probe_ewts
from acd.stats.fig_agents import probe_call
from acd.stats.figures import build_snapshot, dump_steps, run_steps, snapshot_steps
from acd.stats.raw import AgentCounts, QueueCounts

NOW = 10_000.0
SKILLS = ["en", "fr", "sales"]
QUEUES = ["q0", "q1", "q2", "q3"]
_ids = itertools.count()

queues_st = st.dictionaries(
    st.sampled_from(QUEUES),
    # (handle times drawn from a few values too: queues that share their serving agents and
    # their handle times share their busy times)
    st.tuples(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=2),
              st.one_of(st.none(), st.sampled_from([0.0, 120.0]), st.floats(0, 300)),
              st.one_of(st.sampled_from([0.0, 15.0]), st.floats(0, 60))),
    min_size=1)
agent_st = st.builds(
    lambda skills, only, state, ago: Agent(
        id=f"a{next(_ids)}", interface="PJSIP/x", skills=skills, queues=tuple(only),
        state=state, state_since=NOW - ago),
    st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=3),
    st.lists(st.sampled_from(QUEUES), max_size=2, unique=True),
    st.sampled_from(list(AgentState)), st.floats(0, 400))
call_st = st.builds(
    lambda queue, extra, state, priority, ago: Call(
        id=f"c{next(_ids)}", channel="", uniqueid="", caller_num="", dnis="", state=state,
        queue=queue, priority=priority, required=extra, entered_at=NOW - ago),
    st.sampled_from([*QUEUES, "gone"]),
    st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=2),
    st.sampled_from([CallState.WAITING, CallState.WAITING, CallState.RINGING]),
    st.sampled_from([-1, 0, 0, 10]), st.sampled_from([0.0, 1.0, 5.0, 30.0]))


def expected(queues: dict[str, Any], calls: list[Call], agents: list[Agent]
             ) -> dict[str, float | None]:
    out = {}
    for q, (skills, aht, wrapup) in queues.items():
        probe = probe_call(q, QueueConfig(skills=skills), NOW)
        out[q] = call_ewt(probe, NOW, calls, agents, aht, wrapup)
    return out


def fast(queues: dict[str, Any], calls: list[Call], agents: list[Agent]
         ) -> dict[str, float | None]:
    serving = QueueMembership({q: p[0] for q, p in queues.items()}).by_queue(agents)
    return run_steps(probe_ewts(queues, NOW, calls, agents, serving))


@settings(max_examples=300, deadline=None)
@given(queues_st, st.lists(call_st, max_size=25), st.lists(agent_st, max_size=10))
def test_every_queue_gets_call_ewt_of_its_probe(queues: dict[str, Any], calls: list[Call],
                                               agents: list[Agent]) -> None:
    # Calls of the queue's own kind too (the shortcut through the serving lists).
    calls += [Call(id=f"c{next(_ids)}", channel="", uniqueid="", caller_num="", dnis="",
                   state=CallState.WAITING, queue=q, required=dict(p[0]),
                   entered_at=NOW - 3) for q, p in queues.items()]
    assert fast(queues, calls, agents) == expected(queues, calls, agents)


def test_a_share_total_of_exactly_x_5_rounds_up_both_ways() -> None:
    # 15 callers of queue b, each taken by 6 agents of which 1 serves a: 15 / 6 = 2.5 callers
    # ahead of a's next caller; floats add 1/6 fifteen times to 2.4999999999999996.
    shared = Agent(id="shared", interface="x", state=AgentState.ON_CALL, state_since=NOW)
    b_only = [Agent(id=f"b{i}", interface="x", queues=("b",), state=AgentState.ON_CALL,
                    state_since=NOW) for i in range(5)]
    calls = [Call(id=f"c{i}", channel="", uniqueid="", caller_num="", dnis="",
                  state=CallState.WAITING, queue="b", entered_at=NOW - 10 - i)
             for i in range(15)]
    queues: dict[str, Any] = {"a": ({}, 100.0, 0.0), "b": ({}, 100.0, 0.0)}
    got = fast(queues, calls, [shared, *b_only])
    assert got == expected(queues, calls, [shared, *b_only])
    # 3 callers ahead (2.5 rounded up, not 2): the one agent (free in 100 s) takes a's next
    # caller 4th, after 3 more handle times
    assert got["a"] == 400.0


def test_queues_served_alike_keep_their_own_handle_times() -> None:
    # Two queues of the same skills have the same serving agents (one list, shared), but
    # not the same handle times: each queue's busy agents are free when its own say.
    agents = [Agent(id=f"a{i}", interface="x", state=AgentState.ON_CALL,
                    state_since=NOW - 10 * i) for i in range(3)]
    agents.append(Agent(id="ready", interface="x", state=AgentState.READY, state_since=NOW))
    calls = [Call(id=f"c{i}", channel="", uniqueid="", caller_num="", dnis="",
                  state=CallState.WAITING, queue=q, entered_at=NOW - 30 - i)
             for i, q in enumerate(["short", "long"])]
    queues: dict[str, Any] = {"short": ({}, 60.0, 5.0), "long": ({}, 300.0, 30.0),
                              "alike": ({}, 60.0, 5.0), "slow_wrap": ({}, 60.0, 55.0)}
    got = fast(queues, calls, agents)
    assert got == expected(queues, calls, agents)
    # 2 callers ahead of 4 able agents, 1 ready: the probe takes the 2nd busy agent to be
    # free, a1, 10 s into its call: 50 s left of the one queue's handle time, 290 of the other's
    assert got["short"] == 50.0 and got["long"] == 290.0
    assert got["alike"] == got["short"]
    # (an agent is free when its wrap-up ends: a1 and a2 in 55 s, whatever is left of their
    # calls)
    assert got["slow_wrap"] == 55.0


def centre(n_calls: int = 40) -> tuple[Any, list[Call], list[Agent]]:
    cfg = parse_config({"pbx": {"secret": "x"}, "queues": {
        "sales": {"skills": {"sales": 1}}, "fr": {"skills": {"fr": 2}}, "any": {}},
        "flows": {"f": {"dnis": ["1"], "start": "q",
                        "nodes": {"q": {"type": "queue", "queue": "sales"}}}}})
    states = list(AgentState)
    agents = [Agent(id=f"a{i}", interface=f"PJSIP/{i}", skills={"sales": 1 + i % 3, "fr": i % 4},
                    state=states[i % len(states)], state_since=NOW - 7 * i)
              for i in range(12)]
    calls = [Call(id=f"c{i}", channel="", uniqueid=f"c{i}", caller_num="1", dnis="1",
                  state=[CallState.WAITING, CallState.RINGING, CallState.CONNECTED][i % 3],
                  queue=list(cfg.queues)[i % 3], priority=10 * (i % 5 == 0),
                  entered_at=NOW - 3 * i, agent_id=f"a{i % 12}") for i in range(n_calls)]
    return cfg, calls, agents


def test_the_snapshot_in_steps_is_the_snapshot_at_once() -> None:
    cfg, calls, agents = centre()
    windows: Any = {"today": {"sales": QueueCounts(offered=3, answered=2, handled=2,
                                                   talk_sum_s=200.0)}}
    today = {"a1": AgentCounts(talk_s=100.0, ready_s=50.0)}
    whole = build_snapshot(cfg, NOW, calls, agents, windows, today, {})
    steps = snapshot_steps(cfg, NOW, calls, agents, windows, today, {})
    paused = 0
    while True:
        try:
            next(steps)
            paused += 1
        except StopIteration as done:
            stepped = done.value
            break
    assert paused > 3  # it does stop between parts
    assert stepped == whole
    assert run_steps(dump_steps(whole)) == whole.model_dump(mode="json")
    assert list(run_steps(dump_steps(whole))) == list(whole.model_dump(mode="json"))
