"""A run's figures, from its raw counts, by the service's own functions: window_figures (each
queue's service level formula and threshold, ASA, abandon rate, AHT), centre_window_figures
(the centre), fig_agents.occupancy, and serves_queue below (who serves a queue); and the Erlang C
prediction (acd.stats.erlang) beside each queue for which the theory applies.

Erlang C applies to a queue whose agents (those holding its skills) serve no other queue with
traffic and can each take every caller of the queue (no mix segment needs a skill some of them
lack): then it is one pool of c agents in front of one stream of callers. The handle time h is
the mean talk + the queue's wrap-up + the mean ring time (the agent is held during all three).
The prediction assumes Poisson arrivals, exponential handle times, FIFO and patient callers;
with other distributions or impatient callers it is a reference, not an expectation.

How sure a figure is: the counted calls are cut, in arrival order, into BATCHES batches, and the
95 % confidence half-width of SL and ASA comes from the spread of the batch figures (the batch
means method: waits of neighbouring callers are correlated, single calls are not independent
samples). Near full occupancy the queue drifts slowly and a run needs many calls for a tight
figure: compare two runs (with and without a policy) by these half-widths, not by eye.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from acd.config import QueueConfig
from acd.core.model import Agent
from acd.simulate.engine import SimAgent
from acd.simulate.scenario import Scenario
from acd.simulate.tally import BATCHES, Tally
from acd.stats import erlang
from acd.stats.fig_agents import occupancy
from acd.stats.fig_window import centre_window_figures, window_figures
from acd.stats.raw import QueueCounts
from acd.stats.schema import WindowFigures


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErlangPrediction(_Out):
    agents: int = Field(description="the queue's pool of agents")
    load_erl: float = Field(description="offered load: calls per second x handle time")
    aht_s: float = Field(description="mean talk + wrap-up + ring")
    service_level: float = Field(description="answered within the queue's threshold (share)")
    asa_s: float | None = Field(description="null when the pool is too small (unstable)")
    p_wait: float
    occupancy: float
    agents_needed: int = Field(description="for the queue's target")


class QueueResult(_Out):
    name: str
    figures: WindowFigures
    occupancy: float | None = Field(description="of the agents serving the queue, in the span")
    longest_wait_s: float = Field(description="of a counted call, whatever its outcome")
    max_waiting: int = Field(description="most callers waiting at once in the span")
    sl_ci95: float | None = Field(description="95 % confidence half-width of the service "
                                  "level (share), by batch means")
    asa_ci95_s: float | None = Field(description="95 % confidence half-width of the ASA")
    classes: dict[str, WindowFigures] = Field(description="vip / normal (when some are VIP)")
    mix: dict[str, WindowFigures] = Field(description="per mix segment (when there is a mix)")
    erlang_c: ErlangPrediction | None = Field(description="when the theory applies")


class RunResult(_Out):
    scenario: str
    seed: int
    warmup_s: float
    span_s: float = Field(description="the measured span: counted calls arrived in it")
    calls_simulated: int = Field(description="warm-up and drain included")
    agents: int
    centre: QueueResult
    queues: list[QueueResult]
    notes: list[str] = Field(description="what may make the figures surprising (callers no "
                             "agent can take, calls still waiting at the end)")


# Student's t, two-sided 95 %, by degrees of freedom (batches - 1)
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
        17: 2.110, 18: 2.101, 19: 2.093}


def serves_queue(agent: Agent, queue: str, qcfg: QueueConfig) -> bool:
    """acd.core.routing.serves for a call with only the queue's own skills (the queue's
    membership rule, as acd.core.serving answers it for the live figures)."""
    if agent.queues and queue not in agent.queues:
        return False
    return all(agent.skills.get(skill, 0) >= level for skill, level in qcfg.skills.items())


def ci95(values: Sequence[float | None]) -> float | None:
    """Half-width of the 95 % confidence interval of the mean of batch figures (None ones,
    batches with nothing to count, are left out); None with fewer than two batches."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    if len(known) < 2:
        return None
    return _T95.get(len(known) - 1, 1.96) * statistics.stdev(known) / math.sqrt(len(known))


def _spread(batches: Sequence[WindowFigures]) -> tuple[float | None, float | None]:
    return (ci95([b.service_level.value for b in batches]), ci95([b.asa_s for b in batches]))


def _pool(sc: Scenario, queue: str, agents: list[SimAgent]) -> list[SimAgent]:
    qcfg = sc.queues[queue]
    return [a for a in agents if serves_queue(a, queue, qcfg)]


