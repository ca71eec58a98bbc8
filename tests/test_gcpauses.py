"""The collector's pauses are timed (acd/gcpauses.py) and shown at /metrics."""

from __future__ import annotations

import gc

from prometheus_client.parser import text_string_to_metric_families

from acd.gcpauses import GC_PAUSES, PAUSE_BUCKETS_S, GcPauses
from tests.test_api import api, auth


def test_every_collection_is_counted_once_in_its_generation() -> None:
    pauses = GcPauses()
    pauses.install()
    pauses.install()  # twice: still one hook
    try:
        before = pauses.copy()
        gc.collect()
        gc.collect(0)
        gc.collect(0)
    finally:
        pauses.uninstall()
    gc.collect()  # not counted: uninstalled
    got = pauses.since(before)
    assert got["gen2"]["collections"] == 1
    # (a young collection of the test's own may come too)
    assert got["gen0"]["collections"] >= 2
    assert got["gen2"]["pause_ms_total"] > 0
    assert got["gen2"]["longest_ms_at_most"] is not None
    assert got["gen1"]["longest_ms_at_most"] is None or got["gen1"]["collections"] > 0
    assert sum(pauses.buckets[2]) == 1


def test_a_long_pause_lands_in_its_bucket() -> None:
    pauses = GcPauses()
    before = pauses.copy()
    pauses._on_gc("start", {"generation": 2})
    pauses._started -= 0.03  # as if it had taken 30 ms
    pauses._on_gc("stop", {"generation": 2, "collected": 3})
    got = pauses.since(before)["gen2"]
    assert got["collections"] == 1 and got["over_10_ms"] == 1
    assert got["garbage_collected"] == 3
    assert got["longest_ms_at_most"] == 50.0  # the bucket (25 ms, 50 ms]
    buckets, total = pauses.histogram(2)
    assert [b for b, _ in buckets] == [*(str(b) for b in PAUSE_BUCKETS_S), "+Inf"]
    assert dict(buckets)["0.025"] == 0 and dict(buckets)["0.05"] == 1
    assert buckets[-1] == ("+Inf", 1.0) and total >= 0.03


async def test_metrics_show_the_pauses_of_the_api_process() -> None:
    GC_PAUSES.install()
    try:
        before = sum(GC_PAUSES.buckets[2])
        gc.collect()
        async with api() as client:
            resp = await client.get("/metrics", headers=auth("viewer"))
            text = await resp.text()
    finally:
        GC_PAUSES.uninstall()
    samples = {(s.name, s.labels.get("generation"), s.labels.get("le")): s.value
               for family in text_string_to_metric_families(text) for s in family.samples
               if s.name.startswith("acd_gc_pause_seconds")}
    assert samples[("acd_gc_pause_seconds_count", "2", None)] >= before + 1
    assert samples[("acd_gc_pause_seconds_bucket", "2", "+Inf")] == \
        samples[("acd_gc_pause_seconds_count", "2", None)]
    assert samples[("acd_gc_pause_seconds_sum", "2", None)] > 0

