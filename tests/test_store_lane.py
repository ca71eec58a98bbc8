"""The store's own connection for its scripts (acd/store/lane.py): replies matched in order,
errors as redis-py raises them, scripts loaded on NOSCRIPT, a lost or silent connection made
again, AUTH and SELECT from the URL, and no secret in any error."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acd.core.model import Agent, AgentState
from acd.store import BackendError, Store
from acd.store.lane import ScriptLane
from acd.store.results import StoreError
from acd.testing.harness import wait_for
from acd.testing.redis_server import RedisServer

ECHO = "return {KEYS[1], ARGV[1]}"


def _retrying() -> Retry:
    return Retry(ConstantBackoff(0.02), -1, (RedisConnectionError, RedisTimeoutError))


@contextlib.asynccontextmanager
async def _lane(url: str, retry: Retry | None = None) -> AsyncIterator[ScriptLane]:
    lane = ScriptLane.for_url(url, retry)
    assert lane is not None
    try:
        yield lane
    finally:
        await lane.close()


async def test_replies_come_back_in_order_with_errors_in_their_place(redis_url: str) -> None:
    async with _lane(redis_url) as lane:
        sha = await lane.call("SCRIPT", "LOAD", ECHO)
        replies = await lane.call_many([("EVALSHA", sha, 1, "k1", "a"), ("SET", "x", "1"),
                                        ("EVALSHA", "0" * 40, 0), ("INCR", "x"),
                                        ("EVALSHA", sha, 1, "k2", 2.5)])
        assert replies[0] == ["k1", "a"] and replies[1] == "OK" and replies[3] == 2
        assert isinstance(replies[2], NoScriptError)  # redis-py's class, in its place
        assert replies[4] == ["k2", "2.5"]  # a float as redis-py writes it
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await lane.call("LPUSH", "x", "y")
        # many callers at once: each gets its own reply
        got = await asyncio.gather(*(lane.call("EVALSHA", sha, 1, f"k{i}", str(i))
                                     for i in range(200)))
        assert got == [[f"k{i}", str(i)] for i in range(200)]


async def test_a_script_redis_forgot_is_loaded_and_run(redis_url: str) -> None:
    store = await Store.open(redis_url)
    plain = aioredis.from_url(redis_url)
    try:
        assert store._lane is not None  # (reaching in: the scripts do go by the lane)
        agent = Agent(id="a1", interface="PJSIP/a1", skills={"s": 1},
                      state=AgentState.LOGGED_OUT, state_since=1.0)
        await store.sync_agent(agent)
        await plain.script_flush()
        await store.sync_agent(agent)  # NOSCRIPT -> SCRIPT LOAD -> run
        assert (await store.get_agent("a1")) is not None
        loads = (await plain.info("commandstats")).get("cmdstat_script|load", {})
        assert int(loads.get("calls", 0)) >= 1
    finally:
        await plain.aclose()
        await store.close()


async def test_a_cancelled_caller_does_not_shift_the_replies(redis_url: str) -> None:
    async with _lane(redis_url) as lane:
        sha = await lane.call("SCRIPT", "LOAD", ECHO)
        first = asyncio.ensure_future(lane.call("EVALSHA", sha, 1, "first", "1"))
        await asyncio.sleep(0)  # (written; its reply not read yet)
        first.cancel()
        assert await lane.call("EVALSHA", sha, 1, "second", "2") == ["second", "2"]
        assert first.cancelled()


@pytest.fixture
def own_redis() -> AsyncIterator[RedisServer]:
    with RedisServer() as server:
        yield server  # type: ignore[misc]


async def test_a_lost_connection_fails_the_call_then_is_made_again(own_redis: RedisServer
                                                                  ) -> None:
    async with _lane(own_redis.url) as lane:
        assert await lane.call("PING") == "PONG"
        own_redis.kill()
        with pytest.raises(BackendError):
            await lane.call("PING")
        own_redis.start()
        assert await lane.call("PING") == "PONG"


async def test_with_a_retrying_policy_a_call_waits_for_redis_to_come_back(
        own_redis: RedisServer) -> None:
    async with _lane(own_redis.url, _retrying()) as lane:
        await lane.call("SET", "kept", "1")
        own_redis.kill()
        pending = asyncio.ensure_future(lane.call("INCR", "n"))
        await asyncio.sleep(0.1)
        assert not pending.done()  # waiting through the outage, not failed
        own_redis.start()
        assert await asyncio.wait_for(pending, 20) == 1


async def _fake_server(path: Path | None, answer: Callable[[bytes], bytes | None]
                         ) -> tuple[asyncio.AbstractServer, list[bytes]]:
    """A server on a unix socket (or on TCP at 127.0.0.1, for no path) that records what it
    is sent, and answers what `answer` says."""
    got: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                got.append(data)
                reply = answer(data)
                if reply:
                    writer.write(reply)
        finally:
            writer.close()

    if path is None:
        return await asyncio.start_server(serve, "127.0.0.1", 0), got
    return await asyncio.start_unix_server(serve, str(path)), got


async def _until(check: Callable[[], bool]) -> None:
    await wait_for(check, 10, "the server to be written to")


async def test_a_reply_that_never_comes_times_out_and_the_connection_is_made_again(
        tmp_path: Path) -> None:
    server, got = await _fake_server(tmp_path / "r.sock", lambda _d: None)
    try:
        # (the URL's socket_timeout, as redis-py reads it)
        async with _lane(f"unix://{tmp_path / 'r.sock'}?socket_timeout=0.2") as lane:
            # (well within redis-py's default 5 s: the URL's 0.2 s is what counts)
            with pytest.raises(RedisTimeoutError):
                await asyncio.wait_for(lane.call("PING"), 3)
            with pytest.raises(RedisTimeoutError):  # a new connection, silent again
                await asyncio.wait_for(lane.call("PING"), 3)
            await _until(lambda: sum(d.count(b"PING") for d in got) == 2)
    finally:
        server.close()


async def test_auth_and_select_go_first_and_the_secret_is_never_told(tmp_path: Path) -> None:
    secret = "s3cr3t-pw"

    def refuse(data: bytes) -> bytes | None:  # (as Redis answers: every command)
        return (b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
                * data.count(b"AUTH") + b"-NOAUTH Authentication required.\r\n"
                * data.count(b"SELECT")) or None

    server, got = await _fake_server(tmp_path / "a.sock", refuse)
    try:
        url = f"unix://alice:{secret}@{tmp_path / 'a.sock'}?db=3"
        async with _lane(url) as lane:
            with pytest.raises(AuthenticationError) as caught:
                await asyncio.wait_for(lane.call("PING"), 10)
            assert secret not in str(caught.value) and secret not in repr(caught.value)
            await _until(lambda: b"SELECT" in b"".join(got))
            sent = b"".join(got)
            assert sent.startswith(b"*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n")
            assert b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n" in sent
            assert b"PING" not in sent  # nothing before the connection is let in
    finally:
        server.close()


async def test_the_url_db_is_where_the_scripts_write(redis_url: str) -> None:
    store = await Store.open(f"{redis_url}?db=3")
    plain3 = aioredis.from_url(f"{redis_url}?db=3")
    plain0 = aioredis.from_url(redis_url)
    try:
        await store.sync_agent(Agent(id="a9", interface="PJSIP/a9", skills={},
                                     state=AgentState.LOGGED_OUT, state_since=1.0))
        assert await plain3.dbsize() > 0
        assert await plain0.dbsize() == 0
    finally:
        await plain3.aclose()
        await plain0.aclose()
        await store.close()


async def test_a_tcp_url_is_reached_over_tcp() -> None:
    """(The tests' Redis listens on a unix socket; a deployment's usually on TCP.)"""
    server, got = await _fake_server(None, lambda d: b"+PONG\r\n" * d.count(b"PING"))
    port = server.sockets[0].getsockname()[1]
    try:
        async with _lane(f"redis://127.0.0.1:{port}/0") as lane:
            assert await asyncio.wait_for(lane.call("PING"), 10) == "PONG"
            assert b"".join(got) == b"*1\r\n$4\r\nPING\r\n"  # (db 0: no SELECT)
    finally:
        server.close()


def test_a_tls_url_keeps_redis_py_for_the_scripts() -> None:
    assert ScriptLane.for_url("rediss://localhost:6380/0", None) is None
    assert ScriptLane.for_url("redis://localhost:6379/0", None) is not None


async def test_a_closed_store_refuses_scripts(redis_url: str) -> None:
    store = await Store.open(redis_url)
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.sync_agent(Agent(id="a1", interface="PJSIP/a1", skills={},
                                     state=AgentState.LOGGED_OUT, state_since=1.0))

