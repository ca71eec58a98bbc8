"""Feature codes an agent dials about its call (issue 9): wrap-up codes (*55) and transfers
(*56 blind, *57 warm, *58 complete, *59 cancel, *50 escalate). acd/contract.py names them;
the state codes (*51-*54) stay in handlers.feature."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acd.core.events import AgentFeatureUsed

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.phone")

PHONE_ACTIONS = frozenset({"wrapup", "transfer", "consult", "complete", "cancel", "escalate"})


class PhoneCommands:
    def __init__(self, engine: Engine) -> None:
        self.e = engine

    async def handle(self, agent_id: str, ev: AgentFeatureUsed) -> None:
        h = self.e.handlers
        if ev.action == "wrapup":
            await h.wrapups.from_phone(agent_id, ev.digits, ev.resolved)
            return
        await h.transfers.from_phone(agent_id, ev.action, ev.digits)
