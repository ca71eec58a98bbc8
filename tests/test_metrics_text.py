"""/metrics with the snapshot's families written by hand (acd/api/metrics.py, metrics_text.py)
is the body prometheus-client renders alone (`client_body`), byte for byte: for every Accept
header choose_encoder reads (both formats, every escaping, the OpenMetrics versions), for
queue names that need escaping and for values of every kind; the text kept per snapshot is
served again only for that snapshot; and the app's endpoint serves the same body."""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from prometheus_client.utils import floatToGoString

from acd.api import metrics as metrics_module
from acd.api.backend import Readiness
from acd.api.metrics import (
    REGISTRY,
    ProcessCollector,
    SnapshotTexts,
    client_body,
    make_registry,
    render,
)
from acd.api.metrics_text import Dialect, TextWriter, dialect_of
from acd.api.testing import FakeBackend, agent, call, queue, snapshot
from acd.gcpauses import GcPauses
from acd.looplag import LoopLag
from tests.test_api import api, auth

ESCAPINGS = ("underscores", "dots", "values", "allow-utf-8", "no-such-escaping")
OM = "application/openmetrics-text"
# What Prometheus servers send: 2.x, then 3.x (names validated as UTF-8, and as legacy).
PROMETHEUS_2 = (f"{OM};version=1.0.0,{OM};version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,"
                "*/*;q=0.1")
