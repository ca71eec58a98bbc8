"""Erlang C (M/M/c, no abandonment): the queueing-theory reference of METRICS.md.

With c agents and an offered load of a = λ·h Erlangs (a < c), h the mean handle time:

    C(c, a) = (a^c/c! · c/(c-a)) / (Σ_{k<c} a^k/k! + a^c/c! · c/(c-a))   P(wait > 0)
    SL(T)   = 1 - C(c, a) · exp(-(c - a) · T / h)
    ASA     = C(c, a) · h / (c - a)

C is computed through the Erlang B recursion B(0) = 1, B(k) = a·B(k-1) / (k + a·B(k-1)) and
C = c·B / (c - a·(1 - B)), which is algebraically the formula above but never forms a^c or c!,
so it stays exact to rounding for c in the thousands. Pure: no I/O.

When a >= c the queue is unstable (it grows without bound): every caller waits (C = 1), the
service level tends to 0 and the ASA to infinity; those limits are returned.

Staffing (`agents_needed`, `staffing`): the fewest agents that meet a target X/T, and the
figures of a given staffing; used by `acd erlang`, GET /api/v1/erlang, the live
`agents_needed_now` of each queue (staffing.py) and the simulator's predictions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _check(c: int, a: float) -> None:
    if c < 0:
        raise ValueError(f"agents must be >= 0, got {c}")
    if a < 0 or math.isnan(a):
        raise ValueError(f"offered load must be >= 0 Erlangs, got {a}")


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c (Erlang B), by the stable recursion."""
    _check(c, a)
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """P(wait > 0) for c agents and a Erlangs of offered load: 1.0 when a >= c."""
    _check(c, a)
    if a >= c:
        return 1.0
    if a == 0:
        return 0.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1 - b))


def service_level(c: int, a: float, t_s: float, aht_s: float) -> float:
    """Share of calls answered within t_s seconds: 1 - C(c, a)·exp(-(c - a)·t_s / aht_s)."""
    if aht_s <= 0:
        raise ValueError(f"mean handle time must be > 0, got {aht_s}")
    if t_s < 0:
        raise ValueError(f"threshold must be >= 0, got {t_s}")
    if a >= c:
        _check(c, a)
        return 0.0
    return 1.0 - erlang_c(c, a) * math.exp(-(c - a) * t_s / aht_s)


def asa(c: int, a: float, aht_s: float) -> float:
    """Average speed of answer: C(c, a)·aht_s / (c - a); infinity when a >= c."""
    if aht_s <= 0:
        raise ValueError(f"mean handle time must be > 0, got {aht_s}")
    if a >= c:
        _check(c, a)
        return math.inf
    return erlang_c(c, a) * aht_s / (c - a)


def occupancy(c: int, a: float) -> float:
    """Share of the agents' time spent on calls: a / c, capped at 1 (0 with no load)."""
    _check(c, a)
    if a == 0:
        return 0.0
    return min(1.0, a / c) if c > 0 else 1.0


def agents_needed(a: float, aht_s: float, target: float, t_s: float,
                  max_agents: int = 1_000_000) -> int:
    """The fewest agents whose service level(t_s) reaches `target` (a share 0..1) for a
    Erlangs of load: one pass of the Erlang B recursion, so the cost is O(answer)."""
    _check(0, a)
    if aht_s <= 0:
        raise ValueError(f"mean handle time must be > 0, got {aht_s}")
    if t_s < 0:
        raise ValueError(f"threshold must be >= 0, got {t_s}")
    if not 0 <= target <= 1:
        raise ValueError(f"target must be a share 0..1, got {target}")
    if a == 0:
        return 0
    b = 1.0
    for c in range(1, max_agents + 1):
        b = a * b / (c + a * b)
        if c <= a:
            continue
        p_wait = c * b / (c - a * (1 - b))
        if 1.0 - p_wait * math.exp(-(c - a) * t_s / aht_s) >= target:
            return c
    raise ValueError(f"more than {max_agents} agents would be needed")


def parse_target(text: str) -> tuple[float, int]:
    """A service level target written X/T ("80/20": 80 % within 20 s) -> (80.0, 20)."""
    pct, sep, secs = text.partition("/")
    try:
        value, threshold = float(pct), int(secs)
    except ValueError:
        raise ValueError(f"expected X/T such as 80/20, got {text!r}") from None
    if not sep or not 0 < value <= 100 or threshold < 0:
        raise ValueError(f"expected X/T with 0 < X <= 100 and T >= 0, got {text!r}")
    return value, threshold


@dataclass(frozen=True, slots=True)
class Staffing:
    """What Erlang C says about one staffing of one queue."""

    calls_per_hour: float
    aht_s: float
    load_erl: float  # offered load a = λ·h
    agents: int
    target_pct: float
    threshold_s: int
    service_level: float  # share 0..1 answered within threshold_s
    asa_s: float  # infinity when the queue is unstable (agents <= load)
    p_wait: float
    occupancy: float
    agents_needed: int  # for target_pct / threshold_s


def staffing(calls_per_hour: float, aht_s: float, target_pct: float, threshold_s: int,
             agents: int | None = None) -> Staffing:
    """Erlang C figures for `agents` (default: the agents needed for the target)."""
    if calls_per_hour < 0 or math.isnan(calls_per_hour):
        raise ValueError(f"calls per hour must be >= 0, got {calls_per_hour}")
    a = calls_per_hour * aht_s / 3600.0
    needed = agents_needed(a, aht_s, target_pct / 100.0, threshold_s)
    c = needed if agents is None else agents
    if a == 0:  # no calls: nobody waits, whatever the staffing
        return Staffing(calls_per_hour=calls_per_hour, aht_s=aht_s, load_erl=0.0, agents=c,
                        target_pct=target_pct, threshold_s=threshold_s, service_level=1.0,
                        asa_s=0.0, p_wait=0.0, occupancy=0.0, agents_needed=0)
    return Staffing(calls_per_hour=calls_per_hour, aht_s=aht_s, load_erl=a, agents=c,
                    target_pct=target_pct, threshold_s=threshold_s,
                    service_level=service_level(c, a, threshold_s, aht_s),
                    asa_s=asa(c, a, aht_s), p_wait=erlang_c(c, a), occupancy=occupancy(c, a),
                    agents_needed=needed)
