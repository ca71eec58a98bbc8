"""EWT model: table tests and hypothesis properties (pure)."""

from __future__ import annotations

import heapq
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.core.model import Agent, AgentState, Call, CallState
from acd.stats.ewt import busy_remaining_many, busy_remaining_s, call_ewt, estimate_wait

_ids = itertools.count()


@pytest.mark.parametrize("position, able, busy, aht, want", [
    (1, 0, [], 180.0, None),  # nobody logged in who could take it
    (1, 1, [], 180.0, 0.0),  # a ready agent is free
    (2, 2, [], 180.0, 0.0),
    (3, 2, [], 180.0, 180.0),  # both ready agents take the two callers ahead
    (1, 1, [30.0], 180.0, 30.0),  # the busy agent frees in 30 s
    (2, 1, [30.0], 180.0, 210.0),  # ... then after one handle time
    (4, 1, [30.0], 180.0, 570.0),  # r + (k - 1) * aht
    (1, 2, [30.0, 10.0], 100.0, 10.0),
    (2, 2, [30.0, 10.0], 100.0, 30.0),
    (3, 2, [30.0, 10.0], 100.0, 110.0),
    (4, 2, [30.0, 10.0], 100.0, 130.0),
    (2, 2, [50.0], 100.0, 50.0),  # one ready (free at 0), one busy: k-th of 0, 50, 100, 150, ...
    (3, 2, [50.0], 100.0, 100.0),
    (1, 1, [-5.0], 100.0, 0.0),  # overdue: expected any moment
    (1, 2, [20.0, 40.0], None, 20.0),  # no handle time known: the first round only
    (2, 2, [20.0, 40.0], None, 40.0),
    (3, 2, [20.0, 40.0], None, None),
    (1, 1, [math.inf], 100.0, None),  # unknown free-up time
    (2, 2, [math.inf, 10.0], 100.0, 110.0),
])
def test_table(position: int, able: int, busy: list[float], aht: float | None,
               want: float | None) -> None:
    assert estimate_wait(position, able, busy, aht) == want


def test_many_agents_approach_position_times_aht_over_agents() -> None:
    # 10 agents, all just started a 300 s call: caller 25 waits for the third round
    assert estimate_wait(25, 10, [300.0] * 10, 300.0) == 900.0


@pytest.mark.parametrize("args", [(0, 1, [], 10.0), (1, 1, [1.0, 2.0], 10.0),
                                  (1, 1, [], -1.0)])
def test_bad_input(args: tuple[int, int, list[float], float]) -> None:
    with pytest.raises(ValueError):
        estimate_wait(*args)


@settings(max_examples=300, deadline=None)
@given(agents=st.lists(st.tuples(st.sampled_from([AgentState.ON_CALL, AgentState.WRAP_UP,
                                                  AgentState.RESERVED]),
                                 st.floats(min_value=-5, max_value=2000, allow_nan=False)),
                       max_size=12),
       aht=st.one_of(st.none(), st.sampled_from([0.0, 30.0]), st.floats(0, 900)),
       wrapup=st.one_of(st.sampled_from([0.0, 15.0]), st.floats(0, 120)))
def test_busy_times_of_many_agents_at_once_are_each_agents(
        agents: list[tuple[AgentState, float]], aht: float | None, wrapup: float) -> None:
    now = 10_000.0
    one_by_one = [busy_remaining_s(Agent(id="a", interface="x", state=state,
                                         state_since=now - ago), now, aht, wrapup)
                  for state, ago in agents]
    # (how long each has been in its state, as ewt_queues works it out from state_since)
    since = {state: [max(0.0, now - (now - ago)) for kind, ago in agents if kind is state]
             for state in (AgentState.ON_CALL, AgentState.WRAP_UP)}
    reserved = sum(1 for state, _ in agents if state is AgentState.RESERVED)
    at_once = busy_remaining_many(since[AgentState.ON_CALL], since[AgentState.WRAP_UP],
                                  reserved, aht, wrapup)
    assert sorted(at_once) == sorted(one_by_one)


