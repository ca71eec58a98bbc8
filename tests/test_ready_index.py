"""The ready agents by queue (acd/service/ready.py): after any run of agents coming and
going, asked at any point and with the index dropped now and then (a config change), the
agents it says serve a queue are the ready ones whose queues hold it, as a scan finds them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.service.ready import ReadyAgents

_AGENTS = [f"a{i}" for i in range(6)]
_QUEUES = ["q1", "q2", "q3"]

_OPS = st.lists(st.tuples(st.sampled_from(["add", "discard", "ask", "drop_index", "reskill"]),
                          st.sampled_from(_AGENTS), st.sampled_from(_QUEUES),
                          st.frozensets(st.sampled_from(_QUEUES))), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_OPS)
def test_the_index_agrees_with_a_scan_of_the_ready_agents(ops: list[tuple[
        str, str, str, frozenset[str]]]) -> None:
    serves = {agent: frozenset({"q1"}) for agent in _AGENTS}
    ready = ReadyAgents()
    ready.index_by(lambda agent: serves[agent])
    members: set[str] = set()
    for op, agent, queue, queues in ops:
        if op == "add":
            ready.add(agent)
            members.add(agent)
        elif op == "discard":
            ready.discard(agent)
            members.discard(agent)
        elif op == "reskill":  # a config change: new queues, then the index dropped
            serves[agent] = queues
            ready.drop_index()
        elif op == "drop_index":
            ready.drop_index()
        assert set(ready) == members and len(ready) == len(members)
        assert (agent in ready) == (agent in members)
        if op == "ask":
            assert ready.serving(queue) == {a for a in members if queue in serves[a]}
    for queue in _QUEUES:
        assert ready.serving(queue) == {a for a in members if queue in serves[a]}


def test_an_agent_gone_from_the_mirror_leaves_the_queues_it_was_indexed_in() -> None:
    mirror = {"a1": frozenset({"q1", "q2"})}
    ready = ReadyAgents()
    ready.index_by(mirror.__getitem__)
    ready.add("a1")
    assert ready.serving("q2") == {"a1"}
    del mirror["a1"]  # dropped from the mirror before it is discarded (drop_agent's order)
    ready.discard("a1")
    assert not ready.serving("q1") and not ready.serving("q2")


def test_asking_before_the_router_said_who_serves_what_is_an_error() -> None:
    ready = ReadyAgents()
    ready.add("a1")
    with pytest.raises(RuntimeError, match="before index_by"):
        ready.serving("q1")
