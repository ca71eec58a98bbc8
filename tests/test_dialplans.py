"""Every file in dialplans/ (and the compose lab's docker/asterisk/) parses, and the dialplans
keep the contract with the service (acd/contract.py) in both the plain and the FreePBX variant.

The checker below is ours: sections, `exten =>` / `same =>` syntax, priorities (numbers, `n`,
labels), balanced parentheses, `${...}` and `$[...]`, known applications, and Goto / GotoIf /
Gosub targets that exist in the same set of files. asterisklint (PyPI, optional) runs too when
it is installed. The simulated PBX must load each dialplan, since `acd demo` and the end-to-end
tests run them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from acd import contract
from acd.pbxsim.dialplan import Dialplan, pattern_matches
from acd.pbxsim.dialplan import strip_comment as dialplan_strip_comment
from acd.pbxsim.eventfilter import EventFilter, manager_conf_filters

ROOT = Path(__file__).resolve().parent.parent
DIALPLANS = ROOT / "dialplans"
FREEPBX = DIALPLANS / "freepbx"
DOCKER_AST = ROOT / "docker" / "asterisk"

PLAIN = DIALPLANS / "extensions_acd.conf"
LAB = DIALPLANS / "extensions_lab.conf"
FPBX_EXT = FREEPBX / "extensions_custom.conf"
FPBX_GLOBALS = FREEPBX / "globals_custom.conf"
EXTENSION_FILES = [PLAIN, LAB, FPBX_EXT]
OTHER_CONF_FILES = [
    DIALPLANS / "manager_acd.conf", DIALPLANS / "queues_acd.conf", DIALPLANS / "pjsip_lab.conf",
    FREEPBX / "manager_custom.conf", FPBX_GLOBALS,
    *sorted(p for p in DOCKER_AST.glob("*.conf") if p.name != "extensions.conf"),
]

# Applications of Asterisk 18-22 a dialplan here may use; anything else is a typo or a module
# that is gone (Macro and Monitor were removed in Asterisk 21).
KNOWN_APPS = {
    "agi", "answer", "background", "bridge", "busy", "congestion", "dial", "execif", "gosub",
    "gosubif", "goto", "gotoif", "gotoiftime", "hangup", "log", "mixmonitor", "musiconhold",
    "noop", "playback", "playtones", "progress", "queue", "read", "return", "ringing", "set",
    "stopmixmonitor", "userevent", "verbose", "wait", "waitexten", "voicemail", "saynumber",
}
# Contexts FreePBX itself defines (targets a FreePBX snippet may jump to).
FREEPBX_CONTEXTS = frozenset({"from-internal", "from-internal-additional", "ext-queues",
                              "from-queue", "ext-did", "app-blackhole"})


# --- a small extensions.conf checker ------------------------------------------------------------

@dataclass
class Ext:
    pattern: str
    labels: dict[str, int] = field(default_factory=dict)
    priorities: list[int] = field(default_factory=list)


@dataclass
class Parsed:
    contexts: dict[str, dict[str, Ext]] = field(default_factory=dict)
    includes: dict[str, list[str]] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)
    # (file:line, context, extension, app, args)
    calls: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def strip_comment(line: str) -> str:
    return dialplan_strip_comment(line).strip()


def balance_problems(text: str) -> list[str]:
    """Unbalanced (), ${} or $[] in one application call."""
    stack: list[str] = []
    closing = {")": "(", "}": "${", "]": "$["}
    i = 0
    while i < len(text):
        two = text[i:i + 2]
        if two in ("${", "$["):
            stack.append(two)
            i += 2
            continue
        c = text[i]
        if c == "(":
            stack.append("(")
        elif c in closing:
            if not stack or stack[-1] != closing[c]:
                return [f"unexpected {c!r} at column {i + 1}"]
            stack.pop()
        i += 1
    return [f"unclosed {', '.join(stack)}"] if stack else []


_SECTION = re.compile(r"^\[([A-Za-z0-9_.+*-]+)\](\([^)]*\))?$")
_PRIO = re.compile(r"^(?P<prio>\d+|n(?:\+\d+)?|hint)(?:\((?P<label>[A-Za-z0-9_-]+)\))?$")
_APP = re.compile(r"^(?P<app>[A-Za-z][A-Za-z0-9_]*)(?:\((?P<args>.*)\))?$", re.S)


def parse_extensions(paths: list[Path], parsed: Parsed | None = None) -> Parsed:
    out = parsed or Parsed()
    for path in paths:
        _parse_one(path, out)
    return out


def _parse_one(path: Path, out: Parsed) -> None:  # noqa: C901 - one line grammar, kept in one place
    section: str | None = None
    ext: Ext | None = None
    prio = 0
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{_rel(path)}:{n}"
        line = strip_comment(raw)
        if not line:
            continue
        if line.startswith("#include"):
            target = path.parent / line[len("#include"):].strip().strip('"')
            if not target.exists():
                out.problems.append(f"{where}: #include of a missing file {target.name}")
            continue
        if line.startswith("["):
            m = _SECTION.match(line)
            if not m:
                out.problems.append(f"{where}: bad section header {line!r}")
                continue
            section, ext, prio = m.group(1), None, 0
            if section not in ("general", "globals"):
                out.contexts.setdefault(section, {})
                out.includes.setdefault(section, [])
            continue
        if section is None:
            out.problems.append(f"{where}: line outside any section")
            continue
        if section in ("general", "globals"):
            key, sep, value = line.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
                out.problems.append(f"{where}: expected NAME=value in [{section}]")
            elif section == "globals":
                out.globals[key.strip()] = value.strip()
            continue
        key, sep, value = line.partition("=>")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            out.problems.append(f"{where}: expected 'exten =>', 'same =>' or 'include =>'")
            continue
        if key == "include":
            out.includes[section].append(value)
            continue
        if key == "exten":
            pattern, _, rest = value.partition(",")
            pattern = pattern.strip()
            if not pattern or not rest:
                out.problems.append(f"{where}: exten without a priority")
                continue
            ext = out.contexts[section].setdefault(pattern, Ext(pattern))
            prio_s, _, appcall = rest.partition(",")
            m = _PRIO.match(prio_s.strip())
            if not m:
                out.problems.append(f"{where}: bad priority {prio_s.strip()!r}")
                continue
            if m.group("prio") == "hint":
                continue
            if m.group("prio").startswith("n"):
                out.problems.append(f"{where}: 'exten =>' must give a number, not 'n'")
                continue
            prio = int(m.group("prio"))
            if prio != 1 and not ext.priorities:
                out.problems.append(f"{where}: {pattern} starts at priority {prio}, not 1")
        elif key == "same":
            if ext is None:
                out.problems.append(f"{where}: 'same =>' without an 'exten =>' before it")
                continue
            prio_s, _, appcall = value.partition(",")
            m = _PRIO.match(prio_s.strip())
            if not m or m.group("prio") == "hint":
                out.problems.append(f"{where}: bad priority {prio_s.strip()!r}")
                continue
            p = m.group("prio")
            prio = prio + 1 if p == "n" else prio + int(p[2:]) if p.startswith("n+") else int(p)
        else:
            out.problems.append(f"{where}: unknown keyword {key!r}")
            continue
        label = m.group("label")
        if prio in ext.priorities:
            out.problems.append(f"{where}: priority {prio} of {ext.pattern} given twice")
        ext.priorities.append(prio)
        if label:
            if label in ext.labels:
                out.problems.append(f"{where}: label {label!r} given twice in {ext.pattern}")
            ext.labels[label] = prio
        appcall = appcall.strip()
        am = _APP.match(appcall)
        if not am:
            out.problems.append(f"{where}: bad application call {appcall!r}")
            continue
        out.problems += [f"{where}: {p}" for p in balance_problems(appcall)]
        app = am.group("app")
        if app.lower() not in KNOWN_APPS:
            out.problems.append(f"{where}: unknown application {app}")
        out.calls.append((where, section, ext.pattern, app, am.group("args") or ""))


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside (), ${} and $[]."""
    parts, depth, cur = [], 0, []
    for c in text:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


