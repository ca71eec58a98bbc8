"""A simulation scenario: one TOML file, validated like the service's config (pydantic,
extra="forbid", every problem at once by key path, raised as `ConfigError`).

The centre is described with the service's own models: `[queues.NAME]` is an
`acd.config.QueueConfig`, so every routing policy a queue can have in acd.toml is set the same way
in a scenario; agent skills are the config's SkillMap (level 1-5). What the service cannot know
is added here: traffic per queue (`[traffic.NAME]`), agent rosters (`[[roster]]`), how long to run
and how long to warm up. See docs/simulator.md.

`--set KEY=VALUE` overrides (`apply_overrides`) are applied to the parsed TOML before
validation, so an override is checked exactly like the file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from acd.config import ConfigError, Name, QueueConfig, SkillMap, _pydantic_problems
from acd.core.model import PRIORITY_VIP
from acd.simulate.dists import NO_RING, PATIENT, Duration, Patience

MAX_CALLS = 10_000_000
MAX_DURATION_S = 366 * 86400.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MixConfig(_Model):
    """A share of a queue's callers who need extra skills (a language, a product)."""

    label: Name = Field(description="the segment's name in the figures, e.g. fr")
    share: float = Field(gt=0, le=1, description="share 0..1 of the queue's callers")
    skills: SkillMap = Field(default_factory=dict, description="required skill -> minimum "
                             "level, added to the queue's own skills")


class TrafficConfig(_Model):
    calls_per_hour: float = Field(gt=0, le=1_000_000, description="Poisson arrival rate")
    talk: Duration = Field(description="time on the call with the agent (talk + hold); the "
                           "agent then wraps up for the queue's wrapup_s")
    patience: Patience = Field(PATIENT, description="how long a caller waits before "
                               "hanging up (default: infinite)")
    vip_share: float = Field(0.0, ge=0, le=1, description="share of callers who are VIP")
    vip_priority: int = Field(PRIORITY_VIP, ge=0, le=99, description="their priority class "
                              "(normal callers have 0; 0: VIP callers are counted apart but "
                              "not answered first)")
    mix: list[MixConfig] = Field(default_factory=list, description="segments needing extra "
                                 "skills; the rest of the callers (1 - sum of shares) need "
                                 "only the queue's skills")

    @field_validator("mix")
    @classmethod
    def _shares(cls, mix: list[MixConfig]) -> list[MixConfig]:
        if sum(m.share for m in mix) > 1 + 1e-9:
            raise ValueError("the shares add up to more than 1")
        labels = [m.label for m in mix]
        if len(set(labels)) != len(labels):
            raise ValueError("each label may appear once")
        return mix


class RosterConfig(_Model):
    count: int = Field(ge=0, le=100_000, description="agents in this group")
    name: Name = Field("agent", description="prefix of their ids: agent-001, agent-002, ...")
    skills: SkillMap = Field(default_factory=dict, description="skill -> level 1-5")
    queues: list[Name] = Field(default_factory=list, description="queues served; empty: every "
                               "queue whose skills they hold (as agents.NAME.queues)")
    ring: Duration = Field(NO_RING, description="from the claim to the answer (the phone "
                           "rings); default 0")


class Scenario(_Model):
    description: str = ""
    seed: int = Field(1, description="default seed (--seed overrides it)")
    calls: int | None = Field(None, ge=1, le=MAX_CALLS, description="stop arrivals after this "
                              "many calls arrived after the warm-up (all queues)")
    duration_s: float | None = Field(None, gt=0, le=MAX_DURATION_S, description="or: measure "
                                     "the calls arriving in this span after the warm-up")
    warmup_s: float = Field(0.0, ge=0, le=MAX_DURATION_S, description="calls arriving before "
                            "this are simulated but not counted")
    short_abandon_s: int = Field(5, ge=0, le=600, description="as in acd.toml")
    queues: dict[Name, QueueConfig] = Field(min_length=1)
    traffic: dict[Name, TrafficConfig] = Field(min_length=1)
    roster: list[RosterConfig] = Field(min_length=1)