PROMETHEUS_3 = (f"{OM};version=1.0.0;escaping=allow-utf-8;q=0.6,{OM};version=0.0.1;q=0.5,"
                "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
                "text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
PROMETHEUS_3_LEGACY = PROMETHEUS_3.replace("allow-utf-8", "underscores")
ACCEPTS = (
    "", "*/*", "text/plain", "text/plain; version=0.0.4", "text/plain; version=1.0.0",
    *(f"text/plain; version=1.0.0; escaping={e}" for e in ESCAPINGS),
    OM, f"{OM}; version=0.0.1", f"{OM}; version=1.0.0",
    *(f"{OM}; version={v}; escaping={e}" for v in ("1.0.0", "2.0.0", "1.5") for e in ESCAPINGS),
    PROMETHEUS_2, PROMETHEUS_3, PROMETHEUS_3_LEGACY,
)
# The only ones prometheus-client renders alone: its OpenMetrics encoder escapes the sample
# names with `values` but not the HELP and TYPE names.
LEFT_TO_THE_CLIENT = {f"{OM}; version={v}; escaping=values" for v in ("1.0.0", "2.0.0", "1.5")}
WRITTEN_ACCEPTS = [a for a in ACCEPTS if a not in LEFT_TO_THE_CLIENT]

NAMES = ("sales", 'the "best"', "back\\slash", "new\nline", "über", "🎧 support", "",
         "a,b=c}{", "\\n not a newline")
VALUES: tuple[float, ...] = (
    0, 1, -3, 0.1, 1e-7, 1e22, 123456.0, 1234567.0, 1234567, 2**53 + 1, 10**30, -0.0, 0.0,
    math.inf, -math.inf, math.nan, -2.5, True, False, 99.99999999, 5e-324, 1.7976931348623157e308)


def bodies(encoder: Any, backend: FakeBackend,
           registry: CollectorRegistry | None = None) -> tuple[bytes, bytes]:
    """(written, prometheus-client's) for one encoder."""
    registry = registry or make_registry()
    return render(encoder, backend, registry, SnapshotTexts()), \
        client_body(encoder, backend, registry)


def plain() -> dict[str, Any]:
    """A working centre from the schema models (every field the figures have)."""
    snap = snapshot(
        [queue("sales", waiting=2, longest_wait_s=31.5, ready=1, on_call=2, sl=0.75,
               asa_s=12.0, offered=20, answered=15, abandoned=2),
         queue("support", waiting=0, ready=3, not_ready=1, sl=None),
         queue("billing", waiting=7, longest_wait_s=400.25, wrap_up=2, reserved=1, sl=0.1,
               offered=3, answered=1, abandoned=2, target_pct=95.0)],
        [agent("a1", "Ann", "on_call", call_id="c2", queues=["sales"]),
         agent("a2", "Bob", "ready", time_in_state_s=40, queues=["sales", "support"]),
         agent("a3", "Cy", "not_ready", reason="lunch", queues=["support"]),
         agent("a4", "Di", "on_break")],
        [call("c1", "sales", wait_s=31.5), call("c2", "sales", "connected", agent_id="a1"),
         call("c3", "billing", "ringing")], generated_at=1_732_540_000.123)
    snap["ivr_funnel"] = {"main": {"who": {"lookups": {"hit": 3, "miss": 0, "timeout": 1}},
                                   "menu": {"reached": 4}}}
    return snap


def _fill(snap: dict[str, Any], values: Iterator[Any], optional: Iterator[Any]) -> None:
    """Every figure the families read, from `values` (never None) or `optional` (None
    skips the sample)."""
    snap["generated_at"] = next(values)
    for q in (snap["centre"], *snap["queues"]):
        for key in ("waiting", "longest_wait_s", "target_pct", "threshold_s"):
            q[key] = next(values)
        q["ewt_s"], q["occupancy"] = next(optional), next(optional)
        q["agents"] = {state: next(values) for state in q["agents"]}
        for figures in q["windows"].values():
            for key in ("offered", "answered", "answered_within", "abandoned",
                        "short_abandoned", "timed_out", "overflowed", "handled", "voicemail",
                        "closed"):
                figures[key] = next(values)
            for key in ("asa_s", "abandon_rate", "aht_s"):
                figures[key] = next(optional)
            figures["service_level"]["value"] = next(optional)
            figures["survey"]["csat_index"], figures["survey"]["nps"] = \
                next(optional), next(optional)
            figures["ewt_accuracy"]["mean_abs_error_s"] = next(optional)
            figures["callbacks"] = {k: next(optional) for k in ("requested", "answered",
                                                                "failed")}


def awkward() -> dict[str, Any]:
    """Queue, flow and node names that need escaping; every kind of value; sections gone."""
    snap = snapshot([queue(name) for name in NAMES],
                    [agent(f"a{i}", name, name or "ready") for i, name in enumerate(NAMES)],
                    [call(f"c{i}", "sales", name or "waiting") for i, name in enumerate(NAMES)])
    _fill(snap, itertools.cycle(VALUES), itertools.cycle((*VALUES, None)))
    windows = snap["queues"][1]["windows"]
    del windows["15m"]["survey"]
    windows["60m"]["callbacks"] = None
    snap["ivr_funnel"] = {
        name: {f"node {name}": {"lookups": {name or "empty": VALUES[i]}},
               "no lookups": {}, "none": {"lookups": None}}
        for i, name in enumerate(NAMES)}
    return snap


SNAPSHOTS = {"plain": plain, "awkward": awkward, "empty": dict, "no queues": lambda: {"x": 1}}


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("make", SNAPSHOTS.values(), ids=list(SNAPSHOTS))
def test_the_written_body_is_the_clients(accept: str, make: Any) -> None:
    encoder, _ = choose_encoder(accept)
    backend = FakeBackend(make())
    backend.ready = Readiness(ready=False, ami=True, redis=False, reason="Redis away")
    written, client = bodies(encoder, backend)
    assert written == client
    assert (dialect_of(encoder) is None) == (accept in LEFT_TO_THE_CLIENT)


@pytest.mark.parametrize("accept", WRITTEN_ACCEPTS)
def test_the_written_families_parse(accept: str) -> None:
    """What is written (the body before the process's histograms) parses, with the queue
    names as they were: an escaping gone wrong would not. (prometheus-client's parsers do
    not read its own histograms back with `dots`: they are left out.)"""
    encoder, content_type = choose_encoder(accept)
    registry = make_registry()
    body = render(encoder, FakeBackend(awkward()), registry, SnapshotTexts())
    process = encoder(registry)
    assert body.endswith(process)
    text = body[:-len(process)].decode()
    if content_type.startswith(OM):
        assert process.endswith(b"\n# EOF\n") and body.count(b"# EOF") == 1
        families = list(openmetrics_families(text + "# EOF\n"))
    else:
        families = list(text_string_to_metric_families(text))
    queues = {s.labels["queue"] for f in families for s in f.samples if "queue" in s.labels}
    assert queues == {*NAMES, "*"}
    # readiness, the snapshot's time, 27 by queue, agents, IVR lookups, calls
    assert [f.type for f in families] == ["gauge"] * 32


@settings(max_examples=60, deadline=None)
@given(names=st.lists(st.text(max_size=6), min_size=1, max_size=4),
       values=st.lists(st.one_of(st.integers(-10**25, 10**25), st.floats(), st.booleans()),
                       min_size=1, max_size=40),
       optional=st.lists(st.one_of(st.none(), st.floats(), st.integers(-10**6, 10**6)),
                         min_size=1, max_size=40),
       accept=st.sampled_from(ACCEPTS))
def test_any_names_and_values(names: list[str], values: list[Any], optional: list[Any],
                              accept: str) -> None:
    snap = snapshot([queue(name) for name in names])
    _fill(snap, itertools.cycle(values), itertools.cycle(optional))
    snap["ivr_funnel"] = {n: {n: {"lookups": {n: v}}} for n, v in zip(names, values, strict=False)}
    written, client = bodies(choose_encoder(accept)[0], FakeBackend(snap))
    assert written == client


class _One:
    def __init__(self, family: GaugeMetricFamily) -> None:
        self.family = family

    def collect(self) -> Iterator[Metric]:
        yield self.family


@settings(max_examples=150, deadline=None)
@given(doc=st.text(max_size=12),
       labels=st.sampled_from([[], ["queue"], ["window", "queue"], ["queue", "state"],
                               ["outcome", "flow", "node"], ["d", "c", "b", "a"]]),
       rows=st.lists(st.tuples(st.lists(st.text(max_size=4), min_size=4, max_size=4),
                               st.one_of(st.integers(-10**20, 10**20), st.floats())),
                     max_size=6),
       accept=st.sampled_from(WRITTEN_ACCEPTS))
@example(doc='say "hi"\\ \n', labels=["window", "queue"],
         rows=[(['"', "\\", "\n", "ü"], -0.0)], accept="")
@example(doc='say "hi"\\ \n', labels=["window", "queue"],
         rows=[(['"', "\\", "\n", "ü"], -0.0)], accept=OM)
def test_a_family_of_any_help_labels_and_values(doc: str, labels: list[str],
                                               rows: list[tuple[list[str], float]],
                                               accept: str) -> None:
    """A written family against the same GaugeMetricFamily rendered by the encoder: help text
    escaped by the format's rules, label names sorted, any number of them."""
    encoder, _ = choose_encoder(accept)
    written = TextWriter(dialect_of(encoder) or Dialect(False, "")).gauge("acd_x", doc, labels)
    family = GaugeMetricFamily("acd_x", doc, labels=labels)
    for values, value in rows:
        written.add_metric(values[:len(labels)], value)
        family.add_metric(values[:len(labels)], value)
    rendered = encoder(_One(family)).decode().removesuffix("# EOF\n")
    assert written.header + "".join(written.lines) == rendered


@pytest.mark.parametrize("dialect", [Dialect(om, e) for om in (False, True)
                                     for e in ("underscores", "allow-utf-8")])
def test_values_as_float_to_go_string(dialect: Dialect) -> None:
    """One writer formats each value once: a zero after a zero of the other sign, an int
    after the equal float, still print as floatToGoString prints each."""
    family = TextWriter(dialect).gauge("acd_x", "x", [])
    values = [*VALUES, *reversed(VALUES), -0.0, 0, 0.0, -0.0, 1, 1.0, True]
    for value in values:
        family.add_metric([], value)
    assert family.lines == [f"acd_x {floatToGoString(v)}\n" for v in values]


def test_kept_only_for_the_same_snapshot() -> None:
    """Two scrapes of one snapshot: its text made once; readiness and the process's figures
    are current at each. An equal snapshot, a new object, is written again."""
    backend = FakeBackend(plain())
    pauses = GcPauses()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProcessCollector(pauses, LoopLag()))
    texts, text = SnapshotTexts(), Dialect(openmetrics=False, escaping="underscores")
    encoder, _ = choose_encoder("")
    assert dialect_of(encoder) == text
    first = render(encoder, backend, registry, texts)
    kept = texts.get(backend.snapshot(), text)
    backend.ready = Readiness(ready=False, ami=False, redis=True, reason="AMI away")
    pauses.pauses[2].add(0.5)
    second = render(encoder, backend, registry, texts)
    assert texts.get(backend.snapshot(), text) is kept
    assert second == client_body(encoder, backend, registry) != first
    assert b'acd_ready{part="ami"} 0.0' in second
    assert b'acd_gc_pause_seconds_count{generation="2"} 1.0' in second

    backend.publish(copy.deepcopy(backend.snapshot()))
    assert texts.get(backend.snapshot(), text) is not kept
    changed = plain()
    changed["queues"][0]["waiting"] = 41
    backend.publish(changed)
    assert b'acd_queue_waiting{queue="sales"} 41.0' in render(encoder, backend, registry, texts)


