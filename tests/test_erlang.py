"""Erlang C against published values and against the closed form of METRICS.md (pure)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest

from acd.stats.erlang import asa, erlang_b, erlang_c, service_level


def closed_form_c(c: int, a: float) -> float:
    """METRICS.md's formula, literally, with factorials: only for small c."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def log_space_c(c: int, a: float) -> float:
    """The same formula in log space (lgamma), usable for large c."""
    log_terms = [k * math.log(a) - math.lgamma(k + 1) for k in range(c)]
    log_top = c * math.log(a) - math.lgamma(c + 1) + math.log(c / (c - a))
    m = max([*log_terms, log_top])
    top = math.exp(log_top - m)
    return top / (sum(math.exp(t - m) for t in log_terms) + top)


def test_published_two_agents_one_erlang() -> None:
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3, rel=1e-15)


def test_published_single_server_is_utilisation() -> None:
    # M/M/1: P(wait) = rho
    for rho in (0.1, 0.5, 0.9, 0.99):
        assert erlang_c(1, rho) == pytest.approx(rho, rel=1e-15)


def test_published_erlang_b_values() -> None:
    # Classic tables: B(1, 1) = 1/2, B(2, 1) = 1/5, B(3, 2) = 4/19
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_b(3, 2.0) == pytest.approx(4 / 19)


@pytest.mark.parametrize("c, a", [(1, 0.3), (2, 1.5), (3, 2.0), (5, 4.2), (10, 7.5), (20, 17.0),
                                  (30, 29.5)])
def test_matches_the_closed_form(c: int, a: float) -> None:
    assert erlang_c(c, a) == pytest.approx(closed_form_c(c, a), rel=1e-12)


@pytest.mark.parametrize("c, a", [(200, 180.0), (1000, 950.0), (1000, 999.0), (1000, 500.0)])
def test_large_centres_are_stable(c: int, a: float) -> None:
    value = erlang_c(c, a)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(log_space_c(c, a), rel=1e-9)


def test_textbook_example_service_level_and_asa() -> None:
    # c=2, A=1, h=180 s: C = 1/3; SL(20) = 1 - exp(-20/180)/3; ASA = 180/3 = 60 s
    assert service_level(2, 1.0, 20, 180) == pytest.approx(1 - math.exp(-20 / 180) / 3)
    assert asa(2, 1.0, 180) == pytest.approx(60.0)


@pytest.mark.parametrize("c, a, t, h", [(3, 2.0, 20, 120), (10, 8.0, 15, 240), (5, 1.0, 0, 60)])
def test_service_level_and_asa_follow_the_formulas(c: int, a: float, t: float, h: float) -> None:
    cc = closed_form_c(c, a)
    assert service_level(c, a, t, h) == pytest.approx(1 - cc * math.exp(-(c - a) * t / h))
    assert asa(c, a, h) == pytest.approx(cc * h / (c - a))


def test_limits() -> None:
    assert erlang_c(3, 0.0) == 0.0
    assert service_level(3, 0.0, 20, 180) == 1.0
    assert asa(3, 0.0, 180) == 0.0
    assert erlang_c(2, 2.0) == 1.0  # unstable: everybody waits
    assert service_level(2, 3.0, 20, 180) == 0.0
    assert asa(2, 2.0, 180) == math.inf
    assert erlang_c(0, 0.5) == 1.0


@pytest.mark.parametrize("call", [lambda: erlang_c(-1, 1.0), lambda: erlang_c(2, -0.1),
                                  lambda: service_level(2, 1.0, 20, 0),
                                  lambda: service_level(2, 1.0, -1, 180),
                                  lambda: asa(2, 1.0, -5)])
def test_bad_input_is_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        call()


def test_more_agents_never_raise_the_wait_probability() -> None:
    values = [erlang_c(c, 9.0) for c in range(10, 40)]
    assert all(x >= y for x, y in itertools.pairwise(values))
