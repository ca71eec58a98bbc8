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
"""

from __future__ import annotations

import math


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
