"""Waiting calls per queue, kept in routing order, so one decision looks at a few queue heads
instead of sorting every waiting call (pure: no I/O).

Within a queue the order never depends on time (acd.core.policy.call_key), so each queue is
sorted once. `best_call_for_agent` walks each queue the agent can serve from its head and
stops at the first call the agent may take: calls behind it in the same queue can't beat it,
and a queue whose head is already worse than the best found (after the queues' live objective
offsets) is not walked at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from sortedcontainers import SortedList

from acd.core.model import Agent, Call, CallState
from acd.core.policy import PLAIN, Key, RankKey, Rules, ranked_key
from acd.core.routing import call_key, eligible


class WaitingIndex:
    def __init__(self, rules: Rules = PLAIN) -> None:
        self._queues: dict[str, SortedList] = {}
        self._where: dict[str, tuple[str, Key]] = {}  # call id -> (queue, key)
        self.rules = rules

    def __len__(self) -> int:
        return len(self._where)

    def put(self, call: Call) -> None:
        """Index the call if it waits; drop it otherwise (any state change goes through here)."""
        self.discard(call.id)
        if call.state is CallState.WAITING and call.queue:
            key = call_key(call, self.rules)
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

    def reindex(self, rules: Rules, calls: Mapping[str, Call]) -> None:
        """New rules (a config reload): every waiting call sorted again under them."""
        self.rules = rules
        ids = list(self._where)
        self.clear()
        for call_id in ids:
            call = calls.get(call_id)
            if call is not None:
                self.put(call)

    def in_order(self, queue: str) -> Iterator[Key]:
        return iter(self._queues.get(queue, ()))

    def queues(self) -> Iterable[str]:
        return [q for q, keys in self._queues.items() if keys]


def best_call_for_agent(agent: Agent, index: WaitingIndex, calls: Mapping[str, Call],
                        queues: Iterable[str], now: float | None = None,
                        rules: Rules | None = None,
                        agents: Mapping[str, Agent] | None = None) -> Call | None:
    """The first call in routing order, across `queues`, that the agent may take now.

    `rules` defaults to the index's own; `agents` (all known agents) enables last-agent holds.
    """
    rules = index.rules if rules is None else rules
    best: Call | None = None
    best_key: RankKey | None = None
    for queue in queues:
        for key in index.in_order(queue):
            ranked = ranked_key(key, queue, rules)
            if best_key is not None and ranked >= best_key:
                break
            call = calls.get(key[2])
            if call is not None and eligible(agent, call, now, rules, agents):
                best, best_key = call, ranked
                break
    return best
