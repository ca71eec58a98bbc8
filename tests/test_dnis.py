"""Dialled number patterns (Asterisk rules) and flow selection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.config import FlowConfig
from acd.core.dnis import (
    FlowIndex,
    PatternError,
    dnis_problems,
    match_pattern,
    parse_pattern,
    select_flow,
    specificity,
)


@pytest.mark.parametrize(("pattern", "number", "matches"), [
    ("100", "100", True),
    ("100", "1000", False),
    ("100", "10", False),
    ("_1XXX", "1234", True),
    ("_1XXX", "1000", True),
    ("_1XXX", "2234", False),
    ("_1XXX", "123", False),
    ("_1XXX", "12345", False),
    ("_1xxx", "1234", True),  # lowercase classes, as Asterisk
    ("_NXX", "200", True),
    ("_NXX", "100", False),
    ("_ZXX", "100", True),
    ("_ZXX", "000", False),
    ("_[15-7]XX", "100", True),
    ("_[15-7]XX", "600", True),
    ("_[15-7]XX", "200", False),
    ("_[15-7]XX", "800", False),
    ("_X.", "1", False),  # `.` needs one more character
    ("_X.", "12", True),
    ("_X.", "12345678", True),
    ("_X!", "1", True),  # `!` takes zero or more
    ("_X!", "123", True),
    ("_X.9", "1234", True),  # after `.` the rest is ignored, as Asterisk does
    ("_+1NXXNXXXXXX", "+12125551234", True),
    ("_+1NXXNXXXXXX", "12125551234", False),
    ("_1-800-XXXX", "18001234", True),  # `-` is readability only
    ("_*XX", "*12", True),
    ("_#", "#", True),
    ("_[12", "1", False),  # unreadable pattern: never matches
    ("_", "", False),
])
def test_match_pattern(pattern: str, number: str, matches: bool) -> None:
    assert match_pattern(pattern, number) is matches


@pytest.mark.parametrize("pattern", ["_[12", "_[]X", "_[9-1]", "_", "1XX"])
def test_parse_pattern_refuses(pattern: str) -> None:
    with pytest.raises(PatternError):
        parse_pattern(pattern)


def _flow(*dnis: str) -> FlowConfig:
    return FlowConfig.model_validate({"dnis": list(dnis), "start": "bye",
                                      "nodes": {"bye": {"type": "hangup"}}})


FLOWS = {
    "exact": _flow("1234"),
    "literal_prefix": _flow("_12XX"),
    "set": _flow("_1[23]XX"),
    "n_class": _flow("_1NXX"),
    "x_class": _flow("_1XXX"),
    "dot": _flow("_1."),
    "bang": _flow("_1!"),
    "any": _flow("_X."),
}


@pytest.mark.parametrize(("remove", "dnis", "expected"), [
    ((), "1234", "exact"),
    (("exact",), "1234", "literal_prefix"),
    (("exact", "literal_prefix"), "1234", "set"),
    (("exact", "literal_prefix", "set"), "1234", "n_class"),
    (("exact", "literal_prefix", "set", "n_class"), "1234", "x_class"),
    (("exact", "literal_prefix", "set", "n_class", "x_class"), "1234", "dot"),
    (("exact", "literal_prefix", "set", "n_class", "x_class", "dot"), "1234", "bang"),
    ((), "12345", "dot"),  # no 4-digit pattern fits 5 digits
    ((), "1", "bang"),
    ((), "99", "any"),
    ((), "9", None),
])
def test_select_flow_specificity(remove: tuple[str, ...], dnis: str, expected: str | None) -> None:
    flows = {k: v for k, v in FLOWS.items() if k not in remove}
    assert select_flow(flows, dnis) == expected


def test_select_flow_ties_by_name_and_uses_each_flows_best_entry() -> None:
    flows = {"b": _flow("_1XXX"), "a": _flow("_1XXX"), "c": _flow("_X.", "5")}
    assert select_flow(flows, "1234") == "a"
    assert select_flow(flows, "5") == "c"
    assert select_flow({"z": _flow("7"), "y": _flow("7")}, "7") == "y"


def test_select_flow_example_dnis() -> None:
    flows = {"main": _flow("100", "_1XXX")}
    assert select_flow(flows, "100") == "main"
    assert select_flow(flows, "1001") == "main"
    assert select_flow(flows, "2001") is None


def test_dnis_problems() -> None:
    flows = {"a": _flow("100", "_1[2"), "b": _flow("100", "")}
    assert dnis_problems(flows) == [
        "flows.a.dnis.1: '_1[2': [ without ]",
        "flows.b.dnis.0: '100' is also a dnis of flow 'a'",
        "flows.b.dnis.1: empty dialled number",
    ]


_ENTRIES = st.sampled_from(["7", "12", "123", "1234", "_1X", "_1XX", "_1X.", "_12!", "_[1-3]X",
                            "_NXX", "_X.", "_1.", "_Z!", "555", "_55X"])


def _oracle(flows: dict[str, FlowConfig], dnis: str) -> str | None:
    """The rules written out the slow, plain way: an exact entry first (the first flow by
    name), else the most specific matching pattern (ties: the first flow by name)."""
    exact = sorted(name for name, flow in flows.items() if dnis in flow.dnis)
    if exact:
        return exact[0]
    best: tuple[tuple[tuple[int, int], ...], str] | None = None
    for name, flow in flows.items():
        for entry in flow.dnis:
            if entry.startswith("_") and match_pattern(entry, dnis):
                cand = (specificity(entry), name)
                if best is None or cand < best:
                    best = cand
    return best[1] if best else None


@given(st.dictionaries(st.sampled_from("abcdef"), st.lists(_ENTRIES, min_size=1, max_size=3),
                       max_size=5),
       st.text(alphabet="0123579", min_size=1, max_size=5))
def test_the_flow_index_selects_by_the_rules(entries: dict[str, list[str]], dnis: str) -> None:
    flows = {name: _flow(*dnis_list) for name, dnis_list in entries.items()}
    index = FlowIndex(flows)
    assert index.select(dnis) == _oracle(flows, dnis) == select_flow(flows, dnis)
