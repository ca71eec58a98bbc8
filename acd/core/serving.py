"""Which configured queues an agent serves, worked out once per agent and config. Pure.

An agent serves a queue when its own `queues` list is empty or names the queue AND it holds
every skill the queue requires at the minimum level: `routing.serves` for a call that requires
the queue's own skills and no more. Checking every (agent, queue) pair costs agents x queues
tests (5 M at 5,000 agents and 1,000 queues), and routing and the figures ask all the time; so
the queues are found through an index by skill (only queues that need a skill the agent holds,
or no skill at all, are tested) and remembered per agent until its skills or queues change.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from typing import TYPE_CHECKING

from acd.core.model import Agent
from acd.core.steps import run_steps

if TYPE_CHECKING:
    from acd.config import Config

AGENTS_PER_STEP = 64
QUEUES_PER_STEP = 64


class QueueMembership:
    """`queues`: queue name -> required skill -> minimum level, in config order (the order
    every answer keeps)."""

    def __init__(self, queues: Mapping[str, Mapping[str, int]]) -> None:
        self._skills = {q: dict(req) for q, req in queues.items()}
        self._rank = {q: i for i, q in enumerate(self._skills)}
        self._key = {q: tuple(sorted(req.items())) for q, req in self._skills.items()}
        self._open = tuple(q for q, req in self._skills.items() if not req)  # anyone serves
        # skill -> (queue, minimum level) of every queue that requires it
        self._by_skill: dict[str, list[tuple[str, int]]] = {}
        for q, req in self._skills.items():
            for skill, level in req.items():
                self._by_skill.setdefault(skill, []).append((q, level))
        # agent id -> (its skills, its queues, the queues it serves)
        self._known: dict[str, tuple[dict[str, int], tuple[str, ...], tuple[str, ...]]] = {}

    def queues_of(self, agent: Agent) -> tuple[str, ...]:
        """The configured queues the agent serves, in config order."""
        known = self._known.get(agent.id)
        if known is not None and known[1] == agent.queues and (
                known[0] is agent.skills or known[0] == agent.skills):
            return known[2]
        served = self._find(agent.skills, agent.queues)
        self._known[agent.id] = (agent.skills, agent.queues, served)
        return served

    def serves(self, agent: Agent, queue: str) -> bool:
        return queue in self._skills and queue in self.queues_of(agent)

    def by_queue(self, agents: Iterable[Agent]) -> dict[str, list[Agent]]:
        """Every configured queue -> the agents serving it, in the order given. Queues that
        require the same skills and have the same agents share one list object, so that a
        caller can work out what depends only on the agents once per list (a thousand queues
        are often a few dozen skill sets)."""
        return run_steps(self.by_queue_steps(agents))

    def by_queue_steps(self, agents: Iterable[Agent]
                       ) -> Generator[None, None, dict[str, list[Agent]]]:
        """by_queue in steps (acd/core/steps.py): at 5,000 agents and 1,000 queues it is
        25 ms of work on every figures refresh, and 250 ms the first time."""
        out: dict[str, list[Agent]] = {q: [] for q in self._skills}
        for n, agent in enumerate(agents, 1):
            for q in self.queues_of(agent):
                out[q].append(agent)
            if n % AGENTS_PER_STEP == 0:
                yield
        first_of: dict[tuple[tuple[str, int], ...], list[Agent]] = {}
        for n, (q, serving) in enumerate(out.items(), 1):
            first = first_of.setdefault(self._key[q], serving)
            if first is not serving and first == serving:  # (compares by identity first)
                out[q] = first
            if n % QUEUES_PER_STEP == 0:
                yield
        return out

    def _find(self, skills: Mapping[str, int], only: tuple[str, ...]) -> tuple[str, ...]:
        # A queue is served when every skill it requires is held at its level: count, per
        # queue, the required skills the agent holds well enough.
        met: dict[str, int] = dict.fromkeys(self._open, 0)
        for skill, held in skills.items():
            for q, level in self._by_skill.get(skill, ()):
                if held >= level:
                    met[q] = met.get(q, 0) + 1
        served = [q for q, n in met.items() if n == len(self._skills[q])
                  and (not only or q in only)]
        served.sort(key=self._rank.__getitem__)
        return tuple(served)


def membership_of(cfg: Config) -> QueueMembership:
    """Who serves which queue under `cfg` (build one per config and keep it: it remembers
    each agent's queues). The router and the figures each keep one."""
    return QueueMembership({q: qcfg.skills for q, qcfg in cfg.queues.items()})
