"""The simulator's one door into the routing core: every routing decision of a simulation is
taken here, with the same functions the live service's router takes it with
(acd/service/router.py):

- a call starts waiting -> `acd.core.routing.best_agent_for_call(call, ready agents)`;
- an agent becomes ready -> `acd.core.waiting.best_call_for_agent(agent, index, calls, queues)`
  over a `WaitingIndex`, `queues` being the queues whose own skills the agent holds (the
  router's `_queues` rule, repeated in `queues_of`).

The engine (engine.py) never calls the core itself: it tells the Decider what happened
(`call_waits`, `agent_ready`, `call_leaves`) and gets the match back. So a routing policy that
the core learns (a time- or figure-dependent one) reaches the simulator by changing this module
only. What a policy may need is passed in: the virtual time `now` on every call, the queues'
configs (`self.queues`, acd.config.QueueConfig, with any policy settings they carry), and the
running per-queue counts (`self.live`, acd.stats.raw.QueueCounts of every call since the start
of the run, warm-up included, kept by the engine as calls arrive, are answered, abandon, time
out and end: the raw counts the service's figures are made of, so
acd.stats.fig_window.window_figures(self.live[q], ...) gives a policy the queue's SL, ASA and
AHT so far). A windowed view (the last 15 min, as the live service has) can be added here.

Ready agents are kept per queue they can serve; that only narrows the candidates handed to
best_agent_for_call (an agent outside the queue's pool is never eligible), it changes no choice.

The routing policies of `[queues.NAME.routing]` (acd/core/policy.py) apply as in the service:
the rules are built from the queue configs with `rules_from_config`; a call whose policies
change who may take it at some later moment (an expansion step, the end of a VIP-expert
window) is routed again then (`due` tells the engine when, `recheck` decides); the
service-objective offsets are worked out once a simulated second from the running counts, as
the service does from its figures about once a second — with one difference: the service reads
the last 15 minutes, the simulator every call since the start of the run. Last-agent routing
needs caller history, which the simulator does not model: it never applies here.
"""

from __future__ import annotations

from collections.abc import Mapping

from acd.config import QueueConfig
from acd.core.model import Agent, Call
from acd.core.policy import (
    QueueStanding,
    meets,
    next_change,
    objective_offsets,
    rules_from_config,
)
from acd.core.routing import best_agent_for_call
from acd.core.waiting import WaitingIndex, best_call_for_agent
from acd.stats.fig_window import service_level_value
from acd.stats.raw import QueueCounts

STEER_EVERY_S = 1.0  # how often the objective offsets are worked out (virtual seconds)
SHORT_ABANDON_S = 5  # the service's default: short abandons left out of the default SL


class Decider:
    def __init__(self, queues: Mapping[str, QueueConfig],
                 live: Mapping[str, QueueCounts]) -> None:
        self.queues = queues
        self.live = live
        self.rules = rules_from_config(queues)
        self._steers = any(qc.routing.objective_boost_s > 0 for qc in queues.values())
        self._steered_at = -STEER_EVERY_S
        self.index = WaitingIndex(self.rules)
        self.waiting: dict[str, Call] = {}
        self._ready: dict[str, dict[str, Agent]] = {q: {} for q in queues}
        self._queues_of: dict[str, list[str]] = {}
        self.decisions = 0

    def queues_of(self, agent: Agent) -> list[str]:
        """Queues whose own skills, or an expansion step's, the agent holds, among those it
        serves (a call may require more skills: that is checked per call by the core)."""
        known = self._queues_of.get(agent.id)
        if known is None:
            known = [q for q, qc in self.queues.items()
                     if (not agent.queues or q in agent.queues)
                     and any(meets(agent, need) for need in
                             (qc.skills, *(step.skills for step in qc.routing.expand)))]
            self._queues_of[agent.id] = known
        return known

    def call_waits(self, call: Call, now: float) -> Agent | None:
        """`call` (state WAITING) entered its queue: the ready agent it goes to now, or None
        (then it waits in the index)."""
        self._steer(now)
        pool = self._ready.get(call.queue)
        agent = best_agent_for_call(call, pool.values(), now, self.rules) if pool else None
        if agent is None:
            self.waiting[call.id] = call
            self.index.put(call)
            return None
        self.decisions += 1
        self._unready(agent)
        return agent

    def agent_ready(self, agent: Agent, now: float) -> Call | None:
        """`agent` (state READY) is free: the waiting call it takes now, or None (then it
        stays in the ready pools of its queues)."""
        self._steer(now)
        call = best_call_for_agent(agent, self.index, self.waiting, self.queues_of(agent), now,
                                   self.rules)
        if call is None:
            for q in self.queues_of(agent):
                self._ready[q][agent.id] = agent
            return None
        self.decisions += 1
        self.call_leaves(call)
        return call

    def due(self, call: Call, now: float) -> float | None:
        """When a waiting call's policies next change who may take it (None: never)."""
        return next_change(call, now, self.rules)

    def recheck(self, call: Call, now: float) -> Agent | None:
        """A waiting call reached such a moment: the ready agent it goes to now, or None."""
        if call.id not in self.waiting:
            return None
        self._steer(now)
        pool = self._ready.get(call.queue)
        agent = best_agent_for_call(call, pool.values(), now, self.rules) if pool else None
        if agent is not None:
            self.decisions += 1
            self._unready(agent)
            self.call_leaves(call)
        return agent

    def _steer(self, now: float) -> None:
        """Service-objective offsets from the running counts, once a simulated second."""
        if not self._steers or now - self._steered_at < STEER_EVERY_S:
            return
        self._steered_at = now
        oldest: dict[str, float] = {}
        for call in self.waiting.values():
            if call.entered_at is not None and call.entered_at < oldest.get(call.queue, now):
                oldest[call.queue] = call.entered_at
        standing = {}
        for q, qc in self.queues.items():
            sl = service_level_value(self.live[q], qc.sla.formula, qc.sla.threshold_s,
                                     SHORT_ABANDON_S)
            standing[q] = QueueStanding(None if sl is None else 100.0 * sl,
                                        now - oldest.get(q, now), float(qc.sla.threshold_s))
        self.rules = self.rules.with_offsets(objective_offsets(self.rules, standing))

    def call_leaves(self, call: Call) -> None:
        """The call no longer waits (given to an agent, abandoned, timed out)."""
        if self.waiting.pop(call.id, None) is not None:
            self.index.discard(call.id)

    def _unready(self, agent: Agent) -> None:
        for q in self.queues_of(agent):
            self._ready[q].pop(agent.id, None)
