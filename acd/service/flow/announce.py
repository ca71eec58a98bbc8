"""Position and EWT announcements: acd sets ACD_ANNOUNCE on the caller's channel when one is
due (on entry, then every `every_s`), and the hold loop plays it between music slices.

Why the service decides and the dialplan plays: the values change with every answered call,
so keeping them fresh on every channel would cost an AMI Setvar per caller per change; one
Setvar per announcement is enough, and the loop plays a value once (ACD_ANNOUNCED), so a
Setvar lost or repeated changes nothing. The entry announcement is set before the caller is
moved to the hold loop (awaited, so it is there when the loop starts): it is heard first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from acd import contract
from acd.config_policies import AnnounceConfig
from acd.core.announce import Announcement, announcement, due, pack
from acd.core.model import Call
from acd.service import actions
from acd.stats.ewt_batch import Placed

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.flow")


class Announcer:
    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self._told: dict[str, tuple[float, int, Announcement]] = {}  # call -> (at, seq, what)
        self.sent = 0

    def config(self, queue: str) -> AnnounceConfig | None:
        qcfg = self.e.cfg.queues.get(queue)
        return qcfg.announce if qcfg is not None else None

    def wanted(self) -> bool:
        return any(q.announce is not None and q.announce.every_s > 0
                   for q in self.e.cfg.queues.values())

    async def on_entry(self, call: Call, queue: str, position: int,
                       ewt_s: float | None) -> None:
        cfg = self.config(queue)
        if cfg is None or not cfg.on_entry:
            return
        what = announcement(cfg, position, ewt_s)
        await self.e.send(self._setvar(call, what), quiet=True)

    def candidates(self, calls: Iterable[Call], now: float) -> list[Call]:
        """Waiting calls that may be due (their place and EWT are then worked out)."""
        out = []
        for call in calls:
            cfg = self.config(call.queue)
            if cfg is None or not cfg.every_s:
                continue
            told = self._told.get(call.id)
            since = told[0] if told is not None else (
                None if cfg.on_entry else call.entered_at or now)
            if since is None or now - since >= cfg.every_s:
                out.append(call)
        return out

    def tick(self, calls: Iterable[Call], placed: dict[str, Placed], now: float) -> None:
        due_now: list[actions.Action] = []
        for call in calls:
            cfg, here = self.config(call.queue), placed.get(call.id)
            if cfg is None or here is None:
                continue
            what = announcement(cfg, here.position, here.ewt_s)
            told = self._told.get(call.id)
            if due(cfg, now, told[0] if told else None, call.entered_at or now,
                   told[2] if told else None, what):
                due_now.append(self._setvar(call, what))
            elif told is not None and cfg.only_changes:
                self._told[call.id] = (now, told[1], told[2])  # unchanged: next look later
        self.e.send_all_later(due_now, quiet=True)

    def _setvar(self, call: Call, what: Announcement) -> dict[str, str | list[str]]:
        now = self.e.now()
        told = self._told.get(call.id)
        seq = max(int(now * 1000), told[1] + 1 if told else 0)
        self._told[call.id] = (now, seq, what)
        self.sent += 1
        log.debug("call %s: announce position %s, %s min", call.id, what.position,
                  what.minutes, extra={"call_id": call.id})
        return actions.setvar(call.channel, contract.VAR_ANNOUNCE, pack(seq, what))

    def known(self) -> list[str]:
        """The calls told something (to be forgotten when gone: `forget`)."""
        return list(self._told)

    def forget(self, gone: Iterable[str]) -> None:
        for call_id in gone:
            self._told.pop(call_id, None)
