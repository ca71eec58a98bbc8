"""Waiting calls per queue, kept in routing order, so one decision looks at a few queue heads
instead of sorting every waiting call (pure: no I/O).

Within a queue the order never depends on time (acd.core.policy.call_key), so each queue is
sorted once. `best_call_for_agent` walks each queue the agent can serve from its head and
stops at the first call the agent may take: calls behind it in the same queue can't beat it,
and a queue whose head is already worse than the best found (after the queues' live objective
offsets) is not walked at all.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping

from sortedcontainers import SortedList

from acd.core.model import Agent, AgentState, Call, CallState
from acd.core.policy import PLAIN, Key, RankKey, Rules, ranked_key
from acd.core.routing import agent_sort_key, call_key, eligible


class WaitingIndex:
    def __init__(self, rules: Rules = PLAIN) -> None:
        self._queues: dict[str, SortedList] = {}
        self._where: dict[str, tuple[str, Key]] = {}  # call id -> (queue, key)
        # queue -> its first key, for every queue with a call (read only: put and discard keep
        # it): a decision compares the heads of every queue the agent serves (~70 in a big
        # centre) and walks one or two.
        self.heads: dict[str, Key] = {}
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
            head = self.heads.get(call.queue)
            if head is None or key < head:
                self.heads[call.queue] = key

    def discard(self, call_id: str) -> None:
        where = self._where.pop(call_id, None)
        if where is not None:
            queue, key = where
            keys = self._queues[queue]
            keys.discard(key)
            if self.heads.get(queue) == key:
                if keys:
                    self.heads[queue] = keys[0]
                else:
                    del self.heads[queue]

    def clear(self) -> None:
        self._queues.clear()
        self._where.clear()
        self.heads.clear()

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
    best_raw: Key | None = None  # best's own key
    heads = index.heads
    # A queue whose head is not before the best found is passed over on its head alone (most
    # of an agent's queues); without live offsets the ranked order is the keys' own order.
    plain = not rules.offsets
    for queue in queues:
        head = heads.get(queue)
        if head is None:
            continue
        if best_key is not None and best_raw is not None and (
                head >= best_raw if plain else ranked_key(head, queue, rules) >= best_key):
            continue
        for key in index.in_order(queue):
            ranked = ranked_key(key, queue, rules)
            if best_key is not None and ranked >= best_key:
                break
            call = calls.get(key[2])
            if call is not None and eligible(agent, call, now, rules, agents):
                best, best_key, best_raw = call, ranked, key
                break
    return best


def plan_from_index(index: WaitingIndex, calls: Mapping[str, Call], agents: Iterable[Agent],
                    queues_of: Callable[[Agent], Iterable[str]], now: float | None = None,
                    rules: Rules | None = None,
                    all_agents: Mapping[str, Agent] | None = None) -> list[tuple[Call, Agent]]:
    """acd.core.routing.plan (calls in routing order, each to its best free agent) from the
    index: the queue heads of the queues the free agents serve are merged in routing order,
    instead of every waiting call being sorted. The same pairs; O(pairs x log queues + calls
    no free agent can take) instead of O(waiting calls x log).

    `queues_of`: every queue an agent could serve (a superset is fine: eligible() decides).
    """
    rules = index.rules if rules is None else rules
    free = {a.id: a for a in agents if a.state is AgentState.READY}
    by_queue: dict[str, list[Agent]] = {}
    for agent in free.values():
        for queue in queues_of(agent):
            by_queue.setdefault(queue, []).append(agent)
    heads: list[tuple[RankKey, str, Iterator[Key]]] = []
    for queue in by_queue:
        keys = index.in_order(queue)
        first = next(keys, None)
        if first is not None:
            heads.append((ranked_key(first, queue, rules), queue, keys))
    heapq.heapify(heads)
    # The free agents of a queue in agent_sort_key order, per set of skills a call requires (the
    # key depends on those names only): a call takes the first one that is eligible, instead
    # of every agent of its queue being tested (hundreds per queue in a big centre). Agents
    # taken meanwhile stay in the line; its start moves past them (no agent is freed during
    # a plan), and a line with nobody free left means nobody free serves the queue.
    lines: dict[tuple[str, frozenset[str]], tuple[list[Agent], list[int]]] = {}
    out: list[tuple[Call, Agent]] = []
    while heads and free:
        ranked, queue, keys = heads[0]
        call = calls.get(ranked[3])
        best: Agent | None = None
        served = True
        if call is not None:
            names = frozenset(call.required)
            line = lines.get((queue, names))
            if line is None:
                line = lines[(queue, names)] = (
                    sorted(by_queue[queue], key=agent_sort_key(call)), [0])
            ordered, start = line
            i = start[0]
            while i < len(ordered) and ordered[i].id not in free:
                i += 1
            start[0] = i
            served = i < len(ordered)
            best = next((a for a in itertools.islice(ordered, i, None) if a.id in free
                         and eligible(a, call, now, rules, all_agents)), None)
        if best is not None and call is not None:
            out.append((call, best))
            del free[best.id]
        following = next(keys, None) if served else None  # nobody free serves it: done
        if following is None:
            heapq.heappop(heads)
        else:
            heapq.heapreplace(heads, (ranked_key(following, queue, rules), queue, keys))
    return out
