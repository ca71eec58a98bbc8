"""Live API: 500 concurrent pollers of `GET /api/v1/queues` (in a child process, so the
clients' own CPU is not the service's) while routing runs, plus SSE listeners on
`/api/v1/stream` (in another child) that time each pushed snapshot against its
`generated_at`.

Baseline in the same run: the same pollers against a bare aiohttp handler in this process that
returns a JSON body of the same size (no figures, no routing).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from typing import Any

from aiohttp import web

from bench.common import percentiles_ms


# ---- clients (child process) ----------------------------------------------------------------
def _clients(conn: Connection, url: str, stream_url: str | None, pollers: int,
             seconds: float) -> None:
    conn.send(asyncio.run(_clients_main(url, stream_url, pollers, seconds)))


async def _clients_main(url: str, stream_url: str | None, pollers: int, seconds: float
                        ) -> dict[str, Any]:
    import aiohttp

    lat: list[float] = []
    errors = 0
    push: list[float] = []
    sizes: list[int] = []
    stream_errors: list[str] = []
    deadline = time.perf_counter() + seconds

    async def poll(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                async with session.get(url) as resp:
                    await resp.read()
                    ok = resp.status == 200
            except aiohttp.ClientError:
                ok = False
            if ok:
                lat.append(time.perf_counter() - t0)
            else:
                errors += 1
                await asyncio.sleep(0.01)

    async def listen(session: aiohttp.ClientSession) -> None:
        assert stream_url is not None
        try:
            # A snapshot is one SSE data line, over 512 kB with a few thousand agents.
            async with session.get(stream_url, timeout=aiohttp.ClientTimeout(total=None),
                                   read_bufsize=2**24) as r:
                async for line in r.content:
                    if time.perf_counter() > deadline:
                        return
                    if line.startswith(b"data: "):
                        received = time.time()
                        snap = json.loads(line[6:])
                        push.append(received - float(snap["generated_at"]))
                        sizes.append(len(line))
        except Exception as exc:  # reported, never fatal to the pollers
            stream_errors.append(repr(exc)[:200])

    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as session:
        tasks = [asyncio.create_task(poll(session)) for _ in range(pollers)]
        if stream_url:
            tasks += [asyncio.create_task(listen(session)) for _ in range(5)]
        t0 = time.perf_counter()
        _done, pending = await asyncio.wait(tasks, timeout=seconds + 5)
        for t in pending:
            t.cancel()
        elapsed = time.perf_counter() - t0
    return {"requests": len(lat), "errors": errors, "seconds": round(elapsed, 3),
            "lat": lat, "push": push, "push_bytes_max": max(sizes, default=0),
            "stream_errors": stream_errors[:3]}


Clients = list[tuple[Any, Connection]]


def start_clients(url: str, stream_url: str | None, pollers: int, seconds: float) -> Clients:
    """The pollers in one child process and the stream listeners in another: a process busy
    with 500 pollers would read the pushed snapshots late, and the push delay would be its own."""
    ctx = mp.get_context("spawn")
    out: Clients = []
    jobs: list[tuple[str, str | None, int]] = [(url, None, pollers)]
    if stream_url is not None:
        jobs.append((url, stream_url, 0))
    for poll_url, listen_url, n in jobs:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_clients, args=(child, poll_url, listen_url, n, seconds),
                           daemon=True)
        proc.start()
        child.close()  # so that a dead child reads as EOFError here, not as a silent wait
        out.append((proc, parent))
    return out


def _recv(conn: Connection, timeout_s: float) -> Any:
    if not conn.poll(timeout_s):
        raise TimeoutError(f"the pollers' process sent nothing in {timeout_s} s")
    return conn.recv()


async def collect(clients: Clients, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    raw: dict[str, Any] = {}
    for proc, conn in clients:
        part: dict[str, Any] = await loop.run_in_executor(None, _recv, conn, seconds + 60)
        proc.join(5)
        if not raw:
            raw = part
            continue
        for key in ("requests", "errors"):
            raw[key] += part[key]
        for key in ("lat", "push", "stream_errors"):
            raw[key] += part[key]
        raw["push_bytes_max"] = max(raw["push_bytes_max"], part["push_bytes_max"])
    lat = raw.pop("lat")
    push = raw.pop("push")
    # Requests per second over the polling window (the child starts a little late).
    raw["requests_per_s"] = round(raw["requests"] / max(1e-9, seconds))
    raw["latency_ms"] = percentiles_ms(lat)
    raw["push_delay_ms"] = percentiles_ms(push)
    return raw


# ---- the baseline server ------------------------------------------------------------------
async def baseline(body: bytes, pollers: int, seconds: float) -> dict[str, Any]:
    """A bare aiohttp JSON handler (same body size) under the same pollers."""
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/q", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        clients = start_clients(f"http://127.0.0.1:{port}/q", None, pollers, seconds)
        return await collect(clients, seconds)
    finally:
        await runner.cleanup()
