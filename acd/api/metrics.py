"""`GET /metrics`: the snapshot's figures in the Prometheus text format (or OpenMetrics).

The snapshot's families are written to text by hand (metrics_text.py), not by prometheus-client:
at a big centre (1,000 queues x the windows: 50,000-63,000 samples, 2.7-3.6 MB) the client's
encoders spent 400-570 ms of CPU per scrape on an object and a formatting per sample, in a
worker thread that holds the GIL against the event loop; written, ~60 ms, and under 1 ms for a
snapshot already written (`python -m bench.metrics_cost`). One traversal fills either kind of
family (`gauge`): prometheus-client's GaugeMetricFamily (SnapshotCollector, `client_body`: the
reference, and what serves the Accept headers the writer does not cover) or a TextGauge;
tests/test_metrics_text.py holds the written body to the client's, byte for byte, for every
format and escaping `choose_encoder` picks. A snapshot's text is kept while it is the
published one (two Prometheus servers scraping it pay once); readiness (written too) and the
process's own figures (ProcessCollector, small, rendered by prometheus-client) change between
scrapes and are made at each.

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
from acd.api.keys import BACKEND
from acd.api.metrics_text import Dialect, Encoder, TextGauge, TextWriter, dialect_of, text_of
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


def _text_gauge(writer: TextWriter) -> MakeGauge[TextGauge]:
    def gauge(name: str, doc: str, labels: list[str]) -> TextGauge:
        return writer.gauge(f"acd_{name}", doc, labels)
    return gauge


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
    """Readiness and the snapshot's figures as prometheus-client's families: what the written
    text is held to, and what serves the Accept headers it does not cover."""

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


class SnapshotTexts:
    """The snapshot's part of the body, per dialect, for the latest snapshot scraped. The
    backend replaces the snapshot whole and never changes it: while it is the same object,
    its text is the same. The object itself is held, so its id cannot go to a new one.
    (Scrapes run in worker threads: the pair is replaced in one assignment.)"""

    def __init__(self) -> None:
        self._held: tuple[object, dict[Dialect, bytes]] = (None, {})

    def get(self, snap: dict[str, Any], dialect: Dialect) -> bytes:
        source, texts = self._held
        if source is not snap:
            source, texts = self._held = (snap, {})
        text = texts.get(dialect)
        if text is None:
            text = texts[dialect] = _snapshot_text(snap, dialect)
        return text


def _snapshot_text(snap: dict[str, Any], dialect: Dialect) -> bytes:
    return text_of(_snapshot_metrics(snap, _text_gauge(TextWriter(dialect)))).encode()


def _ready_text(ready: Readiness, dialect: Dialect) -> bytes:
    return text_of([_ready_metric(ready, _text_gauge(TextWriter(dialect)))]).encode()


REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
TEXTS = web.AppKey("metrics_texts", SnapshotTexts)


def make_registry() -> CollectorRegistry:
    """What prometheus-client renders at every scrape, after the snapshot's figures (a private
    registry per app: the process-wide default one would collide in tests)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProcessCollector())
    return registry


class _Chain(Collector):
    def __init__(self, *parts: Collector) -> None:
        self._parts = parts

    def collect(self) -> Iterator[Metric]:
        for part in self._parts:
            yield from part.collect()


def client_body(encoder: Encoder, backend: Backend, registry: CollectorRegistry) -> bytes:
    """The body as prometheus-client alone renders it."""
    return encoder(_Chain(SnapshotCollector(backend), registry))


def render(encoder: Encoder, backend: Backend, registry: CollectorRegistry,
           texts: SnapshotTexts) -> bytes:
    """The body: readiness and the snapshot's figures written (the figures' text kept per
    snapshot), then the registry's families by prometheus-client (in OpenMetrics, its text
    ends the body with `# EOF`)."""
    dialect = dialect_of(encoder)
    if dialect is None:
        return client_body(encoder, backend, registry)
    return b"".join([_ready_text(backend.readiness(), dialect),
                     texts.get(backend.snapshot(), dialect), encoder(registry)])


async def metrics(request: web.Request) -> web.Response:
    """Rendered in a thread: a big centre's exposition (1,000 queues x the windows) is a long
    piece of CPU, and in the loop every API request waited for it. The collectors only read
    the published snapshot, which is replaced whole, never changed."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    app = request.app
    body = await asyncio.to_thread(render, encoder, app[BACKEND], app[REGISTRY], app[TEXTS])
    return web.Response(body=body, headers={"Content-Type": content_type,
                                            "Cache-Control": "no-store"})