def goto_targets(app: str, args: str) -> list[str]:
    app = app.lower()
    if app in ("goto", "gosub"):
        return [args]
    if app in ("gotoif", "gosubif"):
        branches = split_top(args, "?")
        if len(branches) != 2:
            return ["<no ? in GotoIf>"]
        return [t for t in split_top(branches[1], ":") if t.strip()]
    return []


def target_problems(parsed: Parsed, external: frozenset[str] = frozenset()) -> list[str]:
    out = []
    for where, ctx, exten, app, args in parsed.calls:
        for target in goto_targets(app, args):
            problem = _target_problem(parsed, external, ctx, exten, target)
            if problem:
                out.append(f"{where}: {app}({args}): {problem}")
    for ctx, incs in parsed.includes.items():
        for inc in incs:
            if inc not in parsed.contexts and inc not in external:
                out.append(f"[{ctx}] includes {inc!r}, which exists in no dialplan file")
    return out


def _target_problem(parsed: Parsed, external: frozenset[str], ctx: str, exten: str,
                    target: str) -> str | None:
    parts = [p.strip() for p in split_top(target, ",")]
    if parts[0] == "<no ? in GotoIf>" or len(parts) > 3:
        return "cannot read the target"
    if len(parts) == 1:  # a label or priority of the same extension
        if not parts[0].isdigit() and parts[0] not in parsed.contexts[ctx][exten].labels:
            return f"no label {parts[0]!r} in {ctx},{exten}"
        return None
    tctx, texten, tprio = (ctx, *parts) if len(parts) == 2 else parts
    if tctx in external:
        return None
    if tctx not in parsed.contexts:
        return f"context {tctx!r} exists in no dialplan file"
    if "${" in texten:
        return None  # a computed extension: the context at least exists
    found = [e for p, e in parsed.contexts[tctx].items() if pattern_matches(p, texten)]
    if not found:
        return f"no extension matching {texten!r} in {tctx}"
    if not tprio.isdigit() and all(tprio not in e.labels for e in found):
        return f"no label {tprio!r} at {tctx},{texten}"
    return None


