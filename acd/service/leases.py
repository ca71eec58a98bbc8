"""Several instances on one PBX and one Redis: leases and the store's event stream.

- keep_leases: renew the leases of the calls this instance drives; drop a call whose lease was
  lost; take over calls whose lease lapsed (their instance died), reconciled with the PBX.
- follow_store: read every other instance's state change from the store's stream, so agent
  states and other instances' waiting calls stay current here (routing order spans all
  instances' calls); this instance's own changes (tagged by its store's origin) are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import TYPE_CHECKING

from acd.ami.link import AmiError
from acd.core.events import StoreChanged

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.leases")
RENEW_EVERY_S = 1.5
FOLLOW_GATHER_S = 0.02


async def keep_leases(engine: Engine) -> None:
    from acd.service.engine import LEASE_MS

    while True:
        await asyncio.sleep(RENEW_EVERY_S)
        try:
            lost = await engine.store.renew_leases(list(engine.calls), engine.instance_id,
                                                   LEASE_MS)
            if lost:
                await engine.run_in_order(partial(_drop, engine, lost))
            if engine.routing_enabled:
                orphans = await engine.store.orphaned_calls(known=engine.calls)
                if orphans:
                    await engine.run_in_order(partial(takeover, engine, orphans))
        except Exception:  # Redis away or the PBX gone: the next round tries again
            log.exception("lease round failed")


async def _drop(engine: Engine, call_ids: list[str]) -> None:
    for call_id in call_ids:
        if engine.mirror.drop_call(call_id) is not None:
            log.warning("call %s: lease lost, another instance drives it now", call_id,
                        extra={"call_id": call_id})


async def takeover(engine: Engine, call_ids: list[str]) -> None:
    """Calls whose instance died: take their leases, then reconcile them with the PBX."""
    from acd.service.engine import LEASE_MS
    from acd.service.resync import live_channels, reconcile

    taken = []
    for call_id in call_ids:
        if call_id in engine.calls:
            continue
        if not await engine.store.acquire_lease(call_id, engine.instance_id, LEASE_MS):
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
