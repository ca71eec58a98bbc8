"""The live figures snapshot and the history rows, from raw counts and live state. Pure:
no I/O and no clock, `now` is passed in. Definitions: METRICS.md; histogram reading rules:
fig_window.py; agent rules (serving a queue, running state, occupancy): fig_agents.py;
EWT model: ewt.py.

Per queue: calls waiting now, the longest wait now, the EWT of the next caller, agent counts of
the agents serving the queue, the 15m / 60m / today windows, and today's occupancy of those
agents. The centre (name "*") is every configured queue added up (fig_window.
centre_window_figures), every agent, and the largest EWT of its queues (the worst wait a new
caller may get). Queues that are not in the config (any more) are left out, of the centre too.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from acd.config import Config, QueueConfig
from acd.core.model import Agent, Call, CallState
from acd.core.routing import call_key
from acd.core.serving import QueueMembership, membership_of
from acd.core.steps import ITEMS_PER_STEP, QUEUES_PER_STEP, ROWS_PER_STEP, chunks, run_steps
from acd.stats.ewt_queues import probe_ewts
from acd.stats.fig_agents import (
    agent_counts_view,
    agent_figures,
    agent_survey_counts,
    load,
    occupancy_of_loads,
    sum_counts,
    survey_by_agent_index,
    todays,
)
from acd.stats.fig_window import (
    blended_target_pct,
    centre_window_steps,
    common_threshold,
    survey_figures,
    window_figures,
)
from acd.stats.raw import INTERVAL_S, AgentCounts, FunnelCounts, QueueCounts
from acd.stats.schema import (
    WINDOWS,
    AgentCountsView,
    AgentFigures,
    CallView,
    FunnelNode,
    HistoryInterval,
    QueueFigures,
    Snapshot,
    WindowFigures,
    WindowName,
)
from acd.stats.staffing import agents_needed_now, agents_short_now
from acd.stats.timewin import local_midnight

__all__ = ["build_snapshot", "dump_steps", "history_rows", "membership_of", "run_steps",
           "snapshot_steps", "window_figures"]

Windows = Mapping[WindowName, Mapping[str, QueueCounts]]
SHOWN_CALL_STATES = (CallState.WAITING, CallState.RINGING, CallState.CONNECTED)


def _counts(windows: Windows, window: WindowName, queue: str) -> QueueCounts:
    return windows.get(window, {}).get(queue) or QueueCounts()




def _centre(cfg: Config, agents: Sequence[Agent], windows: Windows,
            loads: Mapping[str, tuple[float, float]],
            waiting: Waiting, queues: Sequence[QueueFigures]
            ) -> Generator[None, None, QueueFigures]:
    """Every configured queue's counts added up; the calls waiting in any queue; every agent
    (`loads`: each agent's load(), as the queues' figures used them)."""
    slas = [q.sla for q in cfg.queues.values()]
    figs: dict[WindowName, WindowFigures] = {}
    for w in WINDOWS:
        figs[w] = yield from centre_window_steps(
            [(_counts(windows, w, name), q.sla) for name, q in cfg.queues.items()],
            cfg.short_abandon_s)
    counts: list[AgentCountsView] = []
    busy = idle = 0.0
    for part in chunks(agents, ITEMS_PER_STEP):
        counts.append(agent_counts_view(part))
        for a in part:
            a_busy, a_idle = loads[a.id]
            busy, idle = busy + a_busy, idle + a_idle
        yield
    ewts = [q.ewt_s for q in queues if q.ewt_s is not None]
    offered_today = [_counts(windows, "today", name).offered for name in cfg.queues]
    return QueueFigures(
        name="*", waiting=sum(len(calls) for calls in waiting.by_queue.values()),
        callbacks_waiting=sum(q.callbacks_waiting for q in queues),
        longest_wait_s=max(waiting.longest_s.values(), default=0.0),
        ewt_s=max(ewts, default=None), agents=sum_counts(counts),
        target_pct=blended_target_pct(slas, offered_today), threshold_s=common_threshold(slas),
        windows=figs, occupancy=occupancy_of_loads([(busy, idle)]))


def call_views(calls: Sequence[Call], now: float) -> list[CallView]:
    """Calls waiting, ringing or connected, by queue; the waiting ones first, in routing order
    (priority, then queue entry), with their 1-based position among the queue's waiting calls
    of the same PBX (each PBX's callers are answered by its own agents only)."""
    return run_steps(call_view_steps(calls, now))


def call_view_steps(calls: Sequence[Call], now: float) -> Generator[None, None, list[CallView]]:
    # Sorted by (queue, state, routing order) one queue at a time: ten thousand calls sorted
    # at once was one step of several ms.
    by_queue: dict[str, list[Call]] = {}
    for i, c in enumerate(calls):
        if c.state in SHOWN_CALL_STATES:
            by_queue.setdefault(c.queue, []).append(c)
        if i % ITEMS_PER_STEP == ITEMS_PER_STEP - 1:
            yield
    rank = {state: i for i, state in enumerate(SHOWN_CALL_STATES)}
    shown: list[Call] = []
    for queue in sorted(by_queue):
        shown += sorted(by_queue[queue], key=lambda c: (rank[c.state], call_key(c)))
        yield
    out: list[CallView] = []
    position: dict[tuple[str, str], int] = {}
    for c in shown:
        place: int | None = None
        if c.state is CallState.WAITING:
            place = position[c.pbx, c.queue] = position.get((c.pbx, c.queue), 0) + 1
        out.append(CallView(id=c.id, pbx=c.pbx, state=c.state.value, queue=c.queue,
                            priority=c.priority, vip=c.vip, caller_num=c.caller_num,
                            language=c.language, wait_s=c.wait_s(now), agent_id=c.agent_id,
                            position=place, reason=c.reason, transfers=len(c.transfers)))
        if len(out) % ITEMS_PER_STEP == 0:
            yield
    return out


def funnel_nodes(cfg: Config, funnel_today: Mapping[str, FunnelCounts]
                 ) -> dict[str, dict[str, FunnelNode]]:
    """flow -> node -> reached / left by exit: every configured node (0 when not reached yet),
    and any other node or flow the counts name (removed from the config since)."""
    return run_steps(funnel_node_steps(cfg, funnel_today))


def funnel_node_steps(cfg: Config, funnel_today: Mapping[str, FunnelCounts]
                      ) -> Generator[None, None, dict[str, dict[str, FunnelNode]]]:
    """funnel_nodes in steps of QUEUES_PER_STEP flows (a big centre has a flow per queue:
    1,000 flows' nodes made at once were a step of ~10 ms)."""
    out: dict[str, dict[str, FunnelNode]] = {}
    flows = [*cfg.flows, *(f for f in funnel_today if f not in cfg.flows)]
    for i, flow in enumerate(flows):
        if i % QUEUES_PER_STEP == QUEUES_PER_STEP - 1:
            yield
        counts = funnel_today.get(flow) or FunnelCounts()
        names = list(cfg.flows[flow].nodes) if flow in cfg.flows else []
        names += [n for n in [*counts.reached, *counts.left, *counts.lookups]
                  if n not in names]
        out[flow] = {n: FunnelNode(reached=counts.reached.get(n, 0),
                                   left=dict(counts.left.get(n, {})),
                                   lookups=dict(counts.lookups.get(n, {})))
                     for n in names}
    return out


def build_snapshot(cfg: Config, now: float, calls: Sequence[Call], agents: Sequence[Agent],
                   windows: Mapping[WindowName, Mapping[str, QueueCounts]],
                   agents_today: Mapping[str, AgentCounts],
                   funnel_today: Mapping[str, FunnelCounts], *,
                   agent_pbx: Mapping[str, str] | None = None,
                   membership: QueueMembership | None = None) -> Snapshot:
    """Every live figure at `now`. `windows` maps "15m", "60m", "today" to counts by queue;
    `agents_today` holds each agent's finished spans since local midnight (by agent id);
    `funnel_today` the IVR funnel since local midnight (by flow). Missing counts are zeros.

    Several PBXs (fig_merge.py): with the full config, every PBX's calls and agents and the
    counts of every PBX added up, these are the merged figures; with `cfg.for_pbx(name)` and one
    PBX's, that PBX's. `agent_pbx` names each agent's PBX (default: from the config);
    `membership`: membership_of(cfg), kept from one snapshot to the next."""
    return run_steps(snapshot_steps(cfg, now, calls, agents, windows, agents_today,
                                    funnel_today, agent_pbx=agent_pbx, membership=membership))


@dataclass
class Waiting:
    """The calls waiting, by queue (any queue, configured or not), with the longest wait now
    of each queue that has one; and the callbacks keeping a place (waiting or between
    attempts) by queue."""

    by_queue: dict[str, list[Call]] = field(default_factory=dict)
    longest_s: dict[str, float] = field(default_factory=dict)
    callbacks: dict[str, int] = field(default_factory=dict)


def _waiting_steps(calls: Sequence[Call], now: float) -> Generator[None, None, Waiting]:
    out = Waiting()
    for i, call in enumerate(calls):
        q = call.queue
        if call.state is CallState.WAITING:
            out.by_queue.setdefault(q, []).append(call)
            if call.entered_at is not None:
                out.longest_s[q] = max(out.longest_s.get(q, 0.0), now - call.entered_at)
        if call.callback and call.state in (CallState.WAITING, CallState.SCHEDULED):
            out.callbacks[q] = out.callbacks.get(q, 0) + 1
        if i % ITEMS_PER_STEP == ITEMS_PER_STEP - 1:
            yield
    return out


def snapshot_steps(cfg: Config, now: float, calls: Sequence[Call], agents: Sequence[Agent],
                   windows: Mapping[WindowName, Mapping[str, QueueCounts]],
                   agents_today: Mapping[str, AgentCounts],
                   funnel_today: Mapping[str, FunnelCounts], *,
                   agent_pbx: Mapping[str, str] | None = None,
                   membership: QueueMembership | None = None
                   ) -> Generator[None, None, Snapshot]:
    """build_snapshot in small steps: it yields after every few agents, calls or queues, so
    that a service can let routing run in between (a big centre's snapshot is hundreds of
    milliseconds of work); the generator's return value is the snapshot. The inputs must not
    change meanwhile (the service passes lists of its immutable calls and agents)."""
    where = agent_pbx if agent_pbx is not None else {}
    member = membership if membership is not None else membership_of(cfg)
    midnight = local_midnight(now, cfg.timezone)
    today: dict[str, AgentCounts] = {}
    for part in chunks(agents, ITEMS_PER_STEP):
        today.update(todays(part, agents_today, now, midnight))
        yield
    serving = yield from member.by_queue_steps(agents)
    yield
    waiting = yield from _waiting_steps(calls, now)
    figs: dict[str, dict[WindowName, WindowFigures]] = {}
    for name, qcfg in cfg.queues.items():
        figs[name] = {w: window_figures(_counts(windows, w, name), qcfg.sla, cfg.short_abandon_s)
                      for w in WINDOWS}
        yield
    ewts = yield from probe_ewts(
        {name: (qcfg.skills, figs[name]["today"].aht_s, qcfg.wrapup_s)
         for name, qcfg in cfg.queues.items()}, now, calls, agents, serving)
    loads: dict[str, tuple[float, float]] = {}
    for i, (aid, spans) in enumerate(today.items()):
        loads[aid] = load(spans)
        if i % ITEMS_PER_STEP == ITEMS_PER_STEP - 1:
            yield
    queues: list[QueueFigures] = []
    # what depends only on the serving agents, once per list (by_queue shares equal lists)
    of_group: dict[int, tuple[AgentCountsView, float | None]] = {}
    for name, qcfg in cfg.queues.items():
        group = serving[name]
        known = of_group.get(id(group))
        if known is None:
            known = of_group[id(group)] = (
                agent_counts_view(group), occupancy_of_loads(loads[a.id] for a in group))
        counts, occupancy = known
        needed = agents_needed_now(qcfg.sla, figs[name]["60m"], figs[name]["today"])
        queues.append(QueueFigures(
            name=name, waiting=len(waiting.by_queue.get(name, ())),
            callbacks_waiting=waiting.callbacks.get(name, 0),
            longest_wait_s=waiting.longest_s.get(name, 0.0),
            ewt_s=ewts[name], agents=counts,
            target_pct=qcfg.sla.target_pct, threshold_s=qcfg.sla.threshold_s,
            windows=figs[name],
            occupancy=occupancy,
            agents_needed_now=needed, agents_short_now=agents_short_now(needed, counts.logged_in)))
        yield
    centre = yield from _centre(cfg, agents, windows, loads, waiting, queues)
    rows: list[AgentFigures] = []
    surveys = survey_by_agent_index(windows)
    yield
    for a in agents:
        rows.append(agent_figures(
            member.queues_of(a), a, today[a.id], now, where.get(a.id) or cfg.agent_pbx(a.id),
            {w: survey_figures(c) for w, c in
             agent_survey_counts(windows, a.id, today[a.id], surveys).items()}))
        if len(rows) % ROWS_PER_STEP == 0:
            yield
    views = yield from call_view_steps(calls, now)
    funnel = yield from funnel_node_steps(cfg, funnel_today)
    yield
    return Snapshot(
        generated_at=now, timezone=cfg.timezone, pbxs=cfg.pbx_names(), centre=centre,
        queues=queues, agents=rows, calls=views, ivr_funnel=funnel)


_LISTS = ("queues", "agents", "calls")


def dump_steps(snap: Snapshot) -> Generator[None, None, dict[str, Any]]:
    """snap.model_dump(mode="json") in steps (a few list items at a time)."""
    head = snap.model_dump(mode="json", exclude={*_LISTS, "centre", "ivr_funnel"})
    yield
    head["centre"] = snap.centre.model_dump(mode="json")
    yield
    funnel: dict[str, dict[str, Any]] = {}
    for flow, nodes in snap.ivr_funnel.items():  # (a flow per queue, in a big centre)
        funnel[flow] = {node: n.model_dump(mode="json") for node, n in nodes.items()}
        yield
    head["ivr_funnel"] = funnel
    parts: dict[str, list[dict[str, Any]]] = {}
    for name in _LISTS:
        items: list[BaseModel] = getattr(snap, name)
        out = parts[name] = []
        for i, item in enumerate(items):
            out.append(item.model_dump(mode="json"))
            if i % ROWS_PER_STEP == ROWS_PER_STEP - 1:
                yield
    return {name: parts[name] if name in parts else head[name] for name in Snapshot.model_fields}


def history_rows(cfg: Config, per_queue_intervals: Mapping[str, Mapping[int, QueueCounts]]
                 ) -> list[HistoryInterval]:
    """One row per queue and 15-minute interval (keyed by its start, Unix seconds), oldest
    first, then in config order; a queue no longer configured is shown with the default SLA."""
    order = {name: i for i, name in enumerate(cfg.queues)}
    rows: list[tuple[int, int, str, HistoryInterval]] = []
    for queue, by_start in per_queue_intervals.items():
        qcfg = cfg.queues.get(queue) or QueueConfig()
        for start, counts in by_start.items():
            figs = window_figures(counts, qcfg.sla, cfg.short_abandon_s)
            row = HistoryInterval(queue=queue, start=float(start),
                                  end=float(start + INTERVAL_S), figures=figs)
            rows.append((start, order.get(queue, len(order)), queue, row))
    rows.sort(key=lambda r: r[:3])
    return [r[3] for r in rows]
