"""Routing policies that read the clock and the live figures (issue #4, items 1, 2, 3, 7). Pure.

Every policy is per queue and off by default; `Rules` holds them for all queues, plus the live
service-objective offsets, and is passed to the routing functions with `now`:

- *priority aging* (`priority_step_s`): a priority point is worth that many seconds of waiting,
  so a VIP call (10 points) goes before normal calls that waited up to 10 x step longer, and
  never more: that is the bound on how long VIP traffic can hold a normal caller back. Unset,
  priority classes are strict (a VIP call always goes first).
- *service objective* (`objective_boost_s`): while a queue is behind its SL target its calls'
  waits count up to `objective_boost_s` longer, while it is ahead they count up to that much
  shorter, linear in the gap (full at `objective_full_at_pp` percentage points). It only matters
  to agents who serve several queues: within a queue the order stays first come, first served.
- *skill expansion* (`expansions`, "bullseye"): after `after_s` of waiting, the queue's own skill
  requirement may also be met by an alternative (a lower level, a backup skill); the skills the
  call itself brought (its language) stay required, and the call keeps its place.
- *VIP experts* (`vip_expert_s`): for that long, a VIP call is offered only to experts (level >=
  `expert_level` on each of the queue's skills); then to every able agent.
- *last agent* (`last_agent_s`): for that long, a caller is held for the agent who took its
  previous call, while that agent is logged in and about to be free (ready, ringing, talking,
  wrapping up); a paused or logged-out agent releases the hold at once.

Within a queue, the order of waiting calls never depends on time, so the waiting index can keep
each queue sorted once (`call_key`); the objective offset is the same for all calls of a queue
and is applied when queue heads are compared (`ranked_key`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from acd.core.model import PRIORITY_VIP, Agent, AgentState, Call

if TYPE_CHECKING:
    from acd.config import QueueConfig

Key = tuple[int, float, str]
RankKey = tuple[int, float, float, str]

# States of an agent worth holding a call for: it will be ready soon on its own.
HOLD_STATES = frozenset({AgentState.READY, AgentState.RESERVED, AgentState.ON_CALL,
                         AgentState.WRAP_UP})


@dataclass(frozen=True, slots=True)
class Expansion:
    after_s: float
    skills: Mapping[str, int]  # replaces the queue's own skills; the call's extra skills stay


@dataclass(frozen=True, slots=True)
class QueueRules:
    skills: Mapping[str, int] = field(default_factory=dict)  # the queue's own requirement
    priority_step_s: float | None = None
    expansions: tuple[Expansion, ...] = ()  # by after_s, ascending
    vip_expert_s: float = 0.0
    expert_level: int = 5
    last_agent_s: float = 0.0
    objective_boost_s: float = 0.0
    objective_full_at_pp: float = 10.0
    sl_target_pct: float = 80.0


PLAIN_QUEUE = QueueRules()


@dataclass(frozen=True, slots=True)
class Rules:
    queues: Mapping[str, QueueRules] = field(default_factory=dict)
    offsets: Mapping[str, float] = field(default_factory=dict)  # queue -> seconds, live

    def of(self, queue: str) -> QueueRules:
        return self.queues.get(queue, PLAIN_QUEUE)

    def offset(self, queue: str) -> float:
        return self.offsets.get(queue, 0.0)

    def with_offsets(self, offsets: Mapping[str, float]) -> Rules:
        return replace(self, offsets=dict(offsets))


PLAIN = Rules()


def _is_vip(call: Call) -> bool:
    return call.vip or call.priority >= PRIORITY_VIP


def waited(call: Call, now: float) -> float:
    return 0.0 if call.entered_at is None else max(0.0, now - call.entered_at)


def call_key(call: Call, rules: Rules = PLAIN) -> Key:
    """Order of waiting calls within a queue (smaller first); it never changes with time."""
    entered = call.entered_at if call.entered_at is not None else float("inf")
    step = rules.of(call.queue).priority_step_s
    if step is None:
        return (-call.priority, entered, call.id)
    return (0, entered - call.priority * step, call.id)


def ranked_key(key: Key, queue: str, rules: Rules) -> RankKey:
    """A queue's call key with the queue's live objective offset: compares across queues.

    The unshifted time stays in the key as a tie-break: subtracting the offset may round two
    different times to one float, and the order within a queue must stay the key's order."""
    return (key[0], key[1] - rules.offset(queue), key[1], key[2])


