"""Several PBXs (issue 6): one PBX's raw counts for a snapshot, and several PBXs' added up.
Pure; the inputs are never changed.

Each PBX keeps its own counters (its Redis keys carry its name). The merged figures are built
from the sum: queue counts added per queue (histograms bucket by bucket, so the service level
of the sum is exact, not an average of levels), agent counts per agent, the IVR funnel per flow
and node; then build_snapshot runs on the sum as on one PBX.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from acd.stats.raw import AgentCounts, FunnelCounts, QueueCounts
from acd.stats.schema import WINDOWS, WindowName


@dataclass(slots=True)
class RawFigures:
    """What build_snapshot needs from the store, for one PBX or several added up."""

    windows: dict[WindowName, dict[str, QueueCounts]] = field(
        default_factory=lambda: {w: {} for w in WINDOWS})  # window -> queue -> counts
    agents_today: dict[str, AgentCounts] = field(default_factory=dict)  # agent -> counts
    funnel_today: dict[str, FunnelCounts] = field(default_factory=dict)  # flow -> funnel


def add_queue_counts(parts: Iterable[Mapping[str, QueueCounts]]) -> dict[str, QueueCounts]:
    """queue -> counts, summed over the parts."""
    out: dict[str, QueueCounts] = {}
    for part in parts:
        for queue, counts in part.items():
            out.setdefault(queue, QueueCounts()).add(counts)
    return out


def add_intervals(parts: Iterable[Mapping[str, Mapping[int, QueueCounts]]]
                  ) -> dict[str, dict[int, QueueCounts]]:
    """queue -> interval start -> counts, summed over the parts (for the history)."""
    out: dict[str, dict[int, QueueCounts]] = {}
    for part in parts:
        for queue, by_start in part.items():
            mine = out.setdefault(queue, {})
            for start, counts in by_start.items():
                mine.setdefault(start, QueueCounts()).add(counts)
    return {q: dict(sorted(by_start.items())) for q, by_start in out.items()}


def add_agent_counts(parts: Iterable[Mapping[str, AgentCounts]]) -> dict[str, AgentCounts]:
    out: dict[str, AgentCounts] = {}
    for part in parts:
        for agent, counts in part.items():
            out.setdefault(agent, AgentCounts()).add(counts)
    return out


def add_funnels(parts: Iterable[Mapping[str, FunnelCounts]]) -> dict[str, FunnelCounts]:
    out: dict[str, FunnelCounts] = {}
    for part in parts:
        for flow, counts in part.items():
            add_funnel_counts(out.setdefault(flow, FunnelCounts()), counts)
    return out


def add_funnel_counts(mine: FunnelCounts, counts: FunnelCounts) -> None:
    """One flow's funnel added to another's."""
    for node, n in counts.reached.items():
        mine.reached[node] = mine.reached.get(node, 0) + n
    for mine_part, theirs in ((mine.left, counts.left), (mine.lookups, counts.lookups)):
        for node, exits in theirs.items():
            left = mine_part.setdefault(node, {})
            for exit_, n in exits.items():
                left[exit_] = left.get(exit_, 0) + n


def merge_raw(parts: Iterable[RawFigures]) -> RawFigures:
    """Several PBXs' counts added up."""
    items = list(parts)
    return RawFigures(
        windows={w: add_queue_counts(p.windows.get(w, {}) for p in items) for w in WINDOWS},
        agents_today=add_agent_counts(p.agents_today for p in items),
        funnel_today=add_funnels(p.funnel_today for p in items))
