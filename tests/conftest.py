"""Shared fixtures: a real redis-server per test session, flushed for every test that uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from acd.testing.harness import Harness
from acd.testing.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """The URL of a flushed, real Redis."""
    client = aioredis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    yield redis_server.url


# Recovery times measured by the fault tests, shown in the test run's summary.
RECOVERY: list[tuple[str, float]] = []


@pytest.fixture
async def lab(redis_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Start the service against a simulated PBX (agents' phones answer only when told);
    every harness started is stopped at the end. Default config: tests/test_e2e_callpath."""
    from tests.test_e2e_callpath import config, manual_phone

    started: list[Harness] = []

    async def make(cfg: dict[str, Any] | None = None, **kwargs: Any) -> Harness:
        kwargs.setdefault("phone", manual_phone)
        h = await Harness.start(cfg or config(), redis_url, **kwargs)
        started.append(h)
        return h

    yield make
    for h in started:
        await h.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RECOVERY:
        terminalreporter.section("measured recovery times")
        for what, seconds in RECOVERY:
            terminalreporter.write_line(f"{what}: {seconds:.2f} s")