def _erlang_applies(sc: Scenario, queue: str, pool: list[SimAgent]) -> bool:
    if queue not in sc.traffic:
        return False
    for other in sc.traffic:
        if other != queue and any(serves_queue(a, other, sc.queues[other]) for a in pool):
            return False
    return all(a.skills.get(s, 0) >= lvl
               for m in sc.traffic[queue].mix for s, lvl in m.skills.items() for a in pool)


def _probe(skills: dict[str, int], queues: list[str]) -> Agent:
    """An agent of a roster, to ask which queues the roster serves."""
    return Agent(id="", interface="", skills=skills, queues=tuple(queues))


def predict(sc: Scenario, queue: str, agents: int) -> ErlangPrediction:
    """Erlang C for the queue's traffic and `agents` agents."""
    qcfg, traffic = sc.queues[queue], sc.traffic[queue]
    rings = [(r.ring.mean, r.count) for r in sc.roster
             if r.count and serves_queue(_probe(r.skills, r.queues), queue, qcfg)]
    staff = sum(n for _, n in rings)
    ring_s = sum(m * n for m, n in rings) / staff if staff else 0.0
    aht = traffic.talk.mean + qcfg.wrapup_s + ring_s
    s = erlang.staffing(traffic.calls_per_hour, aht, qcfg.sla.target_pct,
                        qcfg.sla.threshold_s, agents)
    return ErlangPrediction(agents=agents, load_erl=s.load_erl, aht_s=aht,
                            service_level=s.service_level,
                            asa_s=s.asa_s if s.asa_s != float("inf") else None,
                            p_wait=s.p_wait, occupancy=s.occupancy,
                            agents_needed=s.agents_needed)


def _queue(sc: Scenario, tally: Tally, queue: str) -> QueueResult:
    qcfg = sc.queues[queue]
    pool = _pool(sc, queue, tally.agents)

    def figs(counts: QueueCounts) -> WindowFigures:
        return window_figures(counts, qcfg.sla, sc.short_abandon_s)

    sl_ci, asa_ci = _spread([figs(b) for b in tally.batches[queue]])
    return QueueResult(
        name=queue, figures=figs(tally.queues[queue]),
        occupancy=occupancy(a.time for a in pool),
        longest_wait_s=tally.longest_wait_s[queue], max_waiting=tally.max_waiting[queue],
        sl_ci95=sl_ci, asa_ci95_s=asa_ci,
        classes={k: figs(v) for k, v in tally.classes.get(queue, {}).items()},
        mix={k: figs(v) for k, v in tally.mixes.get(queue, {}).items()},
        erlang_c=predict(sc, queue, len(pool)) if _erlang_applies(sc, queue, pool) else None)


def notes(sc: Scenario, agents: list[SimAgent], queues: list[QueueResult]) -> list[str]:
    out: list[str] = []
    for q in queues:
        traffic = sc.traffic.get(q.name)
        if traffic is None:
            continue
        pool = _pool(sc, q.name, agents)
        if not pool:
            out.append(f"{q.name}: no agent serves this queue: its callers can only abandon "
                       "or time out")
        for m in traffic.mix:
            if pool and not any(all(a.skills.get(k, 0) >= lvl for k, lvl in m.skills.items())
                                for a in pool):
                out.append(f"{q.name}: no agent of the queue holds the skills of mix "
                           f"{m.label!r}: those callers can only abandon or time out")
        f = q.figures
        left = f.offered - f.answered - f.abandoned - f.timed_out
        if left:
            out.append(f"{q.name}: {left:,} counted calls were still waiting when the run "
                       "ended (patient callers no agent could take)")
    return out


def results(sc: Scenario, tally: Tally, name: str, seed: int) -> RunResult:
    queues = [_queue(sc, tally, q) for q in sc.queues]

    def centre_figs(pick: Callable[[str], QueueCounts]) -> WindowFigures:
        return centre_window_figures([(pick(q), sc.queues[q].sla) for q in sc.queues],
                                     sc.short_abandon_s)

    def batch(b: int) -> Callable[[str], QueueCounts]:
        return lambda q: tally.batches[q][b]

    sl_ci, asa_ci = _spread([centre_figs(batch(b)) for b in range(BATCHES)])
    centre = QueueResult(
        name="*", figures=centre_figs(lambda q: tally.queues[q]),
        occupancy=occupancy(a.time for a in tally.agents),
        longest_wait_s=max((q.longest_wait_s for q in queues), default=0.0),
        max_waiting=tally.max_waiting_all, sl_ci95=sl_ci, asa_ci95_s=asa_ci, classes={},
        mix={}, erlang_c=None)
    start, end = tally.span
    return RunResult(scenario=name, seed=seed, warmup_s=sc.warmup_s, span_s=end - start,
                     calls_simulated=tally.calls_simulated, agents=len(tally.agents),
                     centre=centre, queues=queues, notes=notes(sc, tally.agents, queues))
