"""Live API: `GET /api/v1/queues` under 500 clients while routing runs, in two modes.

- *poll* (the figure of the target): each client polls every `interval_s` seconds, as a
  wallboard or a supervisor's screen does. Their phases are spread evenly over the interval;
  the schedule is open-loop (a request is due at each tick, a late answer does not shift it);
  a request still outstanding at its client's next tick makes that tick *late* (counted, and
  that tick is not sent: a client has one request in flight, as a screen would). Each client
  has its own keep-alive connection, opened by an untimed first request before the phase (a
  screen has been polling before), and behaves like a browser: `Accept-Encoding: gzip` and
  `If-None-Match` with the last ETag (the share of 304s is reported; bodies are not
  decompressed: that is the client's CPU).
- *saturation* (what the service can serve): each client sends its next request the moment
  the last answer arrives (closed loop), plain bodies, no ETag. By Little's law the latency is
  then clients / throughput whatever the server does: a saturation figure, not a poller's.

Clients run in a child process (their CPU is not the service's); the SSE listeners on
`/api/v1/stream?parts=centre,queues,agents` (what the wallboard asks for) run in another (in
a process busy with 500 clients they read the pushes late, and the push delay would be that
process's), and time each pushed snapshot against its `generated_at`. Both run at
CLIENTS_NICE, below the service (bench/common.py): screens elsewhere take none of its CPU.

Baseline in the same run: the same clients, both modes, against a bare aiohttp handler in this
process that returns a JSON body of the same size (no figures, no routing, no ETag, no gzip).
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import time
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
from aiohttp import web

from bench.common import CLIENTS_NICE, percentiles_ms, spawn_child

STREAM_LISTENERS = 5
# Pollers send Accept-Encoding: gzip and If-None-Match, as a browser does; False (`python -m
# bench --api-plain-pollers`): plain requests, the whole JSON every time (the before of the
# conditional and compressed reads).
BROWSER_LIKE = True
_COUNTS = ("requests", "errors", "late", "unanswered", "not_modified", "wire_bytes")


def poll_seconds(seconds: float, interval_s: float) -> float:
    """A poll phase lasts at least three intervals (every client polls three times)."""
    return max(seconds, 3 * interval_s)


# ---- clients (child process) ----------------------------------------------------------------
def _child(conn: Connection, job: dict[str, Any]) -> None:
    # No collector in the clients' process: its pauses would be timed as the server's
    # latency (a 55 ms one in the pollers' process, session 11's trace). What is made before
    # the phase is frozen; what the phase makes is freed by reference counts, or at exit.
    gc.freeze()
    gc.disable()
    conn.send(asyncio.run(_child_main(job)))


async def _child_main(job: dict[str, Any]) -> dict[str, Any]:
    kind = job["kind"]
    cpu0 = time.process_time()
    if kind == "poll":
        out = await _poll(job["url"], job["clients"], job["seconds"], job["interval_s"],
                          job["browser_like"])
    elif kind == "closed":
        out = await _closed(job["url"], job["clients"], job["seconds"])
    else:
        out = await _listen(job["url"], job["clients"], job["seconds"])
    # the CPU the clients took from the cores the service runs on
    out["cpu"] = {kind: time.process_time() - cpu0}
    return out


def _blank() -> dict[str, Any]:
    return {**dict.fromkeys(_COUNTS, 0), "lat": [], "send_lag": [], "push": [],
            "push_bytes_max": 0, "stream_errors": [], "cpu": {}}


class _Polling:
    """Clients that poll every interval_s, each on its own connection, open-loop."""

    def __init__(self, url: str, clients: int, seconds: float, interval_s: float,
                 browser_like: bool) -> None:
        self.url, self.clients, self.interval_s = url, clients, interval_s
        self.browser_like = browser_like
        self.out = _blank()
        self.seconds = seconds
        self.start = self.deadline = 0.0  # (begin: once every client's connection is open)

    def begin(self) -> None:
        self.start = time.perf_counter() + 0.05
        self.deadline = self.start + self.seconds

    def _headers(self, etag: list[str]) -> dict[str, str]:
        headers = {"Accept-Encoding": "gzip" if self.browser_like else "identity"}
        if etag and self.browser_like:
            headers["If-None-Match"] = etag[0]
        return headers

    async def open(self, session: aiohttp.ClientSession, etag: list[str]) -> None:
        """The client's first request, untimed: it opens the keep-alive connection (a screen
        has been polling before the phase) and gets the current tag. Timed, the first round
        was 500 connections opened in one second: a quarter of a 4 s phase's requests."""
        try:
            async with session.get(self.url, headers=self._headers(etag)) as resp:
                await resp.read()
                tag = resp.headers.get("ETag")
        except aiohttp.ClientError:
            return  # (the timed requests will count the errors)
        if tag:
            etag[:] = [tag]

    async def one(self, session: aiohttp.ClientSession, due: float, etag: list[str]) -> None:
        out = self.out
        headers = self._headers(etag)
        t0 = time.perf_counter()
        out["send_lag"].append(t0 - due)
        try:
            async with session.get(self.url, headers=headers) as resp:
                body = await resp.read()
                status = resp.status
                tag = resp.headers.get("ETag")
        except aiohttp.ClientError:
            status, body, tag = 0, b"", None
        if status not in (200, 304):
            out["errors"] += 1
            return
        out["lat"].append(time.perf_counter() - t0)
        out["requests"] += 1
        out["wire_bytes"] += len(body)
        out["not_modified"] += status == 304
        if tag:
            etag[:] = [tag]

    async def client(self, i: int, session: aiohttp.ClientSession, etag: list[str]) -> None:
        due = self.start + i * self.interval_s / self.clients
        inflight: asyncio.Task[None] | None = None
        try:
            while due < self.deadline:
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if inflight is not None and not inflight.done():
                    self.out["late"] += 1  # the last answer has not come: skip this tick
                else:
                    inflight = asyncio.create_task(self.one(session, due, etag))
                due += self.interval_s
            if inflight is not None:
                await inflight
        except asyncio.CancelledError:  # the phase is over: an answer that never came
            if inflight is not None and not inflight.done():
                inflight.cancel()
                self.out["unanswered"] += 1
            raise


