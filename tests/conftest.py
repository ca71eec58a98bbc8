"""Shared fixtures: a real redis-server per test session, flushed for every test that uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RECOVERY:
        terminalreporter.section("measured recovery times")
        for what, seconds in RECOVERY:
            terminalreporter.write_line(f"{what}: {seconds:.2f} s")
