"""The AMI link's keepalive: an unanswered Ping drops a silent link (it then reconnects), but
not one the PBX is still sending on (its answer waits behind earlier actions), up to
MAX_LATE_PINGS in a row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from acd.ami.link import MAX_LATE_PINGS, AmiLink
from acd.testing.harness import wait_for

from .test_ami_send_many import SECRET, Asterisk


@pytest.fixture
async def pbx() -> AsyncIterator[Asterisk]:
    pbx = Asterisk()
    yield pbx
    await pbx.stop()


async def _attach(pbx: Asterisk) -> AmiLink:
    port = await pbx.start()
    link = AmiLink(host="127.0.0.1", port=port, username="acd", secret=SECRET,
                   ping_interval_s=0.05, ping_timeout_s=0.2, reconnect_min_s=0.01)
    link.start()
    await asyncio.wait_for(link.connected.wait(), 10)
    return link


async def test_a_silent_pbx_that_does_not_answer_pings_is_dropped(pbx: Asterisk) -> None:
    link = await _attach(pbx)
    try:
        pbx.answer_pings = False
        await wait_for(lambda: link.connects >= 2, 20, "a reconnect")
        assert link.late_pings == 0
    finally:
        await link.close()


async def test_a_pbx_still_sending_keeps_its_link_through_late_pings(pbx: Asterisk) -> None:
    link = await _attach(pbx)
    chatter_stop = asyncio.Event()

    async def chatter() -> None:
        while not chatter_stop.is_set():
            pbx.event()
            await asyncio.sleep(0.02)

    task = asyncio.create_task(chatter())
    try:
        pbx.answer_pings = False
        await wait_for(lambda: link.late_pings >= 3, 20, "late pings")
        assert link.connects == 1  # kept
        pbx.answer_pings = True  # the answers catch up: the count starts again
        answered = pbx.pings
        await wait_for(lambda: pbx.pings >= answered + 2, 20, "answered pings")
        pbx.answer_pings = False
        await wait_for(lambda: link.connects >= 2, 20, "the drop after too many late pings")
        assert link.late_pings >= 3 + MAX_LATE_PINGS
    finally:
        chatter_stop.set()
        await task
        await link.close()