async def _poll(url: str, clients: int, seconds: float, interval_s: float,
                browser_like: bool) -> dict[str, Any]:
    run = _Polling(url, clients, seconds, interval_s, browser_like)
    # one keep-alive connection per client, as 500 screens would have
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1),
                                      auto_decompress=False) for _ in range(clients)]
    etags: list[list[str]] = [[] for _ in range(clients)]
    try:
        await asyncio.gather(*(run.open(s, tag) for s, tag in zip(sessions, etags, strict=True)))
        run.begin()
        tasks = [asyncio.create_task(run.client(i, sessions[i], etags[i]))
                 for i in range(clients)]
        _done, pending = await asyncio.wait(tasks, timeout=seconds + 0.2 + max(5.0, interval_s))
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return run.out


async def _closed(url: str, clients: int, seconds: float) -> dict[str, Any]:
    out = _blank()
    lat: list[float] = out["lat"]
    deadline = time.perf_counter() + seconds
    plain = {"Accept-Encoding": "identity"}  # the whole body every time

    async def client(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                async with session.get(url, headers=plain) as resp:
                    body = await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:
                ok, body = False, b""
            if ok:
                lat.append(time.perf_counter() - t0)
                out["requests"] += 1
                out["wire_bytes"] += len(body)
            else:
                out["errors"] += 1
                await asyncio.sleep(0.01)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(client(session)) for _ in range(clients)]
        _done, pending = await asyncio.wait(tasks, timeout=seconds + 5)
        for t in pending:
            t.cancel()
        out["unanswered"] += len(pending)
        await asyncio.gather(*pending, return_exceptions=True)
    return out


async def _listen(stream_url: str, listeners: int, seconds: float) -> dict[str, Any]:
    out = _blank()
    deadline = time.perf_counter() + seconds

    async def listen(session: aiohttp.ClientSession) -> None:
        checked = False
        try:
            # A snapshot is one SSE data line, over 512 kB with a few thousand agents.
            async with session.get(stream_url, timeout=aiohttp.ClientTimeout(total=None),
                                   read_bufsize=2**24) as r:
                # Lines cut from the chunks as they come: aiohttp's readline took ~70 ms of
                # CPU for a full-size push (8.3 MB), five listeners on the service's cores.
                buf = bytearray()
                async for chunk in r.content.iter_any():
                    if time.perf_counter() > deadline:
                        return
                    searched = len(buf)
                    buf += chunk
                    while (end := buf.find(b"\n", searched)) >= 0:
                        line = bytes(buf[:end + 1])
                        del buf[:end + 1]
                        searched = 0
                        if line.startswith(b"data: "):
                            received = time.time()
                            out["push"].append(received - _generated_at(line, checked))
                            checked = True
                            out["push_bytes_max"] = max(out["push_bytes_max"], len(line))
        except Exception as exc:  # reported, never fatal to the pollers
            out["stream_errors"].append(repr(exc)[:200])

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(listen(session)) for _ in range(listeners)]
        _done, pending = await asyncio.wait(tasks, timeout=seconds + 5)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return out