def _merge(*maps: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in maps:
        for skill, level in m.items():
            out[skill] = max(level, out.get(skill, level))
    return out


def requirements(call: Call, now: float | None, rules: Rules = PLAIN) -> list[Mapping[str, int]]:
    """The skill sets any one of which makes an agent able to take the call now.

    `now` None: only the call's own requirement (no time-dependent policy).
    """
    base: Mapping[str, int] = call.required
    if now is None:
        return [base]
    qr = rules.of(call.queue)
    wait = waited(call, now)
    extras = {s: lvl for s, lvl in base.items() if s not in qr.skills}
    if qr.vip_expert_s > 0 and qr.skills and _is_vip(call) and wait < qr.vip_expert_s:
        experts = {s: max(lvl, qr.expert_level) for s, lvl in qr.skills.items()}
        return [_merge(base, experts)]
    alternatives = [base]
    for step in qr.expansions:
        if wait >= step.after_s:
            alternatives.append(_merge(extras, step.skills))
    return alternatives


def meets(agent: Agent, required: Mapping[str, int]) -> bool:
    skills = agent.skills
    return all(skills.get(skill, 0) >= level for skill, level in required.items())


def held_for(call: Call, now: float | None, rules: Rules,
             agents: Mapping[str, Agent] | None) -> str | None:
    """The agent the call is held for now (last-agent routing), or None."""
    if now is None or agents is None or not call.last_agent:
        return None
    qr = rules.of(call.queue)
    if qr.last_agent_s <= 0 or waited(call, now) >= qr.last_agent_s:
        return None
    agent = agents.get(call.last_agent)
    if agent is None or agent.state not in HOLD_STATES:
        return None
    if agent.queues and call.queue not in agent.queues:
        return None
    return agent.id


def next_change(call: Call, now: float, rules: Rules = PLAIN) -> float | None:
    """The next moment after `now` at which the call's policies change who may take it."""
    if call.entered_at is None:
        return None
    qr = rules.of(call.queue)
    marks = [step.after_s for step in qr.expansions]
    if qr.vip_expert_s > 0 and _is_vip(call):
        marks.append(qr.vip_expert_s)
    if qr.last_agent_s > 0 and call.last_agent:
        marks.append(qr.last_agent_s)
    due = [call.entered_at + m for m in marks if call.entered_at + m > now]
    return min(due) if due else None


@dataclass(frozen=True, slots=True)
class QueueStanding:
    """What the objective policy reads from the live figures of one queue."""

    sl_pct: float | None  # service level of the sliding window; None: no calls counted yet
    longest_wait_s: float  # of the calls waiting now
    threshold_s: float


def objective_offsets(rules: Rules, standing: Mapping[str, QueueStanding]) -> dict[str, float]:
    """Seconds added to the waits of each queue's calls (negative: the queue is ahead).

    The gap is target - SL in percentage points; a queue whose oldest caller already waits past
    the threshold counts as fully behind even when the window's SL still looks good (it is
    about to miss). Queues without the policy get no offset.
    """
    out: dict[str, float] = {}
    for queue, qr in rules.queues.items():
        st = standing.get(queue)
        if qr.objective_boost_s <= 0 or st is None:
            continue
        gap = 0.0 if st.sl_pct is None else qr.sl_target_pct - st.sl_pct
        if st.longest_wait_s > st.threshold_s:
            gap = max(gap, qr.objective_full_at_pp)
        share = max(-1.0, min(1.0, gap / qr.objective_full_at_pp))
        if share:
            out[queue] = qr.objective_boost_s * share
    return out


def rules_from_config(queues: Mapping[str, QueueConfig]) -> Rules:
    """The policies of every queue, as the config ([queues.NAME.routing]) sets them."""
    out: dict[str, QueueRules] = {}
    for name, qc in queues.items():
        r = qc.routing
        out[name] = QueueRules(
            skills=dict(qc.skills), priority_step_s=r.priority_step_s,
            expansions=tuple(Expansion(s.after_s, dict(s.skills)) for s in r.expand),
            vip_expert_s=r.vip_expert_s, expert_level=r.expert_level,
            last_agent_s=r.last_agent_s, objective_boost_s=r.objective_boost_s,
            objective_full_at_pp=r.objective_full_at_pp, sl_target_pct=qc.sla.target_pct)
    return Rules(queues=out)