def _still_process() -> ProcessCollector:
    # the process's figures held still (the real ones may move between two renders)
    return ProcessCollector(GcPauses(), LoopLag())


@pytest.mark.parametrize("accept", ["", f"{OM}; version=1.0.0", PROMETHEUS_3,
                                    f"{OM}; version=1.0.0; escaping=values"])
async def test_the_endpoint_serves_the_clients_body(accept: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_module, "ProcessCollector", _still_process)
    written: list[Dialect] = []
    write = metrics_module._snapshot_text

    def counted(snap: dict[str, Any], dialect: Dialect) -> bytes:
        written.append(dialect)
        return write(snap, dialect)

    monkeypatch.setattr(metrics_module, "_snapshot_text", counted)
    backend = FakeBackend(awkward())
    encoder, content_type = choose_encoder(accept)
    async with api(backend) as client:
        for _ in range(2):  # (the second from the text kept)
            resp = await client.get("/metrics", headers={**auth("viewer"), "Accept": accept})
            assert resp.status == 200 and resp.headers["Content-Type"] == content_type
            assert await resp.read() == client_body(encoder, backend, client.app[REGISTRY])
    assert written == ([] if accept in LEFT_TO_THE_CLIENT else [dialect_of(encoder)])


def test_the_cost_script_at_a_small_size() -> None:
    from bench import centre, metrics_cost

    out = metrics_cost.measure(centre.Sizes(calls=20, agents=10, queues=4), runs=1)
    for name in metrics_cost.ACCEPTS:
        assert out[name]["same_bytes"] and out[name]["lines"] > 4 * 27
