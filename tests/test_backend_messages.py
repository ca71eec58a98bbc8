"""The figures task's warnings say what went wrong (a TimeoutError's own text is empty)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from acd.config import parse_config
from acd.service.backend import (
    MAX_REFRESH_TIMEOUT_S,
    REFRESH_TIMEOUT_S,
    RETRY_FIRST_S,
    ServiceBackend,
    refresh_failure,
)
from acd.service.follower import Follower
from acd.store import Store
from acd.store.base import StoreError

from .test_follower import CFG


def test_a_timed_out_refresh_names_the_time_limit() -> None:
    assert refresh_failure(TimeoutError(), 3.0) == "the store reads took longer than 3 s"
    assert refresh_failure(TimeoutError(), 12.5) == "the store reads took longer than 12.5 s"


def test_other_failures_keep_their_text_or_name_their_kind() -> None:
    assert refresh_failure(StoreError("redis: connection refused"), 3.0) == \
        "redis: connection refused"
    assert refresh_failure(ConnectionError(), 3.0) == "ConnectionError"


async def test_reads_that_time_out_get_more_time_on_the_next_refresh(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big centre's first reads of the day can take longer than the first limit: the limit
    doubles after each time-out (up to a ceiling), or they would be cut short every time."""
    limits: list[float | None] = []
    done = asyncio.Event()

    async def refresh(reads_timeout_s: float | None = None) -> None:
        limits.append(reads_timeout_s)
        if len(limits) == 7:
            done.set()
        if len(limits) == 6:
            backend.reads_s = 0.5  # the reads got through in 0.5 s
            return
        raise TimeoutError

    async with figures_loop(redis_url, 0.001) as backend:
        monkeypatch.setattr(backend, "refresh", refresh)
        await run_until(backend, done)
    assert limits[:7] == [REFRESH_TIMEOUT_S, 6.0, 12.0, 24.0, 48.0, MAX_REFRESH_TIMEOUT_S, 5.0]


async def test_a_failed_refresh_is_tried_again_soon_not_after_the_whole_interval(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With snapshot_interval_s = 60, a big centre whose first reads timed out served no
    figures for a minute (the bench, session 22). The next try comes after RETRY_FIRST_S,
    then twice as late each time, at most the interval; after a success, the interval."""
    outcomes = [TimeoutError(), StoreError("redis away"), TimeoutError(), None] + \
        [StoreError("redis away")] * 8
    waits: list[float] = []
    done = asyncio.Event()
    real_sleep = asyncio.sleep

    async def refresh(reads_timeout_s: float | None = None) -> None:
        outcome = outcomes.pop(0)
        if not outcomes:
            done.set()
        if outcome is not None:
            raise outcome

    async with figures_loop(redis_url, 60.0) as backend:

        async def sleep(delay: float, result: object = None) -> object:
            if asyncio.current_task() is backend._task:
                waits.append(delay)  # the backend's waits, recorded, not waited
                delay = 0
            return await real_sleep(delay, result)

        monkeypatch.setattr(asyncio, "sleep", sleep)
        monkeypatch.setattr(backend, "refresh", refresh)
        await run_until(backend, done)
    first = RETRY_FIRST_S
    assert waits[:12] == [first, 2 * first, 4 * first, 60.0,  # three failures, a success
                          first, 2 * first, 4 * first, 8 * first, 16 * first, 32 * first,
                          60.0, 60.0]


@contextlib.asynccontextmanager
async def figures_loop(redis_url: str, interval_s: float) -> AsyncIterator[ServiceBackend]:
    """A backend over one PBX's store, refreshing every `interval_s` once started."""
    data = CFG.as_data()
    data["http"] = {**data.get("http", {}), "snapshot_interval_s": interval_s}
    cfg = parse_config(data)
    store = await Store.open(redis_url, pbx="pbx1")
    try:
        yield ServiceBackend({}, cfg=cfg, sources={"pbx1": Follower(cfg, store)})
    finally:
        await store.close()


async def run_until(backend: ServiceBackend, done: asyncio.Event) -> None:
    """The backend's refresh loop, until `done`."""
    backend.start()
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await backend.stop()
