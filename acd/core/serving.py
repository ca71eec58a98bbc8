"""Which configured queues an agent serves, worked out once per agent and config. Pure.

An agent serves a queue when its own `queues` list is empty or names the queue AND it holds
every skill the queue requires at the minimum level: `routing.serves` for a call that requires
the queue's own skills and no more. Checking every (agent, queue) pair costs agents x queues
tests (5 M at 5,000 agents and 1,000 queues), and routing and the figures ask all the time; so
the queues are found through an index by skill (only queues that need a skill the agent holds,
or no skill at all, are tested) and remembered per agent until its skills or queues change.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Generator, Iterable, Mapping
from typing import TYPE_CHECKING

from acd.core.model import Agent
from acd.core.steps import run_steps

if TYPE_CHECKING:
    from acd.config import Config

AGENTS_PER_STEP = 16  # (an agent of a big centre serves ~65 queues)
QUEUES_PER_STEP = 64


class QueueMembership:
    """`queues`: queue name -> required skill -> minimum level, in config order (the order
    every answer keeps)."""

    def __init__(self, queues: Mapping[str, Mapping[str, int]]) -> None:
        self._skills = {q: dict(req) for q, req in queues.items()}
        self._names = list(self._skills)  # a queue's index: its place in config order
        self._key = {q: tuple(sorted(req.items())) for q, req in self._skills.items()}
        self._open = [i for i, req in enumerate(self._skills.values()) if not req]
        self._need = [len(req) for req in self._skills.values()]
        # skill -> (minimum levels ascending, the queues' indexes): the queues that require
        # the skill and no other (served when it is held), then those that require others too
        # (counted). A held level takes a prefix of each (bisect).
        single: dict[str, list[tuple[int, int]]] = {}
        multi: dict[str, list[tuple[int, int]]] = {}
        for i, req in enumerate(self._skills.values()):
            for skill, level in req.items():
                (single if len(req) == 1 else multi).setdefault(skill, []).append((level, i))
        self._single = {skill: _by_level(pairs) for skill, pairs in single.items()}
        self._multi = {skill: _by_level(pairs) for skill, pairs in multi.items()}
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
        # A queue is served when every skill it requires is held at its level (first-login
        # storms of thousands of agents ask this of a thousand queues: no per-queue loop).
        served = list(self._open)
        met: dict[int, int] = {}  # queue requiring several skills -> how many are met
        for skill, held in skills.items():
            found = self._single.get(skill)
            if found is not None:
                served += found[1][:bisect_right(found[0], held)]
            found = self._multi.get(skill)
            if found is not None:
                for i in found[1][:bisect_right(found[0], held)]:
                    met[i] = met.get(i, 0) + 1
        need = self._need
        served += [i for i, n in met.items() if n == need[i]]
        served.sort()
        names = self._names
        if only:
            return tuple(names[i] for i in served if names[i] in only)
        return tuple(names[i] for i in served)


def _by_level(pairs: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """(level, queue index) pairs as (levels ascending, indexes in the same order)."""
    pairs.sort()
    return [level for level, _i in pairs], [i for _level, i in pairs]


def membership_of(cfg: Config) -> QueueMembership:
    """Who serves which queue under `cfg` (build one per config and keep it: it remembers
    each agent's queues). The router and the figures each keep one."""
    return QueueMembership({q: qcfg.skills for q, qcfg in cfg.queues.items()})
