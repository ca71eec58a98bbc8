"""Several instances on one PBX and one Redis: leases and the store's event stream.

- keep_leases: keep this instance alive in the store (one key: a call's lease names its
  instance, and is anyone's once that key has lapsed); drop a call whose lease was lost; take
  over the calls of an instance that died, reconciled with the PBX.
- follow_store: read every other instance's state change from the store's stream, so agent
  states and other instances' waiting calls stay current here (routing order spans all
  instances' calls); this instance's own changes (tagged by its store's origin) are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import math
from functools import partial
from typing import TYPE_CHECKING

from acd.ami.link import AmiError
from acd.core.events import StoreChanged
from acd.store.leases import RENEW_BATCH

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.leases")
RENEW_EVERY_S = 1.5
FULL_SCAN_EVERY_S = 30.0  # live calls looked through for orphans even with no lapsed instance
FOLLOW_GATHER_S = 0.02


async def keep_leases(engine: Engine) -> None:
    from acd.service.engine import CALL_LEASE_MS, LEASE_MS

    store, me = engine.store, engine.instance_id
    rolling = _Rolling(CALL_LEASE_MS / 1000)
    since_scan = 0.0
    while True:
        await asyncio.sleep(RENEW_EVERY_S)
        since_scan += RENEW_EVERY_S
        try:
            alive = await store.mark_alive(me, LEASE_MS)
            now_driven = set(engine.calls)
            # Lapsed (a long pause, Redis away): every lease is checked, another instance
            # may have taken some. Else a slice of them, so that each lease key is stamped
            # again well within its TTL.
            check = list(now_driven) if not alive else rolling.take(now_driven)
            lost = await store.renew_leases(check, me, CALL_LEASE_MS)
            if lost:
                await engine.run_in_order(partial(_drop, engine, lost))
            if not engine.routing_enabled:
                continue
            # Calls are looked for only when an instance has lapsed, or now and then (a
            # call with no lease at all: written by something that took none).
            lapsed = await store.lapsed_instances(me)
            if lapsed or since_scan >= FULL_SCAN_EVERY_S:
                since_scan = 0.0
                orphans = await store.orphaned_calls(known=engine.calls)
                if orphans:
                    await engine.run_in_order(partial(takeover, engine, orphans))
                else:
                    await store.forget_instances(lapsed)
        except Exception:  # Redis away or the PBX gone: the next round tries again
            log.exception("lease round failed")


class _Rolling:
    """The calls whose lease keys are stamped again this round: a slice at a time, so that
    every one comes round within a quarter of the keys' TTL."""

    def __init__(self, ttl_s: float) -> None:
        self._rounds = ttl_s / 4 / RENEW_EVERY_S  # rounds in which all must come round
        self._todo: list[str] = []

    def take(self, driven: set[str]) -> list[str]:
        if not self._todo:
            self._todo = sorted(driven)
        n = max(RENEW_BATCH, math.ceil(len(driven) / self._rounds))
        part, self._todo = self._todo[:n], self._todo[n:]
        return [c for c in part if c in driven]  # (not one that ended meanwhile)


async def _drop(engine: Engine, call_ids: list[str]) -> None:
    for call_id in call_ids:
        if engine.mirror.drop_call(call_id) is not None:
            log.warning("call %s: lease lost, another instance drives it now", call_id,
                        extra={"call_id": call_id})


async def takeover(engine: Engine, call_ids: list[str]) -> None:
    """Calls whose instance died: take their leases, then reconcile them with the PBX."""
    from acd.service.engine import CALL_LEASE_MS
    from acd.service.resync import live_channels, reconcile

    taken = []
    for call_id in call_ids:
        if call_id in engine.calls:
            continue
        if not await engine.store.acquire_lease(call_id, engine.instance_id, CALL_LEASE_MS):
            continue
        call = await engine.store.get_call(call_id)
        if call is None or call.state.value == "ended":
            await engine.store.release_lease(call_id, engine.instance_id)
            continue
        engine.handlers.put_call(call)
        engine.driven += 1
        taken.append(call)
    if not taken:
        return
    try:
        channels = await live_channels(engine)
    except AmiError as exc:
        log.warning("takeover of %d calls waits for the PBX: %s", len(taken), exc)
        return
    for call in taken:
        log.warning("call %s taken over from a lapsed instance", call.id,
                    extra={"call_id": call.id, "state": call.state.value})
        await reconcile(engine, call, channels)
    engine.want_route()


async def follow_store(engine: Engine) -> None:
    last = "$"
    seen = 0
    while True:
        if seen:
            # Let changes gather: one read per FOLLOW_GATHER_S under load, not one per change
            # (most of them this instance's own, skipped unread).
            await asyncio.sleep(FOLLOW_GATHER_S)
        try:
            # Our own changes are in the mirror already (from the scripts' replies): reading
            # them back would only make the engine re-read agents it moved on since.
            read = await engine.store.follow_events(last, block_ms=1000,
                                                    skip_by=engine.store.origin)
        except Exception:  # Redis away: the store's own client waits; this one retries
            log.debug("store stream not readable", exc_info=True)
            seen = 0
            await asyncio.sleep(0.5)
            continue
        last, seen = read.last_id, read.seen
        for _event_id, fields in read.events:
            engine.inbox.put_nowait(StoreChanged(fields))
