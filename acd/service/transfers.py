"""Transfers and escalation on the engine's side (issue 9). Filled in below."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.transfers")


class Transfers:
    def __init__(self, engine: Engine) -> None:
        self.e = engine

    async def from_phone(self, agent_id: str, action: str, digits: str) -> None:
        log.warning("agent %s: phone %s not handled", agent_id, action)