def plain_set() -> Parsed:
    return parse_extensions([PLAIN, LAB])


def freepbx_set() -> Parsed:
    parsed = parse_extensions([FPBX_EXT])
    for line in FPBX_GLOBALS.read_text().splitlines():
        line = strip_comment(line)
        if line:
            key, _, value = line.partition("=")
            parsed.globals[key.strip()] = value.strip()
    return parsed


# --- the checker checks itself ------------------------------------------------------------------

def test_checker_catches_mistakes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text(
        "[a]\n"
        "exten => s,1,NoOp(x)\n"
        " same => n,GotoIf($[${X} = 1]?nolabel)\n"
        " same => n,Goto(missing-ctx,s,1)\n"
        " same => n,Playbak(beep)\n"
        " same => n,Set(A=${B)\n"
        " same => n(dup),NoOp()\n"
        " same => n(dup),NoOp()\n"
        "same => n,Goto(a,9999,1)\n"
        "[b]\n"
        " same => n,NoOp()\n"
        "include => nowhere\n"
    )
    parsed = parse_extensions([bad])
    problems = parsed.problems + target_problems(parsed)
    text = "\n".join(problems)
    for expected in ("no label 'nolabel'", "context 'missing-ctx'", "unknown application Playbak",
                     "unexpected ')'", "label 'dup' given twice", "no extension matching '9999'",
                     "'same =>' without an 'exten =>'", "includes 'nowhere'"):
        assert expected in text, (expected, problems)
    assert balance_problems("NoOp($[1 + ${X}") == ["unclosed (, $["]
    assert balance_problems('GotoIf($["${A}" = "1"]?done)') == []


# --- every file parses --------------------------------------------------------------------------

@pytest.mark.parametrize("parsed_set", [plain_set, freepbx_set], ids=["plain", "freepbx"])
def test_extensions_files_parse_and_targets_exist(parsed_set: object) -> None:
    parsed = parsed_set()  # type: ignore[operator]
    external = FREEPBX_CONTEXTS if parsed_set is freepbx_set else frozenset()
    assert parsed.problems == []
    assert target_problems(parsed, external) == []


def test_compose_extensions_conf_includes_resolve(tmp_path: Path) -> None:
    """docker/asterisk/extensions.conf #includes acd/... (dialplans/ mounted there)."""
    etc = _compose_etc(tmp_path)
    plan = Dialplan.load(etc / "extensions.conf")
    assert set(contract.ALL_CONTEXTS) <= set(plan.contexts)
    assert {"acd-lab-trunk", "acd-lab-phones"} <= set(plan.contexts)
    assert plan.globals.get(contract.VAR_FALLBACK_QUEUE) == "support"


def _compose_etc(tmp_path: Path) -> Path:
    etc = tmp_path / "etc-asterisk"
    etc.mkdir()
    shutil.copy(DOCKER_AST / "extensions.conf", etc / "extensions.conf")
    (etc / "acd").symlink_to(DIALPLANS)
    return etc


