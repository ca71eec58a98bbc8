"""extensions.conf parser and Asterisk extension pattern matching."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Step:
    """One priority: application and its raw (unsubstituted) arguments."""

    priority: int
    label: str | None
    app: str
    args: str


@dataclass
class Extension:
    pattern: str
    steps: dict[int, Step] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)


@dataclass
class Context:
    name: str
    extensions: list[Extension] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)

    def get(self, pattern: str) -> Extension:
        for ext in self.extensions:
            if ext.pattern == pattern:
                return ext
        ext = Extension(pattern)
        self.extensions.append(ext)
        return ext


def pattern_matches(pattern: str, exten: str) -> bool:
    """Asterisk matching: literal, or ``_`` pattern with X N Z [..] . !"""
    if not pattern.startswith("_"):
        return pattern == exten
    return re.fullmatch(_pattern_regex(pattern[1:]), exten) is not None


def _pattern_regex(pat: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pat):
        c = pat[i]
        up = c.upper()
        if up == "X":
            out.append("[0-9]")
        elif up == "Z":
            out.append("[1-9]")
        elif up == "N":
            out.append("[2-9]")
        elif c == ".":
            out.append(".+")
        elif c == "!":
            out.append(".*")
        elif c == "[":
            end = pat.index("]", i)
            out.append("[" + pat[i + 1 : end].replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _specificity(pattern: str) -> tuple[int, str]:
    # Literal extensions win over patterns; among patterns, fewer wildcards first.
    if not pattern.startswith("_"):
        return (0, pattern)
    return (1 + pattern.count(".") + pattern.count("!"), pattern)


class Dialplan:
    def __init__(self) -> None:
        self.contexts: dict[str, Context] = {}
        self.globals: dict[str, str] = {}
        # (context, exten, device) of each ``exten => 7001,hint,SIP/agent1`` line.
        self.hints: list[tuple[str, str, str]] = []
        # find()'s answers: the hold loop of every waiting caller asks the same few again and
        # again (a tenth of the simulator's time at 10,000 callers). Forgotten when the plan
        # is added to (parse, context).
        self._found: dict[tuple[str, str], Extension | None] = {}

    @classmethod
    def load(cls, path: Path | str) -> Dialplan:
        plan = cls()
        plan.parse_file(Path(path))
        return plan

    def parse_file(self, path: Path) -> None:
        pending: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            stripped = line.strip()
            if stripped.startswith("#include"):
                self.parse("".join(pending))
                pending = []
                self.parse_file(path.parent / stripped[len("#include"):].strip().strip('"'))
            else:
                pending.append(line)
        self.parse("".join(pending))

    @classmethod
    def from_text(cls, text: str) -> Dialplan:
        plan = cls()
        plan.parse(text)
        return plan

    def context(self, name: str) -> Context:
        self._found.clear()  # (the caller may add includes to it)
        if name not in self.contexts:
            self.contexts[name] = Context(name)
        return self.contexts[name]

    def parse(self, text: str) -> None:
        self._found.clear()
        section: str | None = None
        last: Extension | None = None
        last_prio = 0
        for raw in text.splitlines():
            line = strip_comment(raw).strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and "]" in line:
                section = line[1 : line.index("]")].strip()
                last = None
                continue
            if section is None or section == "general":
                continue
            if section == "globals":
                if "=" in line:
                    k, v = line.split("=", 1)
                    self.globals[k.strip()] = v.strip()
                continue
            key, _, value = line.partition("=>")
            if not _:
                key, _, value = line.partition("=")
            key = key.strip().lower()
            value = value.strip()
            ctx = self.context(section)
            if key == "include":
                ctx.includes.append(value)
            elif key == "exten":
                pattern, rest = value.split(",", 1)
                prio_s, _, device = rest.partition(",")
                if prio_s.strip().lower() == "hint":
                    self.hints.append((section, pattern.strip(), device.strip()))
                    continue
                last = ctx.get(pattern.strip())
                last_prio = self._add_step(last, rest, 0)
            elif key == "same" and last is not None:
                last_prio = self._add_step(last, value, last_prio)

    @staticmethod
    def _add_step(ext: Extension, rest: str, last_prio: int) -> int:
        prio_s, _, appcall = rest.partition(",")
        prio_s = prio_s.strip()
        label: str | None = None
        m = re.fullmatch(r"([^()]*)\((.*)\)", prio_s)
        if m:
            prio_s, label = m.group(1).strip(), m.group(2).strip()
        if prio_s == "hint":
            return last_prio
        if prio_s == "n":
            prio = last_prio + 1
        elif prio_s.startswith("n+"):
            prio = last_prio + int(prio_s[2:])
        else:
            prio = int(prio_s)
        appcall = appcall.strip()
        if "(" in appcall:
            app = appcall[: appcall.index("(")].strip()
            args = appcall[appcall.index("(") + 1 :]
            args = args[:-1] if args.endswith(")") else args
        else:
            app, args = appcall, ""
        ext.steps[prio] = Step(prio, label, app, args)
        if label:
            ext.labels[label] = prio
        return prio

    def find(self, context: str, exten: str) -> Extension | None:
        """The extension in ``context`` (or its includes) matching ``exten``."""
        key = (context, exten)
        if key in self._found:
            return self._found[key]
        if len(self._found) >= 10_000:  # (numbers dialled are few, but not bounded)
            self._found.clear()
        found = self._found[key] = self._find(context, exten, set())
        return found

    def _find(self, context: str, exten: str, seen: set[str]) -> Extension | None:
        if context in seen or context not in self.contexts:
            return None
        seen.add(context)
        ctx = self.contexts[context]
        matches = [e for e in ctx.extensions if pattern_matches(e.pattern, exten)]
        if matches:
            return min(matches, key=lambda e: _specificity(e.pattern))
        for inc in ctx.includes:
            found = self._find(inc, exten, seen)
            if found is not None:
                return found
        return None


def strip_comment(line: str) -> str:
    """A config line without its `;` comment (`\\;` is a literal semicolon), as Asterisk's
    config parser reads it (extensions.conf, manager.conf)."""
    out: list[str] = []
    i = 0
    while i < len(line):
        if line[i] == "\\" and line[i + 1 : i + 2] == ";":
            out.append(";")
            i += 2
            continue
        if line[i] == ";":
            break
        out.append(line[i])
        i += 1
    return "".join(out)
