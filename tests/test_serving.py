"""QueueMembership (acd/core/serving.py) answers what routing.serves answers for every
(agent, queue) pair, however it finds it, and keeps up when an agent's skills change."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.core.model import Agent, Call, CallState
from acd.core.routing import serves
from acd.core.serving import QueueMembership

SKILLS = ["en", "fr", "de", "sales", "tech"]
QUEUES = ["q0", "q1", "q2", "q3", "q4", "q5"]
skill_map = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=3)
queues_st = st.dictionaries(st.sampled_from(QUEUES), skill_map, min_size=1)
agent_st = st.builds(
    lambda i, skills, only: Agent(id=f"a{i}", interface=f"PJSIP/{i}", skills=skills,
                                  queues=tuple(only)),
    st.integers(0, 5), st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=5),
    st.lists(st.sampled_from([*QUEUES, "elsewhere"]), max_size=3, unique=True))


def probe(queue: str, required: dict[str, int]) -> Call:
    return Call(id="p", channel="", uniqueid="", caller_num="", dnis="",
                state=CallState.WAITING, queue=queue, required=dict(required))


def plain(queues: dict[str, dict[str, int]], agent: Agent) -> tuple[str, ...]:
    return tuple(q for q, req in queues.items() if serves(agent, probe(q, req)))


@settings(max_examples=400, deadline=None)
@given(queues_st, st.lists(agent_st, max_size=8))
def test_same_queues_as_serves_in_config_order(queues: dict[str, dict[str, int]],
                                               agents: list[Agent]) -> None:
    members = QueueMembership(queues)
    for agent in agents:  # the same id may come again with other skills: no stale answer
        assert members.queues_of(agent) == plain(queues, agent)
        assert members.queues_of(agent) == plain(queues, agent)  # from the cache
    by_queue = members.by_queue(agents)
    assert list(by_queue) == list(queues)
    for q, req in queues.items():
        assert by_queue[q] == [a for a in agents if serves(a, probe(q, req))]


def test_a_changed_agent_is_looked_at_again() -> None:
    members = QueueMembership({"fr": {"fr": 2}, "any": {}, "en": {"en": 1}})
    agent = Agent(id="a", interface="PJSIP/a", skills={"fr": 1})
    assert members.queues_of(agent) == ("any",)
    agent = Agent(id="a", interface="PJSIP/a", skills={"fr": 2, "en": 1})
    assert members.queues_of(agent) == ("fr", "any", "en")
    agent = Agent(id="a", interface="PJSIP/a", skills={"fr": 2, "en": 1}, queues=("en",))
    assert members.queues_of(agent) == ("en",)


def test_queues_with_the_same_skills_and_agents_share_one_list() -> None:
    members = QueueMembership({"sales": {"en": 1}, "billing": {"en": 1}, "vip": {"en": 1},
                               "fr": {"fr": 1}, "other": {}})
    a = Agent(id="a", interface="PJSIP/a", skills={"en": 2})
    b = Agent(id="b", interface="PJSIP/b", skills={"en": 1, "fr": 1})
    c = Agent(id="c", interface="PJSIP/c", skills={"en": 1}, queues=("sales", "billing"))
    by_queue = members.by_queue([a, b, c])
    assert by_queue["sales"] is by_queue["billing"]  # the same skills, the same agents
    assert by_queue["sales"] == [a, b, c]
    assert by_queue["vip"] == [a, b]  # c may not take vip: a list of its own
    assert by_queue["vip"] is not by_queue["sales"]
    assert by_queue["other"] == [a, b] and by_queue["other"] is not by_queue["vip"]


def test_by_queue_in_steps_gives_the_same_answer() -> None:
    """The figures run by_queue in steps (a big centre's is tens of ms in one piece)."""
    from acd.core.serving import AGENTS_PER_STEP, QUEUES_PER_STEP

    queues = {f"q{i}": ({"en": 1 + i % 3} if i % 2 else {"fr": 1}) for i in range(150)}
    agents = [Agent(id=f"a{i}", interface=f"PJSIP/a{i}", skills={"en": 1 + i % 3, "fr": i % 2})
              for i in range(300)]
    steps = QueueMembership(queues).by_queue_steps(agents)
    yields = 0
    while True:
        try:
            next(steps)
            yields += 1
        except StopIteration as done:
            stepped = done.value
            break
    assert yields == 300 // AGENTS_PER_STEP + 150 // QUEUES_PER_STEP
    assert stepped == QueueMembership(queues).by_queue(agents)
    assert stepped["q1"] is stepped["q7"]  # equal lists still shared
