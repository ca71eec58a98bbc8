"""docs/simulator.md stays true: its pasted outputs are what the commands print today, it
names every scenario key, and it lists every example scenario."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from pydantic import BaseModel

from acd.cli import main
from acd.simulate.scenario import MixConfig, RosterConfig, Scenario, TrafficConfig

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "simulator.md"
BLOCK = re.compile(r"<!-- output: (acd [^>]+) -->\n```text\n(.*?)```", re.S)


@pytest.fixture(autouse=True)
def _keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """`acd.cli.main` sets up the root logger for a process: not for the test session's."""
    monkeypatch.setattr("acd.cli.setup_logging", lambda *args, **kwargs: None)


def blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(DOC.read_text())


def test_the_doc_has_outputs() -> None:
    assert [cmd.split()[1] for cmd, _ in blocks()] == ["simulate", "erlang"]


@pytest.mark.parametrize(("command", "pasted"), blocks(), ids=lambda v: str(v)[:40])
def test_pasted_outputs_are_current(command: str, pasted: str, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """If this fails after a deliberate change, paste the command's new output into the doc."""
    monkeypatch.chdir(ROOT)
    assert main(shlex.split(command)[1:]) == 0
    assert capsys.readouterr().out == pasted


def keys(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_every_scenario_key_is_documented() -> None:
    text = DOC.read_text()
    for model in (Scenario, TrafficConfig, MixConfig, RosterConfig):
        for key in keys(model):
            assert f"`{key}" in text or f"{key}`" in text or f".{key}" in text, (model, key)
    for dist in ("exponential", "lognormal", "gamma", "fixed", "uniform", "infinite"):
        assert f"| `{dist}` |" in text


def test_every_example_scenario_is_listed() -> None:
    text = DOC.read_text()
    for path in (ROOT / "docs" / "scenarios").glob("*.toml"):
        assert f"[`{path.name}`](scenarios/{path.name})" in text
