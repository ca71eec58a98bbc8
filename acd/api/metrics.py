"""`GET /metrics`: the snapshot's figures in the Prometheus text format.

prometheus-client rather than a hand-written exposition: it escapes label values, negotiates
OpenMetrics from the Accept header, and its parser lets the tests check the output. The
collector reads the latest snapshot at scrape time (nothing is recomputed, nothing is kept).
Window figures (15m, 60m, today) are gauges: they slide or reset at midnight, so they are not
Prometheus counters. The centre (all queues together) has `queue="*"`: leave it out when
summing (`sum without(queue) (acd_queue_waiting{queue!="*"})`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from acd.api.backend import Backend, Readiness
from acd.gcpauses import GC_PAUSES, GENERATIONS, GcPauses
from acd.looplag import LOOP_LAG, LoopLag

_AGENT_COUNTS = ("logged_in", "ready", "reserved", "on_call", "wrap_up", "not_ready")
AGENT_STATES = ("logged_out", "ready", "reserved", "on_call", "wrap_up", "not_ready")
_WINDOW_COUNTS = ("offered", "answered", "answered_within", "abandoned", "short_abandoned",
                  "timed_out", "overflowed", "handled", "voicemail", "closed")
# Caller-facing policies: (section of the window figures, key, metric name, help).
_WINDOW_NESTED = (
    ("survey", "csat_index", "csat_index", "CSAT index 0..100 of the post-call survey"),
    ("survey", "nps", "nps", "net promoter score -100..100 of the post-call survey"),
    ("ewt_accuracy", "mean_abs_error_s", "ewt_mean_abs_error_seconds",
     "mean |predicted - actual| wait of answered calls"),
    ("callbacks", "requested", "callbacks_requested", "callbacks requested"),
    ("callbacks", "answered", "callbacks_answered", "callbacks the customer answered"),
    ("callbacks", "failed", "callbacks_failed", "callbacks failed after every attempt"),
)
_WINDOW_VALUES = (("asa_s", "asa_seconds", "average speed of answer"),
                  ("abandon_rate", "abandon_rate", "abandoned / offered"),
                  ("aht_s", "aht_seconds", "average handling time (talk + wrap-up)"))


class Gauge(Protocol):
    def add_metric(self, labels: Sequence[str], value: float) -> None: ...


G = TypeVar("G", bound=Gauge)
# A new gauge family: (name without the `acd_` prefix, help, label names).
MakeGauge = Callable[[str, str, list[str]], G]


def _client_gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"acd_{name}", doc, labels=labels)


def _ready_metric(ready: Readiness, gauge: MakeGauge[G]) -> G:
    up = gauge("ready", "1 when the part is up (all: the service is ready)", ["part"])
    for part, value in (("all", ready.ready), ("ami", ready.ami), ("redis", ready.redis)):
        up.add_metric([part], float(value))
    return up


def _snapshot_metrics(snap: dict[str, Any], gauge: MakeGauge[G]) -> Iterator[G]:
    """The families of the snapshot's figures (none before the first snapshot)."""
    if not snap or "queues" not in snap:
        return
    generated = gauge("snapshot_generated_timestamp_seconds", "when the figures were computed",
                      [])
    generated.add_metric([], snap["generated_at"])
    yield generated
    yield from _queue_metrics([snap["centre"], *snap["queues"]], gauge)
    yield from _agent_metrics(snap["agents"], gauge)
    yield _lookup_metric(snap.get("ivr_funnel") or {}, gauge)
    calls = gauge("calls", "calls by state", ["state"])
    for state, count in sorted(Counter(c["state"] for c in snap["calls"]).items()):
        calls.add_metric([state], count)
    yield calls


class SnapshotCollector(Collector):

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def collect(self) -> Iterator[Metric]:
        yield _ready_metric(self._backend.readiness(), _client_gauge)
        yield from _snapshot_metrics(self._backend.snapshot(), _client_gauge)


