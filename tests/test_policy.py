"""Routing policies of issue #4 in the pure core: table tests and hypothesis properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.config import parse_config
from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.policy import (
    Expansion,
    QueueRules,
    QueueStanding,
    Rules,
    next_change,
    objective_offsets,
    requirements,
    rules_from_config,
)
from acd.core.routing import (
    best_agent_for_call,
    best_call_for_agent,
    eligible,
    plan,
    rank,
)
from acd.core.waiting import WaitingIndex
from acd.core.waiting import best_call_for_agent as index_best

from .test_routing import QUEUES, SKILLS, mk_agent, mk_call


def rules(**queues: QueueRules) -> Rules:
    return Rules(queues=queues)


# --- priority aging ----------------------------------------------------------------------------

def test_strict_classes_without_aging() -> None:
    old_normal = mk_call(entered=0.0)
    fresh_vip = mk_call(entered=1000.0, priority=10)
    assert best_call_for_agent(mk_agent({}), [old_normal, fresh_vip], 1000.0) is fresh_vip


def test_aging_a_normal_call_overtakes_a_vip_after_the_bound() -> None:
    r = rules(q=QueueRules(priority_step_s=6.0))  # VIP head start: 10 x 6 = 60 s
    normal = mk_call(entered=0.0)
    vip_soon = mk_call(entered=59.0, priority=10)
    vip_late = mk_call(entered=61.0, priority=10)
    agent = mk_agent({})
    assert best_call_for_agent(agent, [normal, vip_soon], 61.0, r) is vip_soon
    assert best_call_for_agent(agent, [normal, vip_late], 61.0, r) is normal


@settings(max_examples=200, deadline=None)
@given(st.floats(1, 100), st.lists(st.floats(0, 1000), min_size=1, max_size=20),
       st.floats(0, 1000))
def test_aging_bound_holds_for_any_vip_traffic(step: float, vip_entries: list[float],
                                               normal_entry: float) -> None:
    """A normal call is never passed over by a VIP call that arrived more than 10 x step later:
    its wait behind VIP traffic is bounded by the configured head start."""
    r = rules(q=QueueRules(priority_step_s=step))
    normal = mk_call(entered=normal_entry)
    vips = [mk_call(entered=t, priority=10) for t in vip_entries]
    chosen = best_call_for_agent(mk_agent({}), [normal, *vips], 2000.0, r)
    assert chosen is not None
    if chosen is not normal:
        assert chosen.entered_at is not None
        assert chosen.entered_at - 10 * step <= normal_entry


# --- skill expansion ---------------------------------------------------------------------------

def expand_rules() -> Rules:
    return rules(q=QueueRules(skills={"billing": 4}, expansions=(
        Expansion(30.0, {"billing": 2}), Expansion(60.0, {"general": 3}))))


def test_expansion_steps_open_by_wait_and_keep_call_skills() -> None:
    r = expand_rules()
    call = mk_call(entered=0.0, required={"billing": 4, "lang_es": 2})
    junior = mk_agent({"billing": 2, "lang_es": 2})
    backup = mk_agent({"general": 3, "lang_es": 3})
    backup_en = mk_agent({"general": 5})
    assert not eligible(junior, call, 29.9, r)
    assert eligible(junior, call, 30.0, r)
    assert not eligible(backup, call, 59.0, r)
    assert eligible(backup, call, 60.0, r)
    assert not eligible(backup_en, call, 600.0, r)  # the caller's language stays required
    assert requirements(call, None, r) == [call.required]


def test_expansion_prefers_the_better_skill_match() -> None:
    r = expand_rules()
    call = mk_call(entered=0.0, required={"billing": 4})
    junior = mk_agent({"billing": 2}, ready_since=0.0)
    senior = mk_agent({"billing": 5}, ready_since=50.0)
    assert best_agent_for_call(call, [junior, senior], 40.0, r) is senior
    assert best_agent_for_call(call, [junior], 40.0, r) is junior


def test_expansion_keeps_the_callers_place() -> None:
    """The expanded call is still behind an earlier call the junior agent could take."""
    r = expand_rules()
    early = mk_call(entered=0.0, required={"billing": 2})
    expanded = mk_call(entered=5.0, required={"billing": 4})
    junior = mk_agent({"billing": 2})
    assert best_call_for_agent(junior, [expanded, early], 100.0, r) is early


# --- VIP experts -------------------------------------------------------------------------------

def test_vip_goes_to_experts_first_then_to_anyone() -> None:
    r = rules(q=QueueRules(skills={"billing": 2}, vip_expert_s=20.0, expert_level=5))
    vip = mk_call(entered=0.0, priority=10, required={"billing": 2})
    vip.vip = True
    normal = mk_call(entered=0.0, required={"billing": 2})
    expert = mk_agent({"billing": 5}, ready_since=100.0)
    junior = mk_agent({"billing": 2}, ready_since=0.0)
    assert not eligible(junior, vip, 10.0, r)
    assert eligible(expert, vip, 10.0, r)
    assert eligible(junior, normal, 10.0, r)
    assert eligible(junior, vip, 20.0, r)
    assert next_change(vip, 10.0, r) == 20.0
    assert next_change(normal, 10.0, r) is None


# --- last agent --------------------------------------------------------------------------------

def test_last_agent_hold() -> None:
    r = rules(q=QueueRules(last_agent_s=15.0))
    prev = mk_agent({}, state=AgentState.WRAP_UP)
    other = mk_agent({}, ready_since=0.0)
    call = mk_call(entered=0.0)
    call.last_agent = prev.id
    everyone = {a.id: a for a in (prev, other)}
    # held while the previous agent wraps up
    assert not eligible(other, call, 5.0, r, everyone)
    assert best_agent_for_call(call, [other], 5.0, r, everyone) is None
    # that agent is ready: it gets the call, though the other one waited longer
    prev.state, prev.ready_since = AgentState.READY, 6.0
    assert best_agent_for_call(call, [other, prev], 6.0, r, everyone) is prev
    # the window is over: anyone
    assert eligible(other, call, 15.0, r, everyone)
    assert next_change(call, 5.0, r) == 15.0
    # a paused agent releases the hold at once
    prev.state = AgentState.NOT_READY
    assert eligible(other, call, 5.0, r, everyone)
    # without the agents map (e.g. EWT probes) there is no hold
    prev.state = AgentState.WRAP_UP
    assert eligible(other, call, 5.0, r)


# --- service objective -------------------------------------------------------------------------

def test_objective_offsets_follow_the_gap() -> None:
    r = rules(behind=QueueRules(objective_boost_s=40.0, objective_full_at_pp=10.0,
                                sl_target_pct=80.0),
              ahead=QueueRules(objective_boost_s=40.0, sl_target_pct=80.0),
              about_to_miss=QueueRules(objective_boost_s=40.0, sl_target_pct=80.0),
              off=QueueRules())
    got = objective_offsets(r, {
        "behind": QueueStanding(75.0, 5.0, 20.0),
        "ahead": QueueStanding(100.0, 1.0, 20.0),
        "about_to_miss": QueueStanding(95.0, 25.0, 20.0),
        "off": QueueStanding(0.0, 500.0, 20.0)})
    assert got == {"behind": 20.0, "ahead": -40.0, "about_to_miss": 40.0}


def test_a_queue_behind_target_wins_the_shared_agent() -> None:
    base = rules(a=QueueRules(objective_boost_s=30.0), b=QueueRules(objective_boost_s=30.0))
    a_call = mk_call(queue="a", entered=0.0)
    b_call = mk_call(queue="b", entered=10.0)
    agent = mk_agent({})
    assert best_call_for_agent(agent, [a_call, b_call], 20.0, base) is a_call
    steered = base.with_offsets({"b": 30.0, "a": -10.0})
    assert best_call_for_agent(agent, [a_call, b_call], 20.0, steered) is b_call
    # within one queue the order stays first come, first served
    b_later = mk_call(queue="b", entered=11.0)
    assert best_call_for_agent(agent, [b_later, b_call], 20.0, steered) is b_call


# --- the waiting index and plan agree with the plain core under every policy -----------------

policy_st = st.builds(
    QueueRules,
    skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=2),
    priority_step_s=st.one_of(st.none(), st.floats(1, 60)),
    expansions=st.sampled_from([(), (Expansion(20.0, {"support": 1}),),
                                (Expansion(10.0, {"sales": 1}), Expansion(50.0, {}))]),
    vip_expert_s=st.sampled_from([0.0, 30.0]),
    last_agent_s=st.sampled_from([0.0, 20.0]))
rules_st = st.builds(lambda qs, offs: Rules(queues=dict(zip(QUEUES, qs, strict=True)),
                                            offsets=dict(zip(QUEUES, offs, strict=True))),
                     st.lists(policy_st, min_size=2, max_size=2),
                     st.lists(st.floats(-60, 60), min_size=2, max_size=2))
world_st = st.tuples(
    st.lists(st.builds(mk_call, queue=st.sampled_from(QUEUES), priority=st.sampled_from([0, 0, 10]),
                       entered=st.floats(0, 100, allow_nan=False),
                       required=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5),
                                                max_size=2)), max_size=20),
    st.lists(st.builds(mk_agent, skills=st.dictionaries(st.sampled_from(SKILLS),
                                                        st.integers(1, 5), max_size=4),
                       ready_since=st.floats(0, 100, allow_nan=False),
                       queues=st.sampled_from([(), ("sales",), ("sales", "support")]),
                       state=st.sampled_from([AgentState.READY, AgentState.READY,
                                              AgentState.WRAP_UP, AgentState.NOT_READY])),
             max_size=10),
    st.floats(0, 200), rules_st, st.randoms(use_true_random=False))


def _with_history(calls: list[Call], agents: list[Agent], rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    for call in calls:
        if agents and rnd.random() < 0.4:
            call.last_agent = rnd.choice(agents).id
        call.vip = call.priority >= 10


@settings(max_examples=300, deadline=None)
@given(world_st)
def test_index_agrees_with_the_core_under_policies(world: tuple[list[Call], list[Agent], float,
                                                                Rules, object]) -> None:
    calls, agents, now, r, rnd = world
    _with_history(calls, agents, rnd)
    everyone = {a.id: a for a in agents}
    index = WaitingIndex(r)
    for call in calls:
        index.put(call)
    by_id = {c.id: c for c in calls}
    for agent in agents:
        got = index_best(agent, index, by_id, index.queues(), now, r, everyone)
        want = best_call_for_agent(agent, calls, now, r, everyone)
        assert (got.id if got else None) == (want.id if want else None)


@settings(max_examples=300, deadline=None)
@given(world_st)
def test_plan_respects_policies(world: tuple[list[Call], list[Agent], float, Rules,
                                             object]) -> None:
    calls, agents, now, r, rnd = world
    _with_history(calls, agents, rnd)
    everyone = {a.id: a for a in agents}
    ready = [a for a in agents if a.state is AgentState.READY]
    pairs = plan(calls, ready, now, r, everyone)
    matched = {c.id for c, _ in pairs}
    used = {a.id for _, a in pairs}
    assert len(used) == len(pairs) and len(matched) == len(pairs)
    for call, agent in pairs:
        assert eligible(agent, call, now, r, everyone)
        # no call earlier in rank order that this agent could take was left waiting
        for other in calls:
            if (other.id not in matched and other.state is CallState.WAITING
                    and eligible(agent, other, now, r, everyone)):
                assert rank(call, r) < rank(other, r)
    # work-conserving
    for call in calls:
        if call.id not in matched:
            assert not any(eligible(a, call, now, r, everyone)
                           for a in ready if a.id not in used)


def test_rules_from_config_and_bad_steps() -> None:
    from tests.test_config import example  # the example config as a dict

    data = example()
    data["queues"]["support"]["routing"] = {
        "priority_step_s": 12, "vip_expert_s": 15, "last_agent_s": 10,
        "expand": [{"after_s": 30, "skills": {"support": 1}}], "objective_boost_s": 20}
    cfg = parse_config(data)
    r = rules_from_config(cfg.queues).of("support")
    assert r.priority_step_s == 12 and r.vip_expert_s == 15 and r.last_agent_s == 10
    assert r.expansions == (Expansion(30.0, {"support": 1}),) and r.objective_boost_s == 20
    data["queues"]["support"]["routing"]["expand"] = [
        {"after_s": 30, "skills": {}}, {"after_s": 10, "skills": {}}]
    import pytest

    from acd.config import ConfigError

    with pytest.raises(ConfigError, match=r"queues\.support\.routing.*increasing after_s"):
        parse_config(data)


def test_offset_rounding_keeps_the_queue_order() -> None:
    """Found by hypothesis: shifting two different entry times by an offset can round them to
    one float; the order within the queue must still be first come, first served."""
    r = rules(sales=QueueRules()).with_offsets({"sales": 1.0})
    second = mk_call(queue="sales", entered=1.175494351e-38)  # the smaller id
    first = mk_call(queue="sales", entered=0.0)
    index = WaitingIndex(r)
    for call in (second, first):
        index.put(call)
    agent = mk_agent({})
    by_id = {c.id: c for c in (first, second)}
    assert best_call_for_agent(agent, [second, first], 0.0, r) is first
    assert index_best(agent, index, by_id, index.queues(), 0.0, r) is first


@settings(max_examples=300, deadline=None)
@given(world_st)
def test_plan_from_the_index_is_the_plan(world: tuple[list[Call], list[Agent], float, Rules,
                                                      object]) -> None:
    """The router's plan for many changes at once merges queue heads from the index: it must
    give exactly the pairs of the plain plan, under every policy."""
    from acd.core.waiting import plan_from_index

    calls, agents, now, r, rnd = world
    _with_history(calls, agents, rnd)
    everyone = {a.id: a for a in agents}
    ready = [a for a in agents if a.state is AgentState.READY]
    index = WaitingIndex(r)
    for call in calls:
        index.put(call)
    by_id = {c.id: c for c in calls}
    want = plan(calls, ready, now, r, everyone)
    # queues_of: a superset of what each agent could serve
    got = plan_from_index(index, by_id, ready, lambda a: QUEUES, now, r, everyone)
    assert [(c.id, a.id) for c, a in got] == [(c.id, a.id) for c, a in want]
    tight = plan_from_index(index, by_id, ready, lambda a: a.queues or QUEUES, now, r, everyone)
    assert [(c.id, a.id) for c, a in tight] == [(c.id, a.id) for c, a in want]
