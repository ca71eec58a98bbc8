"""The agents' push channel: screen pops on `GET /api/v1/agents/{id}/stream`.

The screen-pop handler (webhooks.py), which runs once per event across instances, appends each
pop to a capped Redis Stream per PBX (`IntKeys.pops`, fields `agent` and `p`: the payload).
Every instance follows those streams (plain XREAD, no group: each instance needs every pop)
and hands each pop to the streams its own HTTP clients opened for that agent, so an agent's
desktop gets its pops whichever instance it is connected to. A desktop that reconnects with
`Last-Event-ID` first gets what it missed (from the capped stream).

Event ids are `<n>/<stream id>`, n the PBX's place in the config.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator

from acd.integrations.stream import IntegrationRedis
from acd.tasks import cancel_and_wait

log = logging.getLogger("acd.integrations.push")

BLOCK_MS = 1000
BACKLOG = 100  # pops waiting for one slow desktop; beyond that the oldest are dropped
REPLAY = 100  # at most this many missed pops are sent again on a reconnect

Pop = tuple[str, str]  # (event id, payload JSON)


def _order(eid: str) -> tuple[int, int]:
    ms, _, seq = eid.partition("-")
    return int(ms), int(seq or 0)


class AgentPush:
    def __init__(self, redis: IntegrationRedis, streams: list[str],
                 knows: Callable[[str], bool]) -> None:
        self.redis = redis
        self.streams = streams
        self.knows = knows  # is this an agent of the config?
        self._subs: dict[str, set[asyncio.Queue[Pop]]] = {}
        self._last: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0

    async def start(self) -> None:
        for stream in self.streams:  # only what comes from now on (a reconnect replays)
            self._last[stream] = await self.redis.last_id(stream)
        self._task = asyncio.create_task(self._follow(), name="agent-push")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])

    async def _follow(self) -> None:
        index = {s: i for i, s in enumerate(self.streams)}
        while True:
            try:
                entries = await self.redis.xread(dict(self._last), 200, BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("agent push: reading the pops failed (%s); retrying", exc)
                await asyncio.sleep(1.0)
                continue
            for stream, eid, fields in entries:
                self._last[stream] = eid
                for inbox in list(self._subs.get(fields.get("agent", ""), ())):
                    if inbox.full():
                        inbox.get_nowait()
                    inbox.put_nowait((f"{index[stream]}/{eid}", fields.get("p", "{}")))
                    self.delivered += 1

    @contextlib.contextmanager
    def subscribe(self, agent_id: str) -> Iterator[asyncio.Queue[Pop]]:
        inbox: asyncio.Queue[Pop] = asyncio.Queue(BACKLOG)
        self._subs.setdefault(agent_id, set()).add(inbox)
        try:
            yield inbox
        finally:
            subs = self._subs.get(agent_id)
            if subs is not None:
                subs.discard(inbox)
                if not subs:
                    del self._subs[agent_id]

    async def missed(self, agent_id: str, last_event_id: str) -> list[Pop]:
        """The agent's pops after `last_event_id` (as sent in an event's `id:`); [] when the
        id is not one of ours."""
        n, _, eid = last_event_id.partition("/")
        if not n.isdigit() or int(n) >= len(self.streams):
            return []
        try:
            _order(eid)
        except ValueError:
            return []
        stream = self.streams[int(n)]
        out: list[Pop] = []
        last = f"({eid}"
        upto = self._last.get(stream, "+")
        while len(out) < REPLAY:
            entries = await self.redis.xrange(stream, last, upto, 500)
            out += [(f"{n}/{i}", f.get("p", "{}")) for i, f in entries
                    if f.get("agent") == agent_id]
            if len(entries) < 500:
                break
            last = f"({entries[-1][0]}"
        return out[-REPLAY:]
