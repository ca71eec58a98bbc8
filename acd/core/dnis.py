"""Dialled number -> IVR flow, with Asterisk extension patterns.

Pattern rules (as Asterisk's pbx.c matches them): a pattern starts with `_`; `X` = 0-9,
`Z` = 1-9, `N` = 2-9 (lowercase too), `[15-7]` = a set with ranges, `.` = one or more of
anything, `!` = zero or more; whatever follows `.` or `!` is ignored, as Asterisk does; `-` and
spaces in a pattern are readability fluff and skipped. Any other character is a literal.
Without `_` the entry is an exact number.

Which entry wins (`select_flow`), also Asterisk's order:
1. an exact number beats any pattern;
2. patterns compare position by position and the first position that differs decides: the
   narrower class wins (a literal, then a set by size, N (8), Z (9), X (10), then `.`, then `!`;
   same size: the lower first character); a pattern that ends there loses to one that goes on
   (`_1XXX` beats `_1.` for 1234);
3. remaining ties: the flow name, alphabetically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from acd.config import FlowConfig

_CLASSES = {"X": "0123456789", "Z": "123456789", "N": "23456789"}
_DOT, _BANG, _END = (1000, 0), (2000, 0), (3000, 0)

Token = frozenset[str] | str  # a set of allowed characters, or "." / "!" (tail wildcards)


class PatternError(ValueError):
    """An Asterisk pattern that cannot be read (e.g. an unclosed `[`)."""


def _bracket(body: str, pattern: str) -> frozenset[str]:
    chars: set[str] = set()
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            lo, hi = body[i], body[i + 2]
            if lo > hi:
                raise PatternError(f"{pattern!r}: range {lo}-{hi} is backwards")
            chars.update(chr(c) for c in range(ord(lo), ord(hi) + 1))
            i += 3
        else:
            chars.add(body[i])
            i += 1
    if not chars:
        raise PatternError(f"{pattern!r}: empty []")
    return frozenset(chars)


def parse_pattern(pattern: str) -> list[Token]:
    """The tokens of a `_` pattern; raises PatternError."""
    if not pattern.startswith("_") or len(pattern) < 2:
        raise PatternError(f"{pattern!r}: a pattern starts with _ and has at least one character")
    tokens: list[Token] = []
    i, body = 0, pattern[1:]
    while i < len(body):
        c = body[i]
        if c in ".!":
            tokens.append(c)
            break  # Asterisk stops reading the pattern here
        if c == "[":
            end = body.find("]", i)
            if end < 0:
                raise PatternError(f"{pattern!r}: [ without ]")
            tokens.append(_bracket(body[i + 1:end], pattern))
            i = end + 1
            continue
        if c not in "- ":
            tokens.append(frozenset(_CLASSES.get(c.upper(), c)))
        i += 1
    return tokens


def _match_tokens(tokens: list[Token], number: str) -> bool:
    for i, tok in enumerate(tokens):
        if tok == ".":
            return len(number) > i
        if tok == "!":
            return True
        if i >= len(number) or number[i] not in tok:
            return False
    return len(number) == len(tokens)


def match_pattern(pattern: str, number: str) -> bool:
    """Does `number` match this dnis entry (exact number, or `_` pattern)? Bad patterns: False."""
    if not pattern.startswith("_"):
        return pattern == number
    try:
        return _match_tokens(parse_pattern(pattern), number)
    except PatternError:
        return False


def specificity(pattern: str) -> tuple[tuple[int, int], ...]:
    """Sort key of a `_` pattern: lower is more specific (rule 2 above)."""
    key: list[tuple[int, int]] = []
    for tok in parse_pattern(pattern):
        if tok == ".":
            return (*key, _DOT)
        if tok == "!":
            return (*key, _BANG)
        key.append((len(tok), ord(min(tok))))
    return (*key, _END)


class FlowIndex:
    """select_flow for one set of flows, made once: an exact number is one dict look-up and
    the patterns are tried most specific first (a service with a thousand flows otherwise
    walked every flow's every entry for each caller)."""

    def __init__(self, flows: Mapping[str, FlowConfig]) -> None:
        self._exact: dict[str, str] = {}
        patterns: list[tuple[tuple[tuple[int, int], ...], str, str]] = []
        for name, flow in flows.items():
            for entry in flow.dnis:
                if entry not in self._exact or name < self._exact[entry]:
                    self._exact[entry] = name
                if entry.startswith("_"):
                    patterns.append((specificity(entry), name, entry))
        patterns.sort()
        self._patterns = [(entry, name) for _key, name, entry in patterns]

    def select(self, dnis: str) -> str | None:
        exact = self._exact.get(dnis)
        if exact is not None:
            return exact
        for entry, name in self._patterns:
            if match_pattern(entry, dnis):
                return name
        return None


def select_flow(flows: Mapping[str, FlowConfig], dnis: str) -> str | None:
    """The flow for a dialled number, or None when no entry matches (a service keeps a
    FlowIndex per config instead of making one per number)."""
    return FlowIndex(flows).select(dnis)


def dnis_problems(flows: Mapping[str, FlowConfig]) -> list[str]:
    """Config check: unreadable patterns, and the same entry given to two flows."""
    out: list[str] = []
    owner: dict[str, str] = {}
    for name, flow in flows.items():
        for i, entry in enumerate(flow.dnis):
            out += _entry_problems(f"flows.{name}.dnis.{i}", entry)
            if entry in owner and owner[entry] != name:
                out.append(f"flows.{name}.dnis.{i}: {entry!r} is also a dnis of flow "
                           f"{owner[entry]!r}")
            owner.setdefault(entry, name)
    return out


def _entry_problems(key: str, entry: str) -> Iterable[str]:
    if not entry:
        return [f"{key}: empty dialled number"]
    if entry.startswith("_"):
        try:
            parse_pattern(entry)
        except PatternError as exc:
            return [f"{key}: {exc}"]
    return []
