"""The ready agents, and for each queue the ready agents who serve it.

A call that comes back to its queue (ring-no-answer, a transfer) or arrives is given the best
ready agent who serves its queue (Router._best_agent). Finding those by testing every ready
agent cost ~1 us an agent: at the benchmark's full size (5,000 agents, 1,000 queues) about a
hundred agents were ready for other queues at any time, and that test was a tenth of the
routing process's time per decision. The index keeps them by queue as they come and go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

_NONE: frozenset[str] = frozenset()


class ReadyAgents:
    """A set of agent ids (add, discard, in, iteration, len) that can also say which of them
    serve a queue (serving). The queues of an agent are the router's to say (index_by); the
    index is made at the first question and kept up as agents come and go, and made again
    after drop_index (a config change changes who serves what)."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._queues_of: Callable[[str], frozenset[str]] | None = None
        # queue -> ready agents serving it, and each indexed agent's queues as indexed
        # (an agent dropped from the mirror is taken out of the queues it was put in)
        self._by_queue: dict[str, set[str]] | None = None
        self._indexed: dict[str, frozenset[str]] = {}

    def index_by(self, queues_of: Callable[[str], frozenset[str]]) -> None:
        """`queues_of(agent id)`: the queues that agent serves (it is in the mirror when
        added)."""
        self._queues_of = queues_of
        self.drop_index()

    def drop_index(self) -> None:
        self._by_queue = None
        self._indexed = {}

    def add(self, agent_id: str) -> None:
        if agent_id in self._ids:
            return
        self._ids.add(agent_id)
        if self._by_queue is not None:
            self._put(self._by_queue, agent_id)

    def discard(self, agent_id: str) -> None:
        if agent_id not in self._ids:
            return
        self._ids.discard(agent_id)
        if self._by_queue is not None:
            for queue in self._indexed.pop(agent_id, _NONE):
                self._by_queue[queue].discard(agent_id)

    def serving(self, queue: str) -> set[str] | frozenset[str]:
        """The ready agents who serve `queue` (do not change it)."""
        by_queue = self._by_queue
        if by_queue is None:
            if self._queues_of is None:
                raise RuntimeError("ReadyAgents.serving before index_by")
            by_queue = self._by_queue = {}
            for agent_id in self._ids:
                self._put(by_queue, agent_id)
        return by_queue.get(queue, _NONE)

    def _put(self, by_queue: dict[str, set[str]], agent_id: str) -> None:
        assert self._queues_of is not None
        queues = self._indexed[agent_id] = self._queues_of(agent_id)
        for queue in queues:
            members = by_queue.get(queue)
            if members is None:
                members = by_queue[queue] = set()
            members.add(agent_id)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)
