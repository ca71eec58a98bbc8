"""What a run counts, and where each caller's figures go.

A counted caller adds to several raw counts (acd.stats.raw.QueueCounts) at once: its queue's,
its VIP class's, its mix segment's and its batch's (BATCHES batches of the counted calls in
arrival order, for the confidence intervals of results.py); every caller, counted or not, also
adds to its queue's running counts that the Decider hands to routing policies. A `Segment` is a
kind of caller of one queue (mix segment x VIP class) with the counts it adds to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from acd.config import QueueConfig
from acd.core.model import PRIORITY_NORMAL
from acd.simulate.scenario import Scenario, TrafficConfig
from acd.stats.raw import QueueCounts

if TYPE_CHECKING:
    from acd.simulate.engine import SimAgent

BATCHES = 20  # the counted calls, in arrival order, in this many batches (results.py: CI)


@dataclass(slots=True)
class Segment:
    """Callers of one queue alike: their required skills, priority and where they count."""

    required: dict[str, int]
    priority: int
    vip: bool
    tallies: tuple[QueueCounts, ...]


@dataclass
class Tally:
    """What a run counted (measured calls and agent time inside the span)."""

    queues: dict[str, QueueCounts]
    batches: dict[str, list[QueueCounts]]  # queue -> the counts of each batch of arrivals
    classes: dict[str, dict[str, QueueCounts]]  # queue -> vip / normal -> counts
    mixes: dict[str, dict[str, QueueCounts]]  # queue -> mix label -> counts
    longest_wait_s: dict[str, float]
    max_waiting: dict[str, int]
    agents: list[SimAgent]
    max_waiting_all: int = 0  # in all queues together
    span: tuple[float, float] = (0.0, 0.0)
    calls_simulated: int = 0
    events: int = 0


def new_tally(sc: Scenario) -> Tally:
    classes: dict[str, dict[str, QueueCounts]] = {}
    mixes: dict[str, dict[str, QueueCounts]] = {}
    for q, t in sc.traffic.items():
        if t.vip_share > 0:
            classes[q] = {"vip": QueueCounts(), "normal": QueueCounts()}
        if t.mix:
            mixes[q] = {m.label: QueueCounts() for m in t.mix}
            if sum(m.share for m in t.mix) < 1 - 1e-9:
                mixes[q]["other"] = QueueCounts()
    return Tally(queues={q: QueueCounts() for q in sc.queues},
                 batches={q: [QueueCounts() for _ in range(BATCHES)] for q in sc.queues},
                 classes=classes, mixes=mixes,
                 longest_wait_s=dict.fromkeys(sc.queues, 0.0),
                 max_waiting=dict.fromkeys(sc.queues, 0), agents=[])


def segments_of(q: str, qcfg: QueueConfig, t: TrafficConfig, tally: Tally
              ) -> list[tuple[float, Segment]]:
    """Every (mix segment x VIP class) of a queue's callers, with its cumulative share."""
    mixes = [(m.share, m.label, m.skills) for m in t.mix]
    rest = 1.0 - sum(m.share for m in t.mix)
    if rest > 1e-9:
        mixes.append((rest, "other", {}))
    classes = [(t.vip_share, "vip", t.vip_priority), (1 - t.vip_share, "normal",
                                                       PRIORITY_NORMAL)]
    out: list[tuple[float, Segment]] = []
    total = 0.0
    for share, label, skills in mixes:
        for cshare, cname, priority in classes:
            if cshare <= 0:
                continue
            total += share * cshare
            counts = [tally.queues[q]]
            if q in tally.classes:
                counts.append(tally.classes[q][cname])
            if q in tally.mixes:
                counts.append(tally.mixes[q][label])
            required = dict(qcfg.skills)
            for skill, level in skills.items():  # the stricter of the queue's and the mix's
                required[skill] = max(level, required.get(skill, 0))
            out.append((total, Segment(required, priority, cname == "vip", tuple(counts))))
    out[-1] = (1.0, out[-1][1])  # rounding: the last segment takes what is left
    return out
