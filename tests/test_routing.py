"""Routing core: table tests and hypothesis properties (pure, no I/O)."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.routing import (
    best_agent_for_call,
    best_call_for_agent,
    call_key,
    eligible,
    plan,
)

_ids = itertools.count()


def mk_call(queue: str = "q", priority: int = 0, entered: float = 0.0,
            required: dict[str, int] | None = None) -> Call:
    n = next(_ids)
    return Call(id=f"c{n}", channel=f"PJSIP/t-{n}", uniqueid=f"1.{n}", caller_num="1", dnis="100",
                state=CallState.WAITING, queue=queue, priority=priority, entered_at=entered,
                required=dict(required or {}))


def mk_agent(skills: dict[str, int], ready_since: float = 0.0, queues: tuple[str, ...] = (),
             state: AgentState = AgentState.READY) -> Agent:
    n = next(_ids)
    return Agent(id=f"a{n}", interface=f"PJSIP/{n}", skills=skills, queues=queues, state=state,
                 ready_since=ready_since)


def test_vip_overtakes_earlier_normal_call() -> None:
    normal = mk_call(entered=1.0)
    vip = mk_call(entered=5.0, priority=10)
    agent = mk_agent({})
    assert best_call_for_agent(agent, [normal, vip]) is vip


def test_longest_waiting_across_queues() -> None:
    a = mk_call(queue="sales", entered=3.0)
    b = mk_call(queue="support", entered=2.0)
    agent = mk_agent({}, queues=("sales", "support"))
    assert best_call_for_agent(agent, [a, b]) is b


def test_agent_without_queue_membership_is_not_offered() -> None:
    call = mk_call(queue="sales")
    agent = mk_agent({}, queues=("support",))
    assert best_agent_for_call(call, [agent]) is None


def test_skill_minimum_and_better_match_then_longest_idle() -> None:
    call = mk_call(required={"support": 3, "lang_es": 1})
    weak = mk_agent({"support": 2, "lang_es": 5}, ready_since=0.0)
    good = mk_agent({"support": 4, "lang_es": 2}, ready_since=10.0)
    best = mk_agent({"support": 5, "lang_es": 5}, ready_since=20.0)
    assert best_agent_for_call(call, [weak, good, best]) is best
    twin = mk_agent({"support": 5, "lang_es": 5}, ready_since=5.0)
    assert best_agent_for_call(call, [weak, good, best, twin]) is twin


def test_only_ready_agents_and_waiting_calls() -> None:
    call = mk_call()
    for state in AgentState:
        agent = mk_agent({}, state=state)
        assert eligible(agent, call) is (state is AgentState.READY)
    agent = mk_agent({})
    for cstate in CallState:
        call.state = cstate
        assert eligible(agent, call) is (cstate is CallState.WAITING)


# --- properties -------------------------------------------------------------------------------

SKILLS = ["sales", "support", "lang_en", "lang_es"]
QUEUES = ["sales", "support"]

skill_maps = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=4)
calls_st = st.lists(
    st.builds(mk_call, queue=st.sampled_from(QUEUES), priority=st.sampled_from([0, 0, 10]),
              entered=st.floats(0, 1000, allow_nan=False),
              required=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=2)),
    max_size=25)
agents_st = st.lists(
    st.builds(mk_agent, skills=skill_maps, ready_since=st.floats(0, 1000, allow_nan=False),
              queues=st.sampled_from([(), ("sales",), ("support",), ("sales", "support")]),
              state=st.sampled_from([AgentState.READY, AgentState.READY, AgentState.ON_CALL])),
    max_size=12)


@settings(max_examples=300, deadline=None)
@given(calls_st, agents_st)
def test_plan_properties(calls: list[Call], agents: list[Agent]) -> None:
    pairs = plan(calls, agents)
    matched_calls = [c.id for c, _ in pairs]
    matched_agents = [a.id for _, a in pairs]
    # Never two calls to one agent, never one call to two agents.
    assert len(set(matched_agents)) == len(matched_agents)
    assert len(set(matched_calls)) == len(matched_calls)
    # Never an agent without the required skills (or not ready, or not serving the queue).
    for call, agent in pairs:
        assert eligible(agent, call)
        assert all(agent.skills.get(s, 0) >= lvl for s, lvl in call.required.items())
    # Work-conserving: no unmatched call has an unmatched eligible agent.
    free = [a for a in agents if a.id not in matched_agents]
    for call in calls:
        if call.id not in matched_calls:
            assert not any(eligible(a, call) for a in free)
    # Class order and FIFO: an agent is never given a call while an earlier one in call order
    # (higher class, or same class and waiting longer) that it could take stays unmatched.
    for call, agent in pairs:
        for other in calls:
            if other.id not in matched_calls and eligible(agent, other):
                assert call_key(call) < call_key(other)


@settings(max_examples=200, deadline=None)
@given(calls_st, agents_st)
def test_single_decisions_agree_with_order(calls: list[Call], agents: list[Agent]) -> None:
    for agent in agents:
        chosen = best_call_for_agent(agent, calls)
        candidates = [c for c in calls if eligible(agent, c)]
        if chosen is None:
            assert not candidates
        else:
            assert all(call_key(chosen) <= call_key(c) for c in candidates)
            vip_waiting = any(c.priority > chosen.priority for c in candidates)
            assert not vip_waiting
