"""Variable substitution (``${...}``) and expressions (``$[...]``) as in Asterisk."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

Resolver = Callable[[str], str]


# A template, parsed once: literal text, or a ${...} / $[...] whose inside is a template too
# (or, for a ${...} with nothing to expand inside, "=" and its text: most are plain names).
Part = str | tuple[str, "Template | str"]
Template = tuple[Part, ...]


def substitute(text: str, resolve: Resolver) -> str:
    """Expand ``${NAME}``, ``${FUNC(arg)}``, ``${VAR:off:len}`` and ``$[expr]``."""
    if "$" not in text:
        return text
    return _render(_parse(text), resolve)


def _render(template: Template, resolve: Resolver) -> str:
    out: list[str] = []
    for part in template:
        if isinstance(part, str):
            out.append(part)
        else:
            opener, inner = part
            if isinstance(inner, str):  # ("=", a plain name): nothing inside to expand
                out.append(_variable(inner, resolve))
                continue
            text = _render(inner, resolve)
            out.append(_variable(text, resolve) if opener == "{" else evaluate(text))
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Template:
    """The parts of a template (a dialplan's texts are few and run again and again: the
    simulator's hold loop runs them for every waiting caller every 5 s)."""
    out: list[Part] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("$", i)  # literal text up to the next '$' in one piece (not per char)
        if j < 0:
            out.append(text[i:])
            break
        if j + 1 < n and text[j + 1] in "{[":
            out.append(text[i:j])
            opener, closer = ("{", "}") if text[j + 1] == "{" else ("[", "]")
            end = _matching(text, j + 1, opener, closer)
            if end < 0:
                out.append(text[j:])
                break
            inner = _parse(text[j + 2 : end])
            if opener == "{" and len(inner) == 1 and isinstance(inner[0], str):
                out.append(("=", inner[0]))
            else:
                out.append((opener, inner))
            i = end + 1
        else:
            out.append(text[i : j + 1])
            i = j + 1
    return tuple(p for p in out if p != "")


def _matching(text: str, start: int, opener: str, closer: str) -> int:
    depth = 0
    for j in range(start, len(text)):
        if text[j] == opener:
            depth += 1
        elif text[j] == closer:
            depth -= 1
            if depth == 0:
                return j
    return -1


def _variable(expr: str, resolve: Resolver) -> str:
    name, off, length = _variable_spec(expr)
    value = resolve(name)
    if off is None:
        return value
    value = value[off:]
    return value if length is None else value[:length]


_SPEC = re.compile(r"([^:]+?)(?::(-?\d+)(?::(-?\d+))?)?")


@functools.lru_cache(maxsize=4096)
def _variable_spec(expr: str) -> tuple[str, int | None, int | None]:
    """``NAME[:offset[:length]]`` taken apart once per text (the hold loop asks the same
    few names of every waiting caller every 5 s); a function call's text is a name."""
    m = _SPEC.fullmatch(expr)
    if m is None or "(" in expr:
        return expr, None, None
    off, length = m.group(2), m.group(3)
    return (m.group(1), None if off is None else int(off),
            None if length is None else int(length))


_TOKEN = re.compile(r'\s*("(?:[^"]*)"|<=|>=|!=|=~|[-+*/%()=<>&|!]|[^\s()=<>&|!+*/%-]+)')


def _tokens(expr: str) -> list[str]:
    pos, out = 0, []
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            break
        out.append(m.group(1))
        pos = m.end()
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
    return out


class _Parser:
    LEVELS: tuple[tuple[str, ...], ...] = (
        ("|",), ("&",), ("=", "!=", "<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"),
    )

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def parse(self, level: int = 0) -> str:
        if level == len(self.LEVELS):
            return self.unary()
        left = self.parse(level + 1)
        while self.peek() in self.LEVELS[level]:
            op = self.take()
            right = self.parse(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> str:
        tok = self.peek()
        if tok == "-" or tok == "!":
            self.take()
            val = self.unary()
            if tok == "!":
                return "1" if _false(val) else "0"
            num = _num(val)
            return _fmt(-num) if num is not None else "-" + val
        if tok == "(":
            self.take()
            val = self.parse()
            if self.peek() == ")":
                self.take()
            return val
        if tok is None:
            return ""
        self.take()
        return tok[1:-1] if len(tok) >= 2 and tok[0] == tok[-1] == '"' else tok


def _num(s: str) -> float | None:
    try:
        return float(s.strip())
    except ValueError:
        return None


def _fmt(v: float) -> str:
    return str(int(v)) if v == int(v) else repr(v)


def _false(s: str) -> bool:
    return s == "" or _num(s) == 0


def _apply(op: str, a: str, b: str) -> str:
    if op == "|":
        return a if not _false(a) else b
    if op == "&":
        return a if not (_false(a) or _false(b)) else "0"
    na, nb = _num(a), _num(b)
    if op in ("=", "!=", "<", ">", "<=", ">="):
        x: float | str
        y: float | str
        x, y = (na, nb) if na is not None and nb is not None else (a, b)
        res = {
            "=": x == y, "!=": x != y, "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y,  # type: ignore[operator]
        }[op]
        return "1" if res else "0"
    if na is None or nb is None:
        return "0"
    if op == "+":
        return _fmt(na + nb)
    if op == "-":
        return _fmt(na - nb)
    if op == "*":
        return _fmt(na * nb)
    if nb == 0:
        return "0"
    if op == "/":
        return _fmt(float(int(na / nb)))
    return _fmt(na % nb)


@functools.lru_cache(maxsize=4096)
def evaluate(expr: str) -> str:
    """Evaluate an Asterisk ``$[...]`` expression (already substituted). Pure, so cached: the
    hold loops of thousands of callers evaluate the same few texts every second."""
    return _Parser(_tokens(expr)).parse()
