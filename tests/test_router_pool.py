"""The router tests only the ready agents whose queues include a new waiting call's queue
(Router._best_agent): it must pick the agent that testing every ready agent picks (property
test over skills, agents' own queue lists, expansion steps and VIP-expert windows)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.config import parse_config
from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.policy import rules_from_config
from acd.core.routing import best_agent_for_call
from acd.service.mirror import Mirror
from acd.service.router import Router

SKILLS = ["sales", "support", "en", "es"]
QUEUES = ["sales", "support", "any"]
_ids = itertools.count()

levels = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=2)
queue_st = st.fixed_dictionaries({
    "skills": levels,
    "routing": st.fixed_dictionaries({
        "expand": st.sampled_from([[], [{"after_s": 20, "skills": {"support": 1}}],
                                   [{"after_s": 10, "skills": {"en": 3}},
                                    {"after_s": 40, "skills": {}}]]),
        "vip_expert_s": st.sampled_from([0.0, 30.0])})})
agent_st = st.builds(
    lambda skills, queues, since, ready: Agent(
        id=f"a{next(_ids)}", interface="PJSIP/x", skills=skills, queues=queues,
        state=AgentState.READY if ready else AgentState.ON_CALL, ready_since=since),
    st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=4),
    st.sampled_from([(), ("sales",), ("support", "any")]),
    st.floats(0, 100, allow_nan=False), st.booleans())


def _router(cfg: Any, agents: list[Agent], now: float) -> Router:
    rules = rules_from_config(cfg.queues)
    mirror = Mirror(rules)
    for agent in agents:
        mirror.set_agent(agent)
    engine = SimpleNamespace(cfg=cfg, mirror=mirror, rules=rules, now=lambda: now,
                             routing_enabled=True)
    return Router(engine)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.lists(queue_st, min_size=3, max_size=3), st.lists(agent_st, max_size=12),
       st.sampled_from(QUEUES), levels, st.sampled_from([0, 10]), st.floats(0, 60))
def test_the_narrowed_pool_picks_who_every_ready_agent_would(
        queues: list[dict[str, Any]], agents: list[Agent], queue: str,
        extras: dict[str, int], priority: int, waited: float) -> None:
    cfg = parse_config({"pbx": {"secret": "x"}, "queues": dict(zip(QUEUES, queues, strict=True)),
                        "flows": {"f": {"dnis": ["1"], "start": "q",
                                        "nodes": {"q": {"type": "queue", "queue": "sales"}}}}})
    now = 100.0
    # A call requires its queue's skills and what it brought (its language), as enqueued.
    required = {**extras, **cfg.queues[queue].skills}
    call = Call(id="c1", channel="PJSIP/t-1", uniqueid="1.1", caller_num="1", dnis="1",
                state=CallState.WAITING, queue=queue, priority=priority,
                entered_at=now - waited, required=required)
    router = _router(cfg, agents, now)
    ready = [a for a in agents if a.state is AgentState.READY]
    want = best_agent_for_call(call, ready, now, router.e.rules, router.e.mirror.agents)
    got = router._best_agent(call, now)
    assert (got.id if got else None) == (want.id if want else None)


def test_a_config_change_is_seen_by_the_narrowed_pool() -> None:
    def config(sales_skill: str) -> Any:
        return parse_config({
            "pbx": {"secret": "x"},
            "queues": {"sales": {"skills": {sales_skill: 1}}, "support": {"skills": {"es": 1}}},
            "flows": {"f": {"dnis": ["1"], "start": "q",
                            "nodes": {"q": {"type": "queue", "queue": "sales"}}}}})

    agent = Agent(id="a1", interface="PJSIP/x", skills={"en": 1, "es": 1},
                  state=AgentState.READY)
    call = Call(id="c1", channel="PJSIP/t-1", uniqueid="1.1", caller_num="1", dnis="1",
                state=CallState.WAITING, queue="sales", entered_at=90.0, required={"en": 1})
    router = _router(config("fr"), [agent], 100.0)
    assert router._best_agent(call, 100.0) is None  # sales needs fr: a1 serves support only
    router.e.cfg = config("en")
    router.e.rules = rules_from_config(router.e.cfg.queues)
    router.config_changed()
    got = router._best_agent(call, 100.0)
    assert got is not None and got.id == "a1"