_KV = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*\s*(=>?)\s*\S.*$")


@pytest.mark.parametrize("path", OTHER_CONF_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_other_config_files_parse(path: Path) -> None:
    """manager/queues/pjsip/rtp/musiconhold style: [section](template), key = value, #include."""
    problems = []
    section = "(top)" if path == FPBX_GLOBALS else None  # included inside FreePBX's [globals]
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = strip_comment(raw)
        if not line:
            continue
        if line.startswith("#include"):
            continue
        if line.startswith("["):
            if not re.fullmatch(r"\[[A-Za-z0-9_.-]+\](\([A-Za-z0-9_,!+-]*\))?", line):
                problems.append(f"{n}: bad section header {line!r}")
            section = line
        elif section is None:
            problems.append(f"{n}: key outside any section")
        elif not _KV.match(line):
            problems.append(f"{n}: expected key = value, got {line!r}")
    assert problems == []


# --- the contract, in both variants ---------------------------------------------------------

@pytest.mark.parametrize("parsed_set", [plain_set, freepbx_set], ids=["plain", "freepbx"])
def test_contract_contexts_variables_and_feature_codes(parsed_set: object) -> None:
    parsed = parsed_set()  # type: ignore[operator]
    assert set(contract.ALL_CONTEXTS) <= set(parsed.contexts)
    assert "s" in parsed.contexts[contract.CTX_HOLD]
    assert contract.AGENT_EXTEN in parsed.contexts[contract.CTX_AGENT]
    assert any(pattern_matches(p, "100") for p in parsed.contexts[contract.CTX_INBOUND])
    used = " ".join(args for *_, args in parsed.calls)
    for var in contract.SERVICE_VARIABLES:
        assert var in parsed.globals or re.search(r"\$\{(GLOBAL\()?" + var + r"\)?\}", used), var
    assert parsed.globals.get(contract.VAR_FALLBACK_QUEUE)
    features = parsed.contexts[contract.CTX_FEATURES]
    events = {(where, exten): args for where, ctx, exten, app, args in parsed.calls
              if ctx == contract.CTX_FEATURES and app == "UserEvent"}
    for code, action in contract.FEATURE_CODES.items():
        assert code in features, code
        bodies = [args for (_, exten), args in events.items() if exten == code]
        assert any(b.startswith(f"{contract.USEREVENT_AGENT},Action: {action},") for b in bodies)
        assert all("Agent: ${CALLERID(num)}" in b for b in bodies)


def test_freepbx_acd_contexts_are_the_plain_ones_line_for_line() -> None:
    plain, fpbx = Dialplan.load(PLAIN), Dialplan.load(FPBX_EXT)
    for name in contract.ALL_CONTEXTS:
        a, b = plain.contexts[name], fpbx.contexts[name]
        assert [(e.pattern, e.steps, e.labels) for e in a.extensions] == \
               [(e.pattern, e.steps, e.labels) for e in b.extensions], name


def test_freepbx_phones_reach_features_and_inbound_route_reaches_acd() -> None:
    plan = Dialplan.load(FPBX_EXT)
    assert contract.CTX_FEATURES in plan.contexts["from-internal-custom"].includes
    for code in contract.FEATURE_CODES:
        assert plan.find("from-internal-custom", code) is not None
    entry = plan.find("acd-from-freepbx", "s")
    assert entry is not None
    assert any("acd-inbound" in s.args for s in entry.steps.values())


def test_lab_routes_trunk_to_inbound_and_phones_to_features() -> None:
    plan = Dialplan.load(PLAIN)
    plan.parse_file(LAB)
    for dialled in ("100", "1234", "+15551234"):
        ext = plan.find("acd-lab-trunk", dialled)
        assert ext is not None and ext.steps[1].app == "Goto"
        assert ext.steps[1].args.startswith(f"{contract.CTX_INBOUND},")
    for code in contract.FEATURE_CODES:
        assert plan.find("acd-lab-phones", code) is not None
    assert plan.find("acd-lab-phones", "100") is not None


# --- the simulated PBX loads each dialplan ------------------------------------------------------

@pytest.mark.parametrize("path", EXTENSION_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pbxsim_loads_each_dialplan(path: Path) -> None:
    plan = Dialplan.load(path)
    assert plan.contexts
    for ctx in contract.ALL_CONTEXTS:
        if path != LAB:
            assert ctx in plan.contexts
            assert all(ext.steps for ext in plan.contexts[ctx].extensions), ctx


# --- the rest of the lab agrees with the dialplan and acd.example.toml --------------------------

def _agents(path: Path) -> dict[str, dict[str, object]]:
    return tomllib.loads(path.read_text())["agents"]  # type: ignore[no-any-return]


def _sections(path: Path) -> dict[str, list[dict[str, str]]]:
    """section name -> one dict of keys per occurrence (pjsip.conf repeats names by type)."""
    out: dict[str, list[dict[str, str]]] = {}
    current: dict[str, str] | None = None
    for raw in path.read_text().splitlines():
        line = strip_comment(raw)
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[([^\]]+)\](?:\(([^)]*)\))?$", line)
        if m:
            current = {"__template__": m.group(2) or ""}
            out.setdefault(m.group(1), []).append(current)
        elif current is not None:
            key, _, value = line.partition("=>" if "=>" in line else "=")
            current.setdefault(key.strip(), value.strip())
            if key.strip() == "member":
                current.setdefault("members", "")
                current["members"] += value.strip() + "\n"
    return out