def _cross_check(sc: Scenario) -> list[str]:
    """References between sections, which the schema cannot see."""
    out = [f"traffic.{q}: unknown queue {q!r} (no [queues.{q}])"
           for q in sc.traffic if q not in sc.queues]
    if sc.calls is None and sc.duration_s is None:
        out.append("calls: required key is missing (or give duration_s)")
    elif sc.calls is not None and sc.duration_s is not None:
        out.append("duration_s: give either calls or duration_s, not both")
    prefixes: dict[str, int] = {}
    for i, roster in enumerate(sc.roster):
        for j, q in enumerate(roster.queues):
            if q not in sc.queues:
                out.append(f"roster.{i}.queues.{j}: unknown queue {q!r}")
        if roster.name in prefixes:
            out.append(f"roster.{i}.name: {roster.name!r} is also the name of roster."
                       f"{prefixes[roster.name]} (agent ids would clash)")
        prefixes[roster.name] = i
    return out


# pydantic names the distribution's tag in the path (traffic.q.talk.uniform.high_s): drop it
_DIST_TAG = re.compile(r"\.(talk|patience|ring)\.(exponential|lognormal|gamma|fixed|uniform|"
                       r"infinite)(?=[.:])")


def parse_scenario(data: dict[str, Any]) -> Scenario:
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_DIST_TAG.sub(r".\1", p) for p in _pydantic_problems(exc)]) from None
    problems = _cross_check(sc)
    if problems:
        raise ConfigError(problems)
    return sc


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, override (`KEY=VALUE` strings, see apply_overrides) and validate a scenario."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"not valid TOML: {exc}"]) from None
    apply_overrides(data, overrides)
    return parse_scenario(data)


# --- --set KEY=VALUE ----------------------------------------------------------------------------

def _key_path(key: str) -> list[str]:
    """A dotted TOML key (quoted parts allowed: queues."a.b".wrapup_s) as its parts."""
    try:
        node: Any = tomllib.loads(f"{key} = 0")
    except tomllib.TOMLDecodeError:
        raise ConfigError([f"--set {key}: not a dotted TOML key"]) from None
    parts: list[str] = []
    while isinstance(node, dict):
        part, node = next(iter(node.items()))
        parts.append(part)
    return parts


def _value(key: str, text: str) -> Any:
    """The value as TOML (30, 0.5, true, "x", [1, 2], { type = "fixed", value_s = 3 }); a bare
    word that is not TOML (short_abandons_excluded) is taken as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if text and all(ch.isalnum() or ch in "_-./:" for ch in text):
            return text
        raise ConfigError([f"--set {key}: {text!r} is not a TOML value"]) from None


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> None:
    """Set each `KEY=VALUE` in the parsed TOML; a number indexes an array of tables
    (roster.0.count=40). Missing tables are created; the result is validated afterwards."""
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError([f"--set {item!r}: expected KEY=VALUE"])
        parts = _key_path(key)
        node: Any = data
        for depth, part in enumerate(parts[:-1]):
            where = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                node = _item(node, part, key, where)
            elif isinstance(node, dict):
                node = node.setdefault(part, {})
            else:
                raise ConfigError([f"--set {key}: {where} is not a table"])
        last = parts[-1]
        value = _value(key, text.strip())
        if isinstance(node, list):
            node[_index(node, last, key)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError([f"--set {key}: {'.'.join(parts[:-1])} is not a table"])


def _index(items: list[Any], part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise ConfigError([f"--set {key}: no item {part!r} (there are {len(items)})"])
    return int(part)


def _item(items: list[Any], part: str, key: str, where: str) -> Any:
    value = items[_index(items, part, key)]
    if not isinstance(value, dict):
        raise ConfigError([f"--set {key}: {where} is not a table"])
    return value
