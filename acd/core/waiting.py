"""Waiting calls per queue, kept in routing order, so one decision looks at a few queue heads
instead of sorting every waiting call (pure: no I/O).

`best_call_for_agent` walks each queue the agent can serve from its head and stops at the
first call the agent may take: calls behind it in the same queue can't beat it, and a queue
whose head is already worse than the best found is not walked at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from sortedcontainers import SortedList

from acd.core.model import Agent, Call, CallState
from acd.core.routing import call_key, eligible

Key = tuple[int, float, str]


class WaitingIndex:
    def __init__(self) -> None:
        self._queues: dict[str, SortedList] = {}
        self._where: dict[str, tuple[str, Key]] = {}  # call id -> (queue, key)

    def __len__(self) -> int:
        return len(self._where)

    def put(self, call: Call) -> None:
        """Index the call if it waits; drop it otherwise (any state change goes through here)."""
        self.discard(call.id)
        if call.state is CallState.WAITING and call.queue:
            key = call_key(call)
            self._queues.setdefault(call.queue, SortedList()).add(key)
            self._where[call.id] = (call.queue, key)

    def discard(self, call_id: str) -> None:
        where = self._where.pop(call_id, None)
        if where is not None:
            queue, key = where
            self._queues[queue].discard(key)

    def clear(self) -> None:
        self._queues.clear()
        self._where.clear()

    def in_order(self, queue: str) -> Iterator[Key]:
        return iter(self._queues.get(queue, ()))

    def queues(self) -> Iterable[str]:
        return [q for q, keys in self._queues.items() if keys]


def best_call_for_agent(agent: Agent, index: WaitingIndex, calls: Mapping[str, Call],
                        queues: Iterable[str]) -> Call | None:
    """The first call in routing order, across `queues`, that the agent may take."""
    best: Call | None = None
    best_key: Key | None = None
    for queue in queues:
        for key in index.in_order(queue):
            if best_key is not None and key >= best_key:
                break
            call = calls.get(key[2])
            if call is not None and eligible(agent, call):
                best, best_key = call, key
                break
    return best
