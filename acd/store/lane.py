"""The store's own connection for its Lua scripts: every EVALSHA written at once on one
connection, the replies matched in order (a pipeline that is always open).

Why: redis-py 8 spends ~110 us of CPU on a script call (the pool's lock, its observability
hooks and events, a check that the connection has nothing to read, the script's wrapper),
and a routing decision's cycle makes about four. Written here (hiredis packs the command and
parses the reply, in C) the same call takes ~50 us, most of it the two system calls
(BENCHMARKS.md, session 18).

Everything else stays redis-py's: the URL is read by its parser, error replies become its
exception classes (its parser's `parse_error`: NoScriptError, ResponseError, ...), a lost
connection raises its ConnectionError and a reply that never comes its TimeoutError, and the
retries follow a redis-py `Retry` (the service's store waits through a Redis restart).
A TLS URL gets no lane: its scripts go through redis-py (ScriptLane.for_url gives None).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio.connection import UnixDomainSocketConnection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    InvalidResponse,
    NoScriptError,
    RedisError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acd.store.results import StoreError

# As redis-py's connections default to (a URL's socket_connect_timeout / socket_timeout
# overrides them, as for redis-py): a connection not made, or a reply not come, within this
# long is given up (and, with a retrying policy, made again).
CONNECT_TIMEOUT_S = 5.0
REPLY_TIMEOUT_S = 5.0

Command = Sequence[Any]


def packed(args: Command) -> bytes:
    """One command in Redis's protocol; floats as redis-py writes them (repr), not as
    hiredis's %.17g."""
    command: Any = tuple(repr(a) if isinstance(a, float) else a for a in args)
    return bytes(hiredis.pack_command(command))


class _Wire(asyncio.Protocol):
    """One connection: the futures of the replies still to come, in the order sent."""

    def __init__(self) -> None:
        # (the same reader redis-py's hiredis parser makes: its error classes, str replies)
        self._reader = hiredis.Reader(protocolError=InvalidResponse,
                                      replyError=_error_reply, encoding="utf-8",
                                      errors="strict")
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, data: bytes, n: int) -> list[asyncio.Future[Any]]:
        """Write `data` (n commands) and the futures of their replies."""
        if self.lost is not None or self.transport is None or self.transport.is_closing():
            raise self.lost or RedisConnectionError("Connection closed.")
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        futures = [loop.create_future() for _ in range(n)]
        self.waiting.extend((f, now) for f in futures)
        self.transport.write(data)
        return futures

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except InvalidResponse as exc:
                self.drop(RedisConnectionError(f"Redis sent what is not its protocol: {exc}"))
                return
            if reply is False:
                return
            if not self.waiting:
                self.drop(RedisConnectionError("Redis answered a command not sent"))
                return
            future, _sent = self.waiting.popleft()
            if not future.done():  # (a caller cancelled meanwhile: the reply is dropped)
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(
            f"Connection to Redis lost: {exc}" if exc else "Connection closed by server."))

    def drop(self, exc: Exception) -> None:
        """Close the connection; every reply still to come fails with `exc`."""
        self._fail(exc)
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, exc: Exception) -> None:
        if self.lost is None:
            self.lost = exc
        while self.waiting:
            future, _sent = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)
                # (the caller of a batch cancelled half-way awaits the rest no more: no
                # "exception never retrieved" for them; an awaiting caller still gets it)
                future.exception()

    def overdue(self, now: float, timeout_s: float) -> bool:
        return bool(self.waiting) and now - self.waiting[0][1] > timeout_s


def _error_reply(message: str) -> Exception:
    """An error reply as redis-py's parser makes it (NOSCRIPT -> NoScriptError, ...)."""
    error: Exception = BaseParser.parse_error(message)  # type: ignore[no-untyped-call]
    return error


