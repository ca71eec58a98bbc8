"""Reads for a process that shows the live picture without driving it (the figures process of
`http.own_process`): calls and agents by id, the events stream without blocking; and what
the figures hand the routing process: the service-objective offsets, the handle times."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from redis.exceptions import ResponseError

from acd.core.model import Agent, Call
from acd.store import codec
from acd.store.base import StoreBase, text

T = TypeVar("T")


class LiveReads(StoreBase):
    async def get_calls(self, ids: list[str]) -> dict[str, Call | None]:
        """The calls by id (None: no such call any more); READ_BATCH per round trip."""
        return await self._decoded([self._k.call(i) for i in ids], ids, codec.decode_call)

    async def get_agents(self, ids: list[str]) -> dict[str, Agent | None]:
        return await self._decoded([self._k.agent(i) for i in ids], ids, codec.decode_agent)

    async def _decoded(self, keys: list[str], ids: list[str],
                       decode: Callable[[dict[str, str]], T]) -> dict[str, T | None]:
        """id -> its hash decoded, None for a missing one; decoded batch by batch."""
        out: dict[str, T | None] = {}
        async for i, h in self._each_hash(keys):
            out[ids[i]] = decode(h) if h else None
        return out

    async def stream_position(self) -> tuple[str, int]:
        """The newest event's id ("0-0" for no stream) and how many events were ever added:
        read from there on (see events_after)."""
        try:
            info: Any = await self._r.xinfo_stream(self._k.events)
        except ResponseError:  # no stream yet
            return "0-0", 0
        return text(info["last-generated-id"]), int(info["entries-added"])

    async def events_after(self, last_id: str, count: int
                           ) -> tuple[list[tuple[str, dict[str, str]]], int, int]:
        """Up to `count` events after `last_id`, oldest first, without waiting; with how many
        events were ever added and how many the capped stream keeps, read together. A reader
        that has consumed C events finds that it missed some (trimmed before it read them,
        or the stream was deleted) when added < C or added - C > kept."""
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.xinfo_stream(self._k.events)
                pipe.xrange(self._k.events, min=f"({last_id}", count=count)
                info, entries = await pipe.execute()
        except ResponseError:  # no stream (yet, or any more)
            return [], 0, 0
        return ([(text(eid), {text(f): text(v) for f, v in (fields or {}).items()})
                 for eid, fields in entries or []],
                int(info["entries-added"]), int(info["length"]))

    async def publish_offsets(self, offsets: Mapping[str, float]) -> None:
        await self._publish(self._k.offsets, offsets)

    async def read_offsets(self) -> dict[str, float] | None:
        """The offsets last published (None: none yet, or unreadable)."""
        return await self._read(self._k.offsets)

    async def publish_handle_times(self, times: Mapping[str, float]) -> None:
        await self._publish(self._k.handle_times, times)

    async def read_handle_times(self) -> dict[str, float] | None:
        """The handle times last published (None: none yet, or unreadable)."""
        return await self._read(self._k.handle_times)

    async def _publish(self, key: str, values: Mapping[str, float]) -> None:
        await self._r.set(key, json.dumps(dict(values), sort_keys=True))

    async def _read(self, key: str) -> dict[str, float] | None:
        raw = await self._r.get(key)
        if raw is None:
            return None
        try:
            data: Any = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}
