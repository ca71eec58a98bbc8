"""The waiting index gives the same decision as the plain routing core (property test)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.core.model import Agent, Call, CallState
from acd.core.routing import best_call_for_agent as plain_best
from acd.core.waiting import WaitingIndex, best_call_for_agent

from .test_routing import agents_st, calls_st


@settings(max_examples=300, deadline=None)
@given(calls_st, agents_st, st.randoms(use_true_random=False))
def test_index_agrees_with_the_plain_core(calls: list[Call], agents: list[Agent],
                                          rnd: object) -> None:
    index = WaitingIndex()
    for call in calls:
        index.put(call)
    # Some calls stop waiting later: the index must forget them.
    for call in calls[::3]:
        call.state = CallState.RINGING
        index.put(call)
    # The heads a decision compares are each queue's first key, after every put and discard.
    assert index.heads == {q: next(index.in_order(q)) for q in index.queues()}
    by_id = {c.id: c for c in calls}
    for agent in agents:
        got = best_call_for_agent(agent, index, by_id, index.queues())
        want = plain_best(agent, calls)
        assert (got.id if got else None) == (want.id if want else None)


def test_priority_change_moves_the_call() -> None:
    from .test_routing import mk_agent, mk_call

    index = WaitingIndex()
    a, b = mk_call(entered=1.0), mk_call(entered=2.0)
    for c in (a, b):
        index.put(c)
    agent = mk_agent({})
    assert best_call_for_agent(agent, index, {a.id: a, b.id: b}, ["q"]) is a
    b.priority = 50
    index.put(b)
    assert best_call_for_agent(agent, index, {a.id: a, b.id: b}, ["q"]) is b
    assert len(index) == 2
