"""Agent figures: who serves which queue, states, today's time and occupancy. Pure.

An agent serves a queue when its `queues` list is empty or names the queue AND it holds every
skill the queue requires (QueueConfig.skills) at the minimum level: routing.serves applied to a
probe call of the queue (acd.core.serving finds them without testing every pair). Today's
counts from the store hold finished spans only; the span of the agent's current state
(now - state_since, cut at local midnight) is added to the matching bucket: ready -> ready_s,
on a call -> talk_s, wrap-up -> wrapup_s, reserved -> ringing_s, not ready -> not_ready_s
(logged out counts nowhere).

Occupancy (METRICS.md) = (talk + wrap-up) / (talk + wrap-up + ready idle), None before any.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from acd.config import QueueConfig
from acd.core.model import Agent, AgentState, Call, CallState
from acd.stats.raw import AgentCounts, QueueCounts, SurveyCounts
from acd.stats.schema import AgentCountsView, AgentFigures, SurveyFigures, WindowName

PROBE_ID = "~next"  # id of the probe call: a caller about to enter a queue


def probe_call(queue: str, qcfg: QueueConfig, entered_at: float = 0.0) -> Call:
    """A waiting call of `queue` with the queue's required skills and no extra ones."""
    return Call(id=PROBE_ID, channel="", uniqueid="", caller_num="", dnis="",
                state=CallState.WAITING, queue=queue, required=dict(qcfg.skills),
                entered_at=entered_at)


def today_with_running(agent: Agent, counts: AgentCounts | None, now: float,
                       midnight: float) -> AgentCounts:
    """A copy of the agent's counts since midnight, plus the running span of its state."""
    out = AgentCounts()
    if counts is not None:
        out.add(counts)
    running = max(0.0, now - max(agent.state_since, midnight))
    match agent.state:
        case AgentState.READY:
            out.ready_s += running
        case AgentState.ON_CALL:
            out.talk_s += running
        case AgentState.WRAP_UP:
            out.wrapup_s += running
        case AgentState.RESERVED:
            out.ringing_s += running
        case AgentState.NOT_READY:
            out.not_ready_s += running
        case AgentState.LOGGED_OUT:
            pass
    return out


def occupancy(counts: Iterable[AgentCounts]) -> float | None:
    """(talk + wrap-up) / (talk + wrap-up + ready) over the given agents' counts."""
    return occupancy_of_loads(load(c) for c in counts)


def load(counts: AgentCounts) -> tuple[float, float]:
    """An agent's (talk + wrap-up, ready) seconds: what occupancy adds up."""
    return counts.talk_s + counts.wrapup_s, counts.ready_s


def occupancy_of_loads(loads: Iterable[tuple[float, float]]) -> float | None:
    """occupancy() of agents given by their load() (worked out once per agent, for a snapshot
    that adds the same agents up for every queue they serve)."""
    busy = idle = 0.0
    for b, i in loads:
        busy += b
        idle += i
    return busy / (busy + idle) if busy + idle > 0 else None


def agent_counts_view(agents: Iterable[Agent]) -> AgentCountsView:
    by_state = Counter(a.state for a in agents)
    return AgentCountsView(
        logged_in=sum(n for s, n in by_state.items() if s is not AgentState.LOGGED_OUT),
        ready=by_state[AgentState.READY], reserved=by_state[AgentState.RESERVED],
        on_call=by_state[AgentState.ON_CALL], wrap_up=by_state[AgentState.WRAP_UP],
        not_ready=by_state[AgentState.NOT_READY])


def sum_counts(parts: Iterable[AgentCountsView]) -> AgentCountsView:
    """The counts of several groups of agents added up (agent_counts_view of them all)."""
    parts = list(parts)
    return AgentCountsView(**{field: sum(getattr(p, field) for p in parts)
                              for field in AgentCountsView.model_fields})


def agent_figures(queues: Iterable[str], agent: Agent, today: AgentCounts,
                  now: float, pbx: str = "",
                  survey: Mapping[WindowName, SurveyFigures] | None = None) -> AgentFigures:
    """One agent as the snapshot shows it; `queues`: the queues it serves (in config order,
    acd.core.serving), `today` already holds the running span; `pbx`: the PBX its phone is
    on; `survey`: the survey answers about its calls by window."""
    return AgentFigures(
        id=agent.id, pbx=pbx, name=agent.name, interface=agent.interface, state=agent.state.value,
        reason=agent.reason, time_in_state_s=max(0.0, now - agent.state_since),
        call_id=agent.call_id,
        queues=list(queues),
        calls_handled_today=today.handled, talk_s_today=today.talk_s,
        wrapup_s_today=today.wrapup_s, occupancy_today=occupancy([today]),
        repeats_today=today.repeats,
        fcr_proxy_today=(None if not today.handled
                         else 1.0 - min(1.0, today.repeats / today.handled)),
        survey=dict(survey or {}))


def agent_survey_counts(windows: Mapping[WindowName, Mapping[str, QueueCounts]], agent_id: str,
                        today: AgentCounts,
                        by_agent: Mapping[WindowName, Mapping[str, SurveyCounts]] | None = None
                        ) -> dict[WindowName, SurveyCounts]:
    """An agent's survey answers per window: the sliding windows from the queues' recent facts
    (QueueCounts.survey_by_agent, every queue added up), today from its own counts.
    `by_agent`: survey_by_agent_index(windows), made once for every agent of a snapshot."""
    index = survey_by_agent_index(windows) if by_agent is None else by_agent
    out: dict[WindowName, SurveyCounts] = {"today": today.survey}
    for window in SLIDING:
        total = SurveyCounts()
        mine = index.get(window, {}).get(agent_id)
        if mine is not None:
            total.add(mine)
        out[window] = total
    return out


SLIDING: tuple[WindowName, ...] = ("15m", "60m")


def survey_by_agent_index(windows: Mapping[WindowName, Mapping[str, QueueCounts]]
                          ) -> dict[WindowName, dict[str, SurveyCounts]]:
    """window -> agent -> survey answers over every queue: one pass over the queues, not one
    per agent (5,000 agents x 1,000 queues was most of a big centre's snapshot)."""
    out: dict[WindowName, dict[str, SurveyCounts]] = {}
    for window in SLIDING:
        per_agent = out[window] = {}
        for counts in windows.get(window, {}).values():
            for agent_id, answers in counts.survey_by_agent.items():
                per_agent.setdefault(agent_id, SurveyCounts()).add(answers)
    return out


def todays(agents: Iterable[Agent], agents_today: Mapping[str, AgentCounts], now: float,
           midnight: float) -> dict[str, AgentCounts]:
    """Every live agent's counts since midnight, running span included, by agent id."""
    return {a.id: today_with_running(a, agents_today.get(a.id), now, midnight) for a in agents}