def one_take_at_a_time(position: int, able: int, busy: list[float], aht: float) -> float | None:
    """The model taken literally: the agent free first takes the next caller, and is free
    again one handle time later (what estimate_wait must give to the last bit)."""
    times = [0.0] * (able - len(busy)) + [max(0.0, r) for r in busy]
    heapq.heapify(times)
    for _ in range(position - 1):
        heapq.heapreplace(times, times[0] + aht)
    return None if math.isinf(times[0]) else times[0]


# times and handle times that tie, that are far apart (a free-up later than several handle
# times), zero, tiny and huge (where adding a handle time changes nothing), unknown
free_up = st.one_of(st.sampled_from([0.0, 10.0, 30.0, 100.0, 1e-9, 1e17, math.inf]),
                    st.floats(min_value=-10, max_value=5000, allow_nan=False))
handle = st.one_of(st.sampled_from([0.0, 1e-9, 0.1, 30.0, 100.0, 180.5]),
                   st.floats(min_value=0, max_value=1000, allow_nan=False))


@settings(max_examples=500, deadline=None)
@given(busy=st.lists(free_up, max_size=30), ready=st.integers(0, 5),
       position=st.integers(1, 400), aht=handle)
def test_the_estimate_is_the_model_taken_one_caller_at_a_time(
        busy: list[float], ready: int, position: int, aht: float) -> None:
    able = len(busy) + ready
    if able == 0:
        return
    assert estimate_wait(position, able, busy, aht) == \
        one_take_at_a_time(position, able, busy, aht)


def test_a_long_queue_is_taken_in_rounds_and_in_single_takes_alike() -> None:
    # 200 agents within one handle time of each other, 750 callers ahead: rounds; one agent
    # free much later first: single takes until the others catch up with it, then rounds
    busy = [(i * 7.3) % 180 for i in range(200)]
    for late in (0.0, 900.0):
        got = estimate_wait(751, 200, [*busy[:-1], busy[-1] + late], 180.0)
        assert got == one_take_at_a_time(751, 200, [*busy[:-1], busy[-1] + late], 180.0)
        assert got is not None and 540.0 <= got < 720.0