class ScriptLane:
    """The connection, made on first use and again after it is lost."""

    def __init__(self, params: dict[str, Any], retry: Retry) -> None:
        self._reply_timeout_s = float(params.pop("socket_timeout", None) or REPLY_TIMEOUT_S)
        self._connect_timeout_s = float(params.pop("socket_connect_timeout", None)
                                        or CONNECT_TIMEOUT_S)
        self._params = params  # host/port or path, db, username, password: never logged
        self._retry = retry
        self._retrying = retry.get_retries() != 0
        self._wire: _Wire | None = None
        self._connecting = asyncio.Lock()
        self._watch: asyncio.TimerHandle | None = None
        self._closed = False

    @classmethod
    def for_url(cls, url: str, retry: Retry | None) -> ScriptLane | None:
        """A lane for the Redis at `url`; None for a TLS one (redis-py keeps its scripts).
        `retry`: the store's policy on a lost connection (None: fail at once)."""
        params: dict[str, Any] = dict(parse_url(url))
        kind = params.pop("connection_class", None)
        if kind not in (None, UnixDomainSocketConnection):
            return None
        return cls(params, retry or Retry(NoBackoff(), 0))

    async def call(self, *args: Any) -> Any:
        """One command's reply; an error reply is raised (as redis-py raises it)."""
        reply = (await self.call_many([args]))[0]
        if isinstance(reply, RedisError):
            raise reply
        return reply

    async def call_many(self, commands: Sequence[Command]) -> list[Any]:
        """The commands in one write; their replies in order, an error reply as its exception
        in its place. A lost connection fails them all (and, with a retrying policy, they are
        sent again once Redis is back)."""
        data = b"".join(packed(c) for c in commands)
        try:
            return await self._once(data, len(commands))
        except (RedisConnectionError, RedisTimeoutError):
            self._forget()
            if not self._retrying or self._closed:
                raise
        return await self._retry.call_with_retry(
            lambda: self._once(data, len(commands)), self._failed)

    async def evalsha(self, sha: str, source: str, keys: Sequence[Any], args: Sequence[Any]
                      ) -> Any:
        """A script's reply, loading it first if Redis does not have it (as redis-py does)."""
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.call("SCRIPT", "LOAD", source)
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    async def close(self) -> None:
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
        if self._wire is not None:
            self._wire.drop(StoreError("the store is closed"))
            self._wire = None

    async def _failed(self, _exc: Exception) -> None:
        self._forget()

    def _forget(self) -> None:
        """A lost connection is made again at the next call (a newer one, made by another
        caller's retry meanwhile, is kept)."""
        if self._wire is not None and self._wire.lost is not None:
            self._wire = None

    async def _once(self, data: bytes, n: int) -> list[Any]:
        wire = self._wire
        if wire is None or wire.lost is not None:
            wire = await self._connect()
        futures = wire.send(data, n)
        self._watching()
        replies = [await f for f in futures]
        for reply in replies:
            # (Redis loading its data, or refusing the connection: as redis-py, a connection
            # error, which a retrying policy waits through)
            if isinstance(reply, RedisConnectionError):
                raise reply
        return replies

    async def _connect(self) -> _Wire:
        if self._closed:
            raise StoreError("the store is closed")
        async with self._connecting:
            if self._wire is not None and self._wire.lost is None:
                return self._wire  # (made while this one waited)
            loop = asyncio.get_running_loop()
            p = self._params
            try:
                async with asyncio.timeout(self._connect_timeout_s):
                    if "path" in p:
                        _t, wire = await loop.create_unix_connection(_Wire, p["path"])
                    else:
                        _t, wire = await loop.create_connection(
                            _Wire, p.get("host", "localhost"), int(p.get("port", 6379)))
                    await self._hello(wire)
            except TimeoutError as exc:
                raise RedisTimeoutError("Timeout connecting to Redis") from exc
            except OSError as exc:
                raise RedisConnectionError(f"Error connecting to Redis: {exc.strerror or exc}"
                                           ) from exc
            if self._closed:
                wire.drop(StoreError("the store is closed"))
                raise StoreError("the store is closed")
            self._wire = wire
            return wire

    async def _hello(self, wire: _Wire) -> None:
        """AUTH and SELECT as the URL says, before anything else on the connection."""
        p = self._params
        first: list[Command] = []
        if p.get("password"):
            first.append(("AUTH", *([p["username"]] if p.get("username") else []),
                          p["password"]))
        if int(p.get("db") or 0):
            first.append(("SELECT", int(p["db"])))
        if not first:
            return
        futures = wire.send(b"".join(packed(c) for c in first), len(first))
        replies = [await f for f in futures]
        for command, reply in zip(first, replies, strict=True):
            if isinstance(reply, RedisError):
                wire.drop(reply)
                if command[0] == "AUTH":  # (its message never holds the secret)
                    raise AuthenticationError(f"Redis refused the credentials: {reply}")
                raise reply

    def _watching(self) -> None:
        """A reply overdue by the reply timeout ends the connection (TimeoutError), as
        redis-py's socket timeout does: one timer while replies are awaited."""
        if self._watch is None:
            self._watch = asyncio.get_running_loop().call_later(
                self._reply_timeout_s / 2, self._check)

    def _check(self) -> None:
        self._watch = None
        wire = self._wire
        if wire is None or not wire.waiting:
            return
        if wire.overdue(time.monotonic(), self._reply_timeout_s):
            self._wire = None
            wire.drop(RedisTimeoutError("Timeout reading from Redis"))
            return
        self._watching()
