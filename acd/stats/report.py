"""The per-queue summary of a running (or finished) centre, read through the store."""

from __future__ import annotations

from typing import Any

from acd.config import Config
from acd.stats.summary import QueueTotals, summary, totals_by_queue
from acd.store import Store


async def all_events(store: Store) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    last = "0"
    while True:
        batch = await store.read_events(last, 5000)
        if not batch:
            return out
        out.extend(fields for _, fields in batch)
        last = batch[-1][0]


async def queue_summary(store: Store, cfg: Config) -> dict[str, Any]:
    thresholds = {name: q.sla.threshold_s for name, q in cfg.queues.items()}
    targets = {name: q.sla.target_pct / 100 for name, q in cfg.queues.items()}
    totals = totals_by_queue(await all_events(store), thresholds, cfg.short_abandon_s)
    for name in cfg.queues:
        totals.setdefault(name, QueueTotals())
    return summary(totals, thresholds, targets)