@pytest.mark.parametrize("config", ["acd.example.toml", "docker/acd.toml"])
def test_fallback_queue_has_every_agent_and_matches_the_global(config: str) -> None:
    queues = _sections(DIALPLANS / "queues_acd.conf")
    name = Dialplan.load(PLAIN).globals[contract.VAR_FALLBACK_QUEUE]
    assert name in queues
    cfg = tomllib.loads((ROOT / config).read_text())
    assert cfg["pbx"]["fallback_queue"] == name
    members = {m.split(",")[0] for m in queues[name][0]["members"].split()}
    assert members == {a["interface"] for a in _agents(ROOT / config).values()}


def test_pjsip_lab_has_every_agent_with_its_extension_as_callerid() -> None:
    sections = _sections(DIALPLANS / "pjsip_lab.conf")
    for aid, agent in _agents(ROOT / "acd.example.toml").items():
        tech, _, endpoint = str(agent["interface"]).partition("/")
        assert tech == "PJSIP", aid
        kinds = {s["__template__"]: s for s in sections[endpoint]}
        ep = kinds["lab-endpoint"]
        assert ep["context"] == "acd-lab-phones"
        assert ep["callerid"].endswith(f"<{agent['extension']}>"), aid
        assert {"lab-auth", "lab-aor"} <= set(kinds)
        assert "CHANGE-ME" in kinds["lab-auth"]["password"]  # placeholders only
    assert sections["caller"][0]["context"] == "acd-lab-trunk"


def test_ami_user_least_privilege_same_in_both_variants() -> None:
    plain = _sections(DIALPLANS / "manager_acd.conf")["acd"][0]
    fpbx = _sections(FREEPBX / "manager_custom.conf")["acd"][0]
    for user in (plain, fpbx):
        assert set(user["read"].split(",")) == {"call", "agi", "user", "system"}
        assert set(user["write"].split(",")) == {"call", "agi", "originate", "reporting"}
        assert user["deny"] == "0.0.0.0/0.0.0.0"
        assert user["secret"] == "change-me"  # a placeholder, never a real secret
    assert plain == fpbx


# --- asterisklint (optional: pip install asterisklint==0.4.3) -----------------------------------

# Ignored on purpose: applications newer than its Asterisk 13 list; [general]/[globals]
# placement, which only means something for a whole extensions.conf (these are include files).
ALINT_IGNORE = "E_APP_MISSING,H_DP_GENERAL_MISPLACED,H_DP_GLOBALS_MISPLACED"


def _asterisklint() -> list[str]:
    exe = Path(sys.executable).parent / "asterisklint"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("asterisklint")
    assert found is not None, "asterisklint is missing: pip install asterisklint==0.4.3"
    return [found]