_GENERATED_AT = re.compile(rb'data: \{"generated_at":([-+.0-9eE]+)[,}]')


def _generated_at(line: bytes, checked: bool) -> float:
    """A push's generated_at, read from its head: the whole JSON (megabytes at the full size,
    five listeners) is parsed for a listener's first push only. Parsing every push was the
    clients' CPU, taken from the service's two cores (session 11's trace: 50 ms a push)."""
    if not checked:
        return float(json.loads(line[6:])["generated_at"])
    found = _GENERATED_AT.match(line)
    if found is None or not line.rstrip().endswith(b"}"):
        raise ValueError(f"not a snapshot push: {line[:80]!r}")
    return float(found.group(1))


Clients = list[tuple[Any, Connection]]


def start_clients(url: str, stream_url: str | None, clients: int, seconds: float,
                  interval_s: float | None) -> Clients:
    """`clients` clients of `url` in one child process: polling every `interval_s` seconds,
    or with None in a closed loop; with `stream_url`, SSE listeners in another process."""
    jobs: list[dict[str, Any]] = [
        {"kind": "closed", "url": url, "clients": clients, "seconds": seconds}
        if interval_s is None else
        {"kind": "poll", "url": url, "clients": clients, "seconds": seconds,
         "interval_s": interval_s, "browser_like": BROWSER_LIKE}]
    if stream_url is not None:
        jobs.append({"kind": "listen", "url": stream_url, "clients": STREAM_LISTENERS,
                     "seconds": seconds})
    out: Clients = []
    for job in jobs:
        out.append(spawn_child(_child, job, nice=CLIENTS_NICE))
    return out


def _recv(conn: Connection, timeout_s: float) -> Any:
    if not conn.poll(timeout_s):
        raise TimeoutError(f"the clients' process sent nothing in {timeout_s} s")
    return conn.recv()


async def collect(clients: Clients, seconds: float, interval_s: float | None
                  ) -> dict[str, Any]:
    """The clients' figures, once their processes have finished."""
    loop = asyncio.get_running_loop()
    raw = _blank()
    for proc, conn in clients:
        part: dict[str, Any] = await loop.run_in_executor(
            None, _recv, conn, seconds + 60 + (interval_s or 0))
        proc.join(5)
        for key in _COUNTS:
            raw[key] += part[key]
        for key in ("lat", "send_lag", "push", "stream_errors"):
            raw[key] += part[key]
        raw["push_bytes_max"] = max(raw["push_bytes_max"], part["push_bytes_max"])
        raw["cpu"].update(part["cpu"])
    answered = raw["requests"]
    out: dict[str, Any] = {
        "mode": "saturation" if interval_s is None else "poll",
        "interval_s": interval_s, "seconds": seconds,
        **{k: raw[k] for k in _COUNTS if k != "wire_bytes"},
        # answers per second over the phase (the clients' process starts a little late)
        "requests_per_s": round(answered / max(1e-9, seconds)),
        "latency_ms": percentiles_ms(raw["lat"]),
        "not_modified_share": round(raw["not_modified"] / answered, 3) if answered else None,
        "wire_bytes_per_answer": round(raw["wire_bytes"] / answered) if answered else None,
        # each client process's CPU (its connections' set-up included) over the phase's
        # length, as a share of one core
        "clients_cpu_share": {kind: round(cpu_s / max(1e-9, seconds), 3)
                              for kind, cpu_s in raw["cpu"].items()},
    }
    if interval_s is not None:
        out["browser_like"] = BROWSER_LIKE
        # how late the clients' own process sent (its CPU is shared too): a client-side delay
        out["send_lag_ms"] = percentiles_ms(raw["send_lag"])
    if len(clients) > 1:
        out["push_delay_ms"] = percentiles_ms(raw["push"])
        out["push_bytes_max"] = raw["push_bytes_max"]
        out["stream_errors"] = raw["stream_errors"][:3]
    return out


async def measure(url: str, stream_url: str | None, clients: int, seconds: float,
                  interval_s: float | None) -> dict[str, Any]:
    return await collect(start_clients(url, stream_url, clients, seconds, interval_s),
                         seconds, interval_s)


# ---- the baseline server ------------------------------------------------------------------
async def baseline(body: bytes, clients: int, seconds: float, interval_s: float
                   ) -> dict[str, Any]:
    """A bare aiohttp JSON handler (same body size) under the same clients: polled (the top
    level of the result) then in a closed loop (`saturation`)."""
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/q", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/q"
    try:
        out = await measure(url, None, clients, poll_seconds(seconds, interval_s), interval_s)
        out["saturation"] = await measure(url, None, clients, seconds, None)
        return out
    finally:
        await runner.cleanup()