remaining = st.floats(min_value=-10, max_value=3600, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(able=st.integers(min_value=1, max_value=12), data=st.data(),
       aht=st.one_of(st.none(), st.floats(min_value=0, max_value=1200, allow_nan=False)))
def test_never_decreases_with_position(able: int, data: st.DataObject,
                                       aht: float | None) -> None:
    busy = data.draw(st.lists(remaining, max_size=able))
    values = [estimate_wait(k, able, busy, aht) for k in range(1, 40)]
    known = [v for v in values if v is not None]
    assert known == sorted(known)
    # once unknown, it stays unknown
    first_none = next((i for i, v in enumerate(values) if v is None), len(values))
    assert all(v is None for v in values[first_none:])
    assert all(v >= 0 for v in known)


@settings(max_examples=200, deadline=None)
@given(able=st.integers(min_value=1, max_value=8), data=st.data(),
       aht=st.floats(min_value=1, max_value=1200, allow_nan=False),
       k=st.integers(min_value=1, max_value=30))
def test_another_ready_agent_never_lengthens_the_wait(able: int, data: st.DataObject,
                                                     aht: float, k: int) -> None:
    busy = data.draw(st.lists(remaining, max_size=able))
    before = estimate_wait(k, able, busy, aht)
    after = estimate_wait(k, able + 1, busy, aht)
    assert before is not None and after is not None
    assert after <= before


@settings(max_examples=200, deadline=None)
@given(r=st.floats(min_value=0, max_value=3600, allow_nan=False),
       aht=st.floats(min_value=0, max_value=1200, allow_nan=False),
       k=st.integers(min_value=1, max_value=50))
def test_single_agent_closed_form(r: float, aht: float, k: int) -> None:
    got = estimate_wait(k, 1, [r], aht)
    assert got == pytest.approx(r + (k - 1) * aht)


# --- states and calls ---

def mk_agent(state: AgentState, since: float = 0.0, skills: dict[str, int] | None = None,
             queues: tuple[str, ...] = ()) -> Agent:
    n = next(_ids)
    return Agent(id=f"a{n}", interface=f"PJSIP/{n}", skills=dict(skills or {}), queues=queues,
                 state=state, state_since=since)


def mk_call(queue: str, entered: float, priority: int = 0,
            required: dict[str, int] | None = None) -> Call:
    n = next(_ids)
    return Call(id=f"c{n}", channel=f"PJSIP/t-{n}", uniqueid=f"1.{n}", caller_num="1",
                dnis="100", state=CallState.WAITING, queue=queue, priority=priority,
                entered_at=entered, required=dict(required or {}))


@pytest.mark.parametrize("state, since, aht, want", [
    (AgentState.READY, 0.0, 100.0, 0.0),
    (AgentState.WRAP_UP, 95.0, None, 5.0),  # wrap-up 10 s, 5 s in
    (AgentState.WRAP_UP, 50.0, 100.0, 0.0),
    (AgentState.ON_CALL, 40.0, 100.0, 40.0),  # 60 s into a 100 s handle time
    (AgentState.ON_CALL, 0.0, 100.0, 10.0),  # over: at least the wrap-up is left
    (AgentState.ON_CALL, 40.0, None, math.inf),
    (AgentState.RESERVED, 99.0, 100.0, 100.0),
])
def test_busy_remaining(state: AgentState, since: float, aht: float | None,
                        want: float) -> None:
    assert busy_remaining_s(mk_agent(state, since), 100.0, aht, wrapup_s=10.0) == want


def test_call_ewt_counts_callers_ahead_and_ignores_not_ready_agents() -> None:
    now = 1000.0
    agents = [mk_agent(AgentState.ON_CALL, since=now - 60), mk_agent(AgentState.NOT_READY)]
    calls = [mk_call("q", now - 30), mk_call("q", now - 20)]
    probe = mk_call("q", now)
    # one able agent free in 100 - 60 = 40 s; two callers ahead: 40 + 2 * 100
    assert call_ewt(probe, now, calls, agents, 100.0, 10.0) == 240.0
    assert call_ewt(calls[0], now, calls, agents, 100.0, 10.0) == 40.0
    assert call_ewt(probe, now, calls, [mk_agent(AgentState.NOT_READY)], 100.0, 10.0) is None


def test_call_ewt_vip_goes_first() -> None:
    now = 1000.0
    agents = [mk_agent(AgentState.ON_CALL, since=now)]
    calls = [mk_call("q", now - 30), mk_call("q", now - 20)]
    vip = mk_call("q", now, priority=10)
    assert call_ewt(vip, now, calls, agents, 100.0, 10.0) == 100.0


def test_call_ewt_shares_agents_between_queues() -> None:
    now = 1000.0
    shared = mk_agent(AgentState.ON_CALL, since=now)  # serves both queues
    b_only = [mk_agent(AgentState.ON_CALL, since=now, queues=("b",)) for _ in range(3)]
    a_only = mk_agent(AgentState.ON_CALL, since=now, queues=("a",))
    calls = [mk_call("b", now - 10 - i) for i in range(8)]
    probe = mk_call("a", now)
    # 8 b-callers ahead, each may go to 4 agents, 1 of them ours: a 1/4 share each, 2 ahead;
    # two able agents, both free at 100 s, then every 100 s: 3rd free-up at 200 s
    assert call_ewt(probe, now, calls, [shared, *b_only, a_only], 100.0, 10.0) == 200.0


def test_call_ewt_skills_decide_who_is_able() -> None:
    now = 1000.0
    fr = mk_agent(AgentState.READY, skills={"fr": 3})
    en = mk_agent(AgentState.ON_CALL, since=now - 100)
    probe = mk_call("q", now, required={"fr": 2})
    assert call_ewt(probe, now, [], [en, fr], 100.0, 10.0) == 0.0
    assert call_ewt(probe, now, [], [en], 100.0, 10.0) is None