# extensions_lab.conf jumps into extensions_acd.conf: linted with it, through the compose lab.
@pytest.mark.parametrize("path", [PLAIN, FPBX_EXT], ids=lambda p: str(p.relative_to(ROOT)))
def test_asterisklint_finds_nothing(path: Path) -> None:
    cmd = _asterisklint()
    env = {**os.environ, "ALINT_IGNORE": ALINT_IGNORE}
    res = subprocess.run([*cmd, "dialplan-check", str(path)], capture_output=True, text=True,
                         env=env, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_asterisklint_on_the_compose_dialplan(tmp_path: Path) -> None:
    cmd = _asterisklint()
    etc = _compose_etc(tmp_path)
    env = {**os.environ, "ALINT_IGNORE": "E_APP_MISSING"}
    res = subprocess.run([*cmd, "dialplan-check", str(etc / "extensions.conf")],
                         capture_output=True, text=True, env=env, timeout=60, cwd=etc)
    assert res.returncode == 0, res.stdout + res.stderr


# --- the AMI user's event filters ---------------------------------------------------------------

MANAGER_FILES = {
    "plain": DIALPLANS / "manager_acd.conf",
    "freepbx": FREEPBX / "manager_custom.conf",
    "docker": DOCKER_AST / "manager.conf",
}
# What acd reads: the events of its table, FullyBooted, and the CoreShowChannels list.
SERVICE_EVENTS = frozenset(__import__("acd.ami.events", fromlist=["TABLE"]).TABLE) | {
    "FullyBooted", "CoreShowChannel", "CoreShowChannelsComplete"}
# Only a literal event name between "^Event: " and a non-alphanumeric: the same regex in
# POSIX ERE (Asterisk's regcomp) and in Python's re, so this test runs what Asterisk runs.
_PORTABLE_FILTER = re.compile(r"!?\^Event: [A-Za-z]+\[\^A-Za-z0-9\]")


def _eventfilters(path: Path, user: str = "acd") -> list[str]:
    """The eventfilter values of [user] in a manager.conf, following #include "acd/..." (the
    compose lab's etc/asterisk/acd is dialplans/)."""
    def lab(name: str, conf: Path) -> Path | None:
        target = DIALPLANS / name.removeprefix("acd/") if name.startswith("acd/") \
            else conf.parent / name
        return target if target.exists() else None

    return manager_conf_filters(path, user, lab)


def _passes(filters: list[str], event_text: str) -> bool:
    """Asterisk's evaluation (manager.conf.sample): no filter, everything; include filters
    only: an implied exclude-all first; excludes ('!') are applied last."""
    return EventFilter(filters).passes_text(event_text)


def _trace_events() -> dict[str, list[str]]:
    """event name -> the raw frames of that event in every recorded trace."""
    import json

    out: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests" / "fixtures" / "traces").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record.get("dir") != "in":
                continue
            for frame in record["frame"].split("\r\n\r\n"):
                if frame.startswith("Event: "):
                    name = frame.split("\r\n", 1)[0].removeprefix("Event: ")
                    out.setdefault(name, []).append(frame + "\r\n\r\n")
    return out


@pytest.mark.parametrize("variant", list(MANAGER_FILES))
def test_ami_event_filters_pass_exactly_what_acd_uses(variant: str) -> None:
    filters = _eventfilters(MANAGER_FILES[variant])
    assert filters, "no eventfilter for [acd]: a busy PBX would flood acd"
    for f in filters:
        assert _PORTABLE_FILTER.fullmatch(f), f"not in the portable form: {f!r}"
    traces = _trace_events()
    assert len(traces) > 30  # the traces hold many kinds of events
    passed = {name for name, frames in traces.items()
              if any(_passes(filters, frame) for frame in frames)}
    assert passed == SERVICE_EVENTS & set(traces)
    for name, frames in traces.items():  # a name is either always passed or always dropped
        assert len({_passes(filters, frame) for frame in frames}) == 1, name
    for name in SERVICE_EVENTS:  # every event acd uses, recorded or not
        assert _passes(filters, f"Event: {name}\r\nPrivilege: call,all\r\nUniqueid: 1\r\n\r\n")
    for name in ("HangupRequest", "HangupHandlerRun", "UserEventX", "BridgeEnterX",
                 "CoreShowChannelsCompleteX", "Newexten", "VarSet"):
        assert not _passes(filters, f"Event: {name}\r\nPrivilege: call,all\r\n\r\n"), name
    # a header value that looks like a wanted event does not smuggle a frame through
    assert not _passes(filters, "Event: VarSet\r\nPrivilege: dialplan,all\r\n"
                                "Value: Event: Hangup\r\n\r\n")


def test_ami_event_filters_same_in_every_variant() -> None:
    found = {variant: _eventfilters(path) for variant, path in MANAGER_FILES.items()}
    assert found["plain"] == found["freepbx"] == found["docker"]
