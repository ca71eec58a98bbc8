"""Config validation: every problem at once, named by its key path; exit code 2."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from acd.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "acd.example.toml"


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text())


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def test_example_and_demo_configs_are_valid() -> None:
    cfg = load_config(EXAMPLE)
    assert set(cfg.queues) == {"sales", "support", "vip"}
    assert cfg.flows["main"].escape_queue == "support"
    demo = load_config(ROOT / "acd" / "demo.toml")
    assert len(demo.agents) == 12


@pytest.mark.parametrize(("path", "value", "expected"), [
    (("queues", "sales", "sla", "threshold_s"), 0, "queues.sales.sla.threshold_s: Input should "
                                                   "be greater than 0"),
    (("queues", "sales", "wrapup_secs"), 3, "queues.sales.wrapup_secs: unknown key"),
    (("agents", "alice", "skills", "sales"), 9, "agents.alice.skills.sales: Input should be less "
                                                "than or equal to 5"),
    (("flows", "main", "nodes", "language", "timeout_s"), -1,
     "flows.main.nodes.language.timeout_s: Input should be greater than 0"),
    (("flows", "main", "nodes", "to_sales", "queue"), "nosuch",
     "flows.main.nodes.to_sales.queue: unknown queue 'nosuch'"),
    (("flows", "main", "nodes", "main_menu", "default"), "nowhere",
     "flows.main.nodes.main_menu.default: unknown node 'nowhere'"),
    (("agents", "dave", "queues"), ["sales", "billing"],
     "agents.dave.queues.1: unknown queue 'billing'"),
])
def test_each_bad_key_is_named(path: tuple[str, ...], value: object, expected: str) -> None:
    data = example()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert expected in problems(data)


def test_every_problem_is_reported_at_once() -> None:
    data = example()
    data["queues"]["sales"]["sla"]["threshold_s"] = -5
    data["queues"]["support"]["ring_timeout_s"] = 0
    data["pbx"]["port"] = 70000
    found = problems(data)
    assert len(found) == 3, found
    assert any(p.startswith("pbx.port:") for p in found)


def test_secret_sources_are_exclusive_and_resolved_without_leaking(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = example()
    data["pbx"]["secret"] = "s3cret-value"
    found = problems(data)
    assert any("exactly one of secret" in p for p in found)
    assert not any("s3cret-value" in p for p in found)
    monkeypatch.delenv("ACD_AMI_SECRET", raising=False)
    cfg = load_config(EXAMPLE)
    with pytest.raises(ConfigError, match="ACD_AMI_SECRET is not set"):
        cfg.pbx.resolve_secret()
    monkeypatch.setenv("ACD_AMI_SECRET", "from-env")
    assert cfg.pbx.resolve_secret() == "from-env"
    assert "from-env" not in repr(cfg)


def test_check_config_exit_codes(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "acd", "check-config", str(EXAMPLE)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text().replace("threshold_s = 20", "threshold_s = 0", 1))
    out = subprocess.run([sys.executable, "-m", "acd", "check-config", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "queues.sales.sla.threshold_s: Input should be greater than 0" in out.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[queues\n")
    out = subprocess.run([sys.executable, "-m", "acd", "check-config", str(broken)],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "not valid TOML" in out.stderr


def test_config_reference_in_docs_is_current() -> None:
    from acd.configdoc import render

    committed = (ROOT / "docs" / "config-reference.md").read_text()
    assert committed == render(), "run: acd config-reference > docs/config-reference.md"
    for key in ("ring_timeout_s", "escape_digit", "anonymous_read", "secret_env"):
        assert f"`{key}`" in committed


@pytest.mark.parametrize("source", ["example", "demo", "two-pbx"])
def test_config_as_data_parses_back_with_its_secrets_masked(source: str) -> None:
    """What the figures process gets on stdin when there is no config file."""
    import json

    if source == "two-pbx":
        from tests.test_multi_pbx import two_pbx_config

        data = two_pbx_config()
        for n, pbx in enumerate(data["pbxs"].values()):
            pbx.update(host="127.0.0.1", port=5038 + n, username="acd", secret="s3cret-pbx")
        cfg = parse_config(data)
    else:
        cfg = load_config(EXAMPLE if source == "example" else ROOT / "acd" / "demo.toml")
    text = json.dumps(cfg.as_data())
    again = parse_config(json.loads(text))
    assert again.as_data() == cfg.as_data()
    assert again.queues == cfg.queues and again.agents == cfg.agents
    assert again.pbx_list()[-1].name == cfg.pbx_list()[-1].name
    assert "s3cret-pbx" not in text
