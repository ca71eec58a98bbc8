"""Gauge families written straight to the exposition text, line for line as prometheus-client's
encoders write them (acd/api/metrics.py says why; tests/test_metrics_text.py holds the two to
the same bytes for every format and escaping written here).

Only what the snapshot's families need: gauges without unit, timestamp or exemplar, metric and
label names of the legacy character set without `:` (`acd_queue_waiting`, `queue`), label
values of any text. Values are formatted by prometheus-client's own floatToGoString.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from prometheus_client import exposition
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

Encoder = Callable[[Collector], bytes]
# prometheus-client's own value formatting (it has no annotations)
_go_float: Callable[[float], str] = floatToGoString

_ESCAPINGS = frozenset({openmetrics.UNDERSCORES, openmetrics.DOTS, openmetrics.VALUES,
                        openmetrics.ALLOWUTF8})
# OpenMetrics with `values` is left to prometheus-client: its encoder escapes the sample names
# (`U__acd__queue__waiting`) but not the names of HELP and TYPE.
_OPENMETRICS_ESCAPINGS = _ESCAPINGS - {openmetrics.VALUES}


@dataclass(frozen=True, slots=True)
class Dialect:
    """What an encoder writes: the Prometheus text format or OpenMetrics, and the escaping of
    metric and label names."""

    openmetrics: bool
    escaping: str

    def header(self, name: str, doc: str) -> str:
        """The HELP and TYPE lines of a gauge family (OpenMetrics escapes `"` in HELP too)."""
        doc = doc.replace("\\", r"\\").replace("\n", r"\n")
        if self.openmetrics:
            doc = doc.replace('"', r"\"")
        name = self.metric_name(name)
        return f"# HELP {name} {doc}\n# TYPE {name} gauge\n"

    def metric_name(self, name: str) -> str:
        # (the OpenMetrics encoder escapes sample names as label names: the same without `:`)
        return openmetrics.escape_metric_name(name, self.escaping)

    def label_name(self, name: str) -> str:
        return openmetrics.escape_label_name(name, self.escaping)


def dialect_of(encoder: Encoder) -> Dialect | None:
    """The dialect of an encoder `choose_encoder` picked; None when it is not one written
    here (prometheus-client then renders)."""
    if encoder is exposition.generate_latest:
        return Dialect(openmetrics=False, escaping=openmetrics.UNDERSCORES)
    if not isinstance(encoder, partial) or encoder.args:
        return None
    escaping = encoder.keywords.get("escaping")
    if encoder.func is exposition.generate_latest and set(encoder.keywords) == {"escaping"} \
            and escaping in _ESCAPINGS:
        return Dialect(openmetrics=False, escaping=escaping)
    # (the OpenMetrics version only changes native histograms, which gauges never have)
    if encoder.func is openmetrics.generate_latest \
            and set(encoder.keywords) <= {"escaping", "version"} \
            and escaping in _OPENMETRICS_ESCAPINGS:
        return Dialect(openmetrics=True, escaping=escaping)
    return None


class _Escaped(dict[str, str]):
    """Label values escaped (both formats alike), each distinct value once."""

    def __missing__(self, value: str) -> str:
        escaped = self[value] = value.replace("\\", r"\\").replace("\n", r"\n") \
            .replace('"', r"\"")
        return escaped


class _Formatted(dict[float, str]):
    """Values other than zero formatted by floatToGoString, each distinct value once."""

    def __missing__(self, value: float) -> str:
        text = self[value] = _go_float(value)
        return text


class TextWriter:
    """Writes gauge families in one dialect; what it escapes and formats it keeps for the
    families after (a queue's name is in some 30 of them)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.escaped = _Escaped()
        self.formatted = _Formatted()

    def gauge(self, name: str, doc: str, labels: Sequence[str]) -> TextGauge:
        return TextGauge(self, name, doc, labels)


class TextGauge:
    """A gauge family as text: GaugeMetricFamily's `add_metric`, each sample written as the
    encoder writes it (label names sorted, as the encoders sort them)."""

    __slots__ = ("_escaped", "_formatted", "_labels", "_name", "header", "lines")

    def __init__(self, writer: TextWriter, name: str, doc: str, labels: Sequence[str]) -> None:
        dialect = writer.dialect
        self.header = dialect.header(name, doc)
        self.lines: list[str] = []
        self._name = dialect.metric_name(name)
        # (index of the label value, `name="`) in the order of the label names
        self._labels = [(i, f'{dialect.label_name(labels[i])}="')
                        for i in sorted(range(len(labels)), key=labels.__getitem__)]
        self._escaped = writer.escaped
        self._formatted = writer.formatted

    def add_metric(self, labels: Sequence[str], value: float) -> None:
        # A zero is not looked up: 0.0 and -0.0 are one key but two texts (floatToGoString
        # gives a zero's repr).
        number = self._formatted[value] if value else repr(float(value))
        heads, escaped = self._labels, self._escaped
        # One or two labels (nearly every sample) written without a join: half the time.
        if len(heads) == 2:
            (i, head), (j, head2) = heads
            pairs = f'{head}{escaped[labels[i]]}",{head2}{escaped[labels[j]]}"'
        elif len(heads) == 1:
            pairs = f'{heads[0][1]}{escaped[labels[0]]}"'
        elif heads:
            pairs = ",".join([f'{head}{escaped[labels[i]]}"' for i, head in heads])
        else:
            self.lines.append(f"{self._name} {number}\n")
            return
        self.lines.append(f"{self._name}{{{pairs}}} {number}\n")


def text_of(families: Iterable[TextGauge]) -> str:
    return "".join([part for family in families for part in (family.header, *family.lines)])
