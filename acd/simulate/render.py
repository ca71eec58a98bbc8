"""A run's result as a readable table (the default output of `acd simulate`)."""

from __future__ import annotations

from collections.abc import Sequence

from acd.simulate.results import ErlangPrediction, QueueResult, RunResult
from acd.stats.schema import WindowFigures

HEADER = ["queue", "offered", "answered", "abandoned", "short", "timed out", "SL", "±",
          "target", "ASA", "±", "abandon", "AHT", "occupancy", "longest", "max waiting"]


def pct(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f}%"


def secs(value: float | None) -> str:
    """Seconds as `12.3 s` below a minute, else `m:ss` or `h:mm:ss`."""
    if value is None:
        return "–"
    if value < 60:
        return f"{value:.1f} s"
    whole = round(value)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _row(label: str, f: WindowFigures, q: QueueResult | None) -> list[str]:
    sl = f.service_level
    target = f"{sl.target * 100:g}/{sl.threshold_s}" if sl.threshold_s else f"{sl.target:.0%}"
    sl_ci = asa_ci = ""
    extra = ["", "", ""]
    if q is not None:
        sl_ci = "–" if q.sl_ci95 is None else f"{q.sl_ci95 * 100:.1f}"
        asa_ci = secs(q.asa_ci95_s)
        extra = [pct(q.occupancy), secs(q.longest_wait_s), f"{q.max_waiting:,}"]
    return [label, f"{f.offered:,}", f"{f.answered:,}", f"{f.abandoned:,}",
            f"{f.short_abandoned:,}", f"{f.timed_out:,}", pct(sl.value), sl_ci, target,
            secs(f.asa_s), asa_ci, pct(f.abandon_rate), secs(f.aht_s), *extra]


def _erlang_line(p: ErlangPrediction, sl_target: str) -> str:
    asa = secs(p.asa_s) if p.asa_s is not None else "unbounded (too few agents)"
    return (f"  Erlang C (patient callers) for {p.agents} agents, {p.load_erl:.2f} Erl "
            f"(AHT {secs(p.aht_s)}): SL {pct(p.service_level)}, ASA {asa}, "
            f"P(wait) {pct(p.p_wait)}, occupancy {pct(p.occupancy)}; "
            f"{p.agents_needed} agents meet {sl_target}")


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell: the first left-aligned, the others right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(r, widths, strict=True))).rstrip()
            for r in rows]


def render(result: RunResult, description: str = "") -> str:
    r = result
    lines = [f"{r.scenario} · seed {r.seed}"]
    if description:
        lines.append(description)
    measured = r.centre.figures.offered
    lines.append(f"counted: {measured:,} calls arriving over {secs(r.span_s)} after a "
                 f"{secs(r.warmup_s)} warm-up ({r.calls_simulated:,} simulated), "
                 f"{r.agents:,} agents")
    lines.append("")
    rows: list[list[str]] = [HEADER]
    notes: list[tuple[int, str]] = []  # (row index, line printed after that row)
    for q in r.queues:
        rows.append(_row(q.name, q.figures, q))
        for name, f in q.classes.items():
            rows.append(_row(f"  {name}", f, None))
        for name, f in q.mix.items():
            rows.append(_row(f"  mix {name}", f, None))
        if q.erlang_c is not None:
            sl = q.figures.service_level
            notes.append((len(rows) - 1, _erlang_line(
                q.erlang_c, f"{sl.target * 100:g}/{sl.threshold_s}")))
    if len(r.queues) > 1:
        rows.append(_row("all queues", r.centre.figures, r.centre))
    formatted = table(rows)
    by_row = dict(notes)
    for i, line in enumerate(formatted):
        lines.append(line)
        if i in by_row:
            lines.append(by_row[i])
    if r.notes:
        lines.append("")
        lines += [f"note: {n}" for n in r.notes]
    formulas = sorted({q.figures.service_level.formula for q in r.queues})
    lines.append("")
    lines.append(f"SL formula: {', '.join(formulas)} (METRICS.md). ±: 95 % confidence "
                 f"half-width (SL in points), by batch means. Times are m:ss.")
    return "\n".join(lines) + "\n"
