"""docs/admin-guide.md stays true: its TOML examples pass the schema, its commands and log
messages exist in the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from acd.config import parse_config

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "admin-guide.md"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", GUIDE.read_text(), flags=re.S)


def test_the_guide_has_the_flow_examples() -> None:
    text = "\n".join(_toml_blocks())
    for node_type in ("vip", "menu", "set", "hours", "collect", "queue", "hangup"):
        assert f'type = "{node_type}"' in text, node_type
    assert 'escape_digit = "0"' in text


@pytest.mark.parametrize("block", _toml_blocks(), ids=lambda b: b.split("\n", 1)[0])
def test_each_toml_example_passes_the_schema(block: str) -> None:
    example = tomllib.loads(block.replace("<64 hex digits>", "0" * 64))
    base = tomllib.loads((ROOT / "acd.example.toml").read_text())
    parse_config(_merge(base, example))  # raises ConfigError listing every problem


def test_all_examples_together_pass_the_schema() -> None:
    merged = tomllib.loads((ROOT / "acd.example.toml").read_text())
    for block in _toml_blocks():
        merged = _merge(merged, tomllib.loads(block.replace("<64 hex digits>", "0" * 64)))
    parse_config(merged)


def _code() -> str:
    return "\n".join(p.read_text() for p in (ROOT / "acd").rglob("*.py"))


@pytest.mark.parametrize("fragment", [
    "AMI login as", "refused: ", "not attached (%s); retrying in %.1f s", "cannot connect to ",
    "AMI link lost: routing paused until the PBX is back and resynced",
    "ping failed (%s): dropping the connection", "resync done: %d live calls",
    "ping not answered in %g s, but the PBX is sending: ",
    "figures not refreshed: %s", "error applying %s", "%s failed: %s", "does not answer: ",
    "feature code %r from unknown extension %r ignored", "Redis not answering",
    "call %s from %s to %s: flow %s", "call %s queued in %s priority %d",
    "call %s rings agent %s (%s)", "call %s answered by %s after %.1f s", "call %s ended: %s",
    "call %s back in queue %s after %s of agent %s", '"/healthz"', '"/readyz"',
])
def test_log_messages_and_routes_quoted_by_the_guide_exist(fragment: str) -> None:
    assert fragment in _code(), f"the guide quotes {fragment!r}: update docs/admin-guide.md"
