"""Today's per-queue figures of a running (or finished) centre, read through the store: what
`acd summary` and `acd demo` print."""

from __future__ import annotations

from typing import Any

from acd.config import Config
from acd.stats.figures import window_figures
from acd.stats.raw import summed
from acd.stats.timewin import local_midnight
from acd.store import Store


async def queue_summary(store: Store, cfg: Config, now: float) -> dict[str, Any]:
    """Per queue since local midnight: offered, answered, abandoned, service level, ASA..."""
    queues = list(cfg.queues)
    intervals = await store.queue_intervals(queues, local_midnight(now, cfg.timezone), now + 1)
    out: dict[str, Any] = {}
    for name in queues:
        total = summed(intervals.get(name, {}).values())
        fig = window_figures(total, cfg.queues[name].sla, cfg.short_abandon_s)
        out[name] = fig.model_dump(mode="json")
    return out
