"""What the figures need from one PBX's live picture: its engine (figures in the routing
process), or a Follower reading the store (figures in a process of their own)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

from acd.config import Config
from acd.core.model import Agent, Call
from acd.core.policy import Rules
from acd.store import Store


class LiveSource(Protocol):
    @property
    def cfg(self) -> Config: ...

    @property
    def store(self) -> Store: ...

    @property
    def calls(self) -> Mapping[str, Call]:
        """The live calls (replaced on change, never changed in place)."""

    @property
    def agents(self) -> Mapping[str, Agent]: ...

    @property
    def rules(self) -> Rules: ...

    @property
    def idle(self) -> asyncio.Event:
        """Set while routing has no work: the figures' slices run then."""

    def now(self) -> float: ...

    def set_offsets(self, offsets: dict[str, float]) -> None:
        """The service-objective offsets the latest figures give (they steer the routing)."""

    def set_handle_times(self, times: dict[str, float]) -> None:
        """Each queue's handle time over the last hour, from the latest figures (the waits
        are estimated with them: acd/service/flow/live_aht.py)."""

    async def catch_up(self) -> None:
        """Bring calls and agents up to date with the store before a refresh."""

    def attached(self) -> tuple[bool, str]:
        """Whether the PBX is attached and routed; else why not."""
