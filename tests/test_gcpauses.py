"""How the process is doing: the collector's pauses (acd/gcpauses.py) and the event loop's
lag (acd/looplag.py), kept as histograms (acd/durations.py) and shown at /metrics."""

from __future__ import annotations

import gc
import time

from prometheus_client.parser import text_string_to_metric_families

from acd.durations import BOUNDS, Durations
from acd.gcpauses import GC_PAUSES, GcPauses
from acd.looplag import LOOP_LAG, LoopLag
from acd.testing.harness import wait_for
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
    assert sum(pauses.pauses[2].counts) == 1


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
    buckets, total = pauses.pauses[2].prometheus()
    assert [b for b, _ in buckets] == list(BOUNDS)
    assert dict(buckets)["0.025"] == 0 and dict(buckets)["0.05"] == 1
    assert buckets[-1] == ("+Inf", 1.0) and total >= 0.03


def test_durations_since_and_back_from_prometheus() -> None:
    d = Durations()
    for s in (0.0005, 0.003, 0.003, 0.2, 2.5):
        d.add(s)
    before = d.copy()
    d.add(0.012)
    assert d.since(before) == {"count": 1, "total_ms": 12.0, "longest_ms_at_most": 25.0,
                               "over_10_ms": 1}
    # an open last bucket: the longest known
    assert Durations().since(Durations()) == {"count": 0, "total_ms": 0.0,
                                              "longest_ms_at_most": None, "over_10_ms": 0}
    assert d.since(Durations())["longest_ms_at_most"] == 2500.0
    back = Durations.from_prometheus(dict(d.prometheus()[0]), d.total_s)
    assert back.counts == d.counts and back.total_s == d.total_s


async def test_a_held_loop_shows_as_lag() -> None:
    probe = LoopLag(interval_s=0.005)
    probe.start()
    try:
        await wait_for(lambda: sum(probe.lag.counts) >= 2, 5.0, "the first samples")
        before = probe.lag.copy()
        time.sleep(0.06)  # the loop held 60 ms
        await wait_for(lambda: sum(probe.lag.counts) > sum(before.counts), 5.0, "a sample")
    finally:
        probe.cancel()
    got = probe.lag.since(before)
    assert got["over_10_ms"] >= 1 and got["total_ms"] >= 40  # (a busy box: more, not less)


async def test_metrics_show_the_pauses_and_the_lag_of_the_api_process() -> None:
    GC_PAUSES.install()
    LOOP_LAG.start()
    try:
        before = sum(GC_PAUSES.pauses[2].counts)
        gc.collect()
        await wait_for(lambda: sum(LOOP_LAG.lag.counts) > 0, 5.0, "a loop-lag sample")
        async with api() as client:
            resp = await client.get("/metrics", headers=auth("viewer"))
            text = await resp.text()
    finally:
        GC_PAUSES.uninstall()
        LOOP_LAG.cancel()
    samples = {(s.name, s.labels.get("generation"), s.labels.get("le")): s.value
               for family in text_string_to_metric_families(text) for s in family.samples
               if s.name.startswith(("acd_gc_pause_seconds", "acd_event_loop_lag_seconds"))}
    assert samples[("acd_gc_pause_seconds_count", "2", None)] >= before + 1
    assert samples[("acd_gc_pause_seconds_bucket", "2", "+Inf")] == \
        samples[("acd_gc_pause_seconds_count", "2", None)]
    assert samples[("acd_gc_pause_seconds_sum", "2", None)] > 0
    assert samples[("acd_event_loop_lag_seconds_count", None, None)] >= 1
