"""Helpers for the IVR tests (no tests here): the example config, small configs, a call driver."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from acd.config import Config, load_config, parse_config
from acd.core import ivr
from acd.core.agi import parse_agi_result
from acd.core.ivr import Agi, Command, LookupVip

EXAMPLE = Path(__file__).resolve().parent.parent / "acd.example.toml"
NOW = datetime.fromisoformat("2026-01-14T12:00:00+00:00").timestamp()  # a Wednesday
CALLER = "5551234"


def example_config() -> Config:
    """Needs ACD_AMI_SECRET set (monkeypatch) like a real start."""
    return load_config(EXAMPLE)


def small_config(nodes: dict[str, Any], start: str = "a", **flow: Any) -> Config:
    """One flow `f` over queues `q` (skill x) and `support`, hours `h` open 08-18 UTC."""
    return parse_config({
        "pbx": {"secret": "x"},
        "queues": {"q": {"skills": {"x": 2}}, "support": {}},
        "hours": {"h": {"weekly": {"wed": ["08:00-18:00"]}}},
        "vip": {"priority": 7},
        "flows": {"f": {"dnis": ["1"], "start": start, "nodes": nodes, **flow}},
    })


class Call:
    """Drives the engine like the service does, one command at a time."""

    def __init__(self, cfg: Config, flow: str = "main", caller: str = CALLER,
                 now: float = NOW) -> None:
        self.cfg, self.now = cfg, now
        self.state, cmds = ivr.start(cfg, flow, caller, now)
        self.last = self._one(cmds)

    def _one(self, cmds: list[Command]) -> Command:
        assert len(cmds) == 1, cmds
        return cmds[0]

    def agi(self, raw: str) -> Command:
        assert isinstance(self.last, Agi), self.last
        self.state, cmds = ivr.on_agi_result(self.cfg, self.state, parse_agi_result(raw),
                                             self.now)
        self.last = self._one(cmds)
        return self.last

    def vip(self, is_vip: bool | None = None) -> Command:
        """Answer a LookupVip; by default from the config's VIP lists."""
        assert isinstance(self.last, LookupVip), self.last
        if is_vip is None:
            is_vip = ivr.vip_by_config(self.cfg, self.last.number, self.last.account)
        self.state, cmds = ivr.on_vip_result(self.cfg, self.state, is_vip, self.now)
        self.last = self._one(cmds)
        return self.last

    @property
    def path(self) -> list[str]:
        return self.state.path