def _queue_metrics(queues: list[dict[str, Any]], gauge: MakeGauge[G]) -> Iterator[G]:
    q, qw = ["queue"], ["queue", "window"]
    waiting = gauge("queue_waiting", "callers waiting", q)
    longest = gauge("queue_longest_wait_seconds", "longest current wait", q)
    ewt = gauge("queue_ewt_seconds", "estimated wait for the next caller", q)
    agents = gauge("queue_agents", "agents serving the queue, by state", ["queue", "state"])
    target = gauge("queue_service_level_target", "service level target (share 0..1)", q)
    threshold = gauge("queue_service_level_threshold_seconds", "service level threshold", q)
    occupancy = gauge("queue_occupancy", "occupancy today of the queue's agents", q)
    counts = {k: gauge(f"queue_{k}", f"calls {k.replace('_', ' ')} in the window", qw)
              for k in _WINDOW_COUNTS}
    level = gauge("queue_service_level", "service level in the window (share 0..1)", qw)
    values = {k: gauge(f"queue_{name}", doc, qw) for k, name, doc in _WINDOW_VALUES}
    nested = {(sec, k): gauge(f"queue_{name}", doc, qw) for sec, k, name, doc in _WINDOW_NESTED}
    for queue in queues:
        name = queue["name"]
        waiting.add_metric([name], queue["waiting"])
        longest.add_metric([name], queue["longest_wait_s"])
        if queue["ewt_s"] is not None:
            ewt.add_metric([name], queue["ewt_s"])
        for state in _AGENT_COUNTS:
            agents.add_metric([name, state], queue["agents"][state])
        target.add_metric([name], queue["target_pct"] / 100)
        threshold.add_metric([name], queue["threshold_s"])
        if queue["occupancy"] is not None:
            occupancy.add_metric([name], queue["occupancy"])
        for window, figures in queue["windows"].items():
            for key, family in counts.items():
                family.add_metric([name, window], figures[key])
            if figures["service_level"]["value"] is not None:
                level.add_metric([name, window], figures["service_level"]["value"])
            for key, family in values.items():
                if figures[key] is not None:
                    family.add_metric([name, window], figures[key])
            for (section, key), family in nested.items():
                value = (figures.get(section) or {}).get(key)
                if value is not None:
                    family.add_metric([name, window], value)
    yield from (waiting, longest, ewt, agents, target, threshold, occupancy, level)
    yield from counts.values()
    yield from values.values()
    yield from nested.values()


def _lookup_metric(funnel: dict[str, dict[str, Any]], gauge: MakeGauge[G]) -> G:
    lookups = gauge("ivr_lookups_today", "CRM lookups of the IVR since local midnight, by "
                    "outcome (hit, miss, cache, timeout, error, skipped)",
                    ["flow", "node", "outcome"])
    for flow, nodes in sorted(funnel.items()):
        for node, counts in sorted(nodes.items()):
            for outcome, n in sorted((counts.get("lookups") or {}).items()):
                lookups.add_metric([flow, node, outcome], n)
    return lookups


def _agent_metrics(agents: list[dict[str, Any]], gauge: MakeGauge[G]) -> Iterator[G]:
    by_state = gauge("agents", "agents by state", ["state"])
    counts = Counter(a["state"] for a in agents)
    for state in sorted({*AGENT_STATES, *counts}):
        by_state.add_metric([state], counts.get(state, 0))
    yield by_state


class ProcessCollector(Collector):
    """How the process that serves the API is doing (with `http.own_process`, the figures
    process): the collector's pauses (acd/gcpauses.py) and its event loop's lag
    (acd/looplag.py). Empty until the service has started them."""

    def __init__(self, pauses: GcPauses = GC_PAUSES, loop_lag: LoopLag = LOOP_LAG) -> None:
        self._pauses = pauses
        self._loop_lag = loop_lag

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "acd_gc_pause_seconds", "pauses of the cyclic garbage collector (the whole "
            "process stops), by generation (2: full collections)", labels=["generation"])
        for gen in range(GENERATIONS):
            family.add_metric([str(gen)], *self._pauses.pauses[gen].prometheus())
        yield family
        lag = HistogramMetricFamily(
            "acd_event_loop_lag_seconds", "how late the event loop ran (every request waits "
            "as long), sampled every 10 ms")
        lag.add_metric([], *self._loop_lag.lag.prometheus())
        yield lag


REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)


def make_registry(backend: Backend) -> CollectorRegistry:
    """A private registry per app (the process-wide default one would collide in tests)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(backend))
    registry.register(ProcessCollector())
    return registry


async def metrics(request: web.Request) -> web.Response:
    """Rendered in a thread: a big centre's exposition (1,000 queues x the windows) is a long
    piece of CPU, and in the loop every API request waited for it. The collectors only read
    the published snapshot, which is replaced whole, never changed."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = await asyncio.to_thread(encoder, request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": content_type,
                                            "Cache-Control": "no-store"})
