"""Conditional and compressed figures reads on the real service (simulated PBX over TCP, real
Redis): a strong ETag per snapshot and part, 304 for a poller that has the body, a gzip body
made once per snapshot and never compressed twice."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from acd.api import conditional
from acd.api import stream as stream_module
from acd.api.conditional import accepts_gzip
from acd.pbxsim import AgentPhone
from acd.testing.harness import Harness, wait_for

from .test_e2e_callpath import config

TOKEN = "token-view-e7a1"
VIEW = {"Authorization": f"Bearer {TOKEN}"}
PLAIN = {**VIEW, "Accept-Encoding": "identity"}
GZIP = {**VIEW, "Accept-Encoding": "gzip, deflate, br"}
PARTS = ("/api/v1/queues", "/api/v1/agents", "/api/v1/calls", "/api/v1/ivr/funnel",
         "/api/v1/reasons")


@pytest.fixture
async def service(redis_url: str) -> AsyncIterator[tuple[Harness, str]]:
    cfg = config()
    # a new snapshot only when the test asks for one (backend.refresh)
    cfg["http"] = {"port": 0, "snapshot_interval_s": 60, "tokens": [
        {"name": "view", "role": "viewer", "sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}]}
    h = await Harness.start(cfg, redis_url, phone=lambda i, e: AgentPhone(
        interface=i, extension=e, answer_after_s=None, talk_s=None))
    await wait_for(lambda: h.service.backend is not None and h.service.backend.snapshot(), 10,
                   "a first snapshot")
    yield h, f"http://127.0.0.1:{h.service.http_port}"
    await h.stop()


async def get(url: str, headers: dict[str, str]) -> tuple[int, CIMultiDict[str], bytes]:
    """The response as sent: the body is not decompressed by the client."""
    async with aiohttp.ClientSession(auto_decompress=False) as s, s.get(url,
                                                                       headers=headers) as r:
        return r.status, r.headers.copy(), await r.read()


async def new_snapshot(h: Harness) -> None:
    backend = h.service.backend
    assert backend is not None
    before = backend.snapshot()["generated_at"]
    await asyncio.sleep(0.01)  # generated_at is wall time: let it move
    await backend.refresh()
    assert backend.snapshot()["generated_at"] != before


def tag(headers: CIMultiDict[str]) -> str:
    value = headers["ETag"]
    assert value.startswith('"') and value.endswith('"'), value  # strong: no W/
    return value


async def test_a_strong_etag_per_snapshot_and_part(service: tuple[Harness, str]) -> None:
    h, base = service
    first: dict[str, str] = {}
    for path in PARTS:
        status, headers, body = await get(base + path, PLAIN)
        assert status == 200, (path, body)
        assert headers["Cache-Control"] == "no-cache"
        assert "Accept-Encoding" in headers["Vary"]
        assert "Content-Encoding" not in headers
        first[path] = tag(headers)
        again = await get(base + path, PLAIN)
        assert (again[0], tag(again[1]), again[2]) == (200, first[path], body)
    assert len(set(first.values())) == len(PARTS)  # one tag per part
    await new_snapshot(h)
    for path in PARTS:
        status, headers, _ = await get(base + path, PLAIN)
        assert status == 200 and tag(headers) != first[path], path


async def test_if_none_match_gets_304_without_a_body(service: tuple[Harness, str]) -> None:
    h, base = service
    url = base + "/api/v1/queues"
    _, headers, body = await get(url, PLAIN)
    etag = tag(headers)
    status, again, empty = await get(url, {**PLAIN, "If-None-Match": etag})
    assert status == 304 and empty == b""
    assert tag(again) == etag and again["Cache-Control"] == "no-cache"
    # a list, a weak form of the same tag (If-None-Match compares weakly), and '*' match too
    for header in (f'"nope", {etag}', f"W/{etag}", "*"):
        assert (await get(url, {**PLAIN, "If-None-Match": header}))[0] == 304, header
    # the reasons the wallboard polls answer the same way
    _, rh, _ = await get(base + "/api/v1/reasons", PLAIN)
    assert (await get(base + "/api/v1/reasons", {**PLAIN, "If-None-Match": tag(rh)}))[0] == 304
    await new_snapshot(h)
    status, headers, fresh = await get(url, {**PLAIN, "If-None-Match": etag})
    assert status == 200 and tag(headers) != etag
    assert json.loads(fresh)["generated_at"] > json.loads(body)["generated_at"]


async def test_a_foreign_or_bad_etag_gets_the_body(service: tuple[Harness, str]) -> None:
    _, base = service
    url = base + "/api/v1/queues"
    _, _, body = await get(url, PLAIN)
    for header in ('"0123456789abcdef01234567"', "not-quoted", '"unterminated', "W/", ","):
        status, headers, got = await get(url, {**PLAIN, "If-None-Match": header})
        assert status == 200 and got == body, header
        assert "ETag" in headers


async def test_gzip_once_and_never_twice(service: tuple[Harness, str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    h, base = service
    url = base + "/api/v1/queues"
    compressed: list[int] = []
    plain_compress = conditional._compress

    def counting(body: bytes) -> bytes:
        compressed.append(len(body))
        return plain_compress(body)

    monkeypatch.setattr(conditional, "_compress", counting)
    _, plain_headers, plain = await get(url, PLAIN)
    answers = await asyncio.gather(*(get(url, GZIP) for _ in range(12)))
    assert compressed == [len(plain)]  # twelve clients at once: one compression
    for status, headers, raw in answers:
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in headers["Vary"]
        assert raw == answers[0][2]
        # decompressed once it is the plain body, JSON (not gzip inside gzip)
        assert gzip.decompress(raw) == plain
        assert json.loads(gzip.decompress(raw))["queues"]
    # the gzip body is another representation: another strong tag, and it revalidates
    gz_tag = tag(answers[0][1])
    assert gz_tag != tag(plain_headers)
    status, headers, empty = await get(url, {**GZIP, "If-None-Match": gz_tag})
    assert status == 304 and empty == b"" and tag(headers) == gz_tag
    assert "Content-Encoding" not in headers
    # an aiohttp client that decompresses by itself reads the same JSON
    async with aiohttp.ClientSession() as s, s.get(url, headers=GZIP) as r:
        assert await r.json() == json.loads(plain)
    # gzip refused (q=0): the plain body
    status, headers, raw = await get(url, {**VIEW, "Accept-Encoding": "gzip;q=0, identity"})
    assert status == 200 and "Content-Encoding" not in headers and raw == plain
    await new_snapshot(h)
    await get(url, GZIP)
    assert len(compressed) == 2  # a new snapshot: compressed once again


def test_accept_encoding_parsing() -> None:
    def takes(value: str) -> bool:
        return accepts_gzip(make_mocked_request("GET", "/", headers={"Accept-Encoding": value}))

    assert takes("gzip") and takes("deflate, GZIP;q=0.5") and takes("*") and takes("x-gzip")
    assert not takes("") and not takes("identity") and not takes("br, deflate")
    assert not takes("gzip;q=0") and not takes("gzip;q=0.0, *") and not takes("gzip;q=oops")
    assert not takes("*;q=0") and takes("identity;q=1, *;q=0.1")


async def test_the_next_snapshots_bodies_are_made_before_it_is_published(
        service: tuple[Harness, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Pollers never wait for a compression: while the next snapshot's gzip body is being
    made they get the current one's, and once it is published its bodies are ready."""
    h, base = service
    backend = h.service.backend
    assert backend is not None
    queues, agents, reasons = (base + p for p in ("/api/v1/queues", "/api/v1/agents",
                                                  "/api/v1/reasons"))
    compressing = threading.Event()
    release = threading.Event()
    compressed: list[int] = []
    plain_compress = conditional._compress

    def held(body: bytes) -> bytes:
        compressed.append(len(body))
        compressing.set()
        assert release.wait(10)
        return plain_compress(body)

    await get(queues, GZIP)  # gzip asked of this snapshot's queues, not of its agents
    _, old_headers, _ = await get(agents, PLAIN)
    await get(reasons, PLAIN)
    monkeypatch.setattr(conditional, "_compress", held)
    old = backend.snapshot()
    await asyncio.sleep(0.01)  # generated_at is wall time: let it move
    refresh = asyncio.create_task(backend.refresh())
    try:
        await wait_for(compressing.is_set, 10, "the next snapshot's gzip body being made")
        # meanwhile the published snapshot is served, at once
        status, headers, raw = await asyncio.wait_for(get(queues, GZIP), 5)
        assert status == 200
        assert json.loads(gzip.decompress(raw))["generated_at"] == old["generated_at"]
        assert backend.snapshot() is old
    finally:
        release.set()
    await refresh
    new = backend.snapshot()
    assert new is not old
    made_ahead = len(compressed)
    assert made_ahead == 1  # the queues' gzip body only: nobody asked the agents' in gzip
    status, headers, raw = await get(queues, GZIP)
    assert json.loads(gzip.decompress(raw))["generated_at"] == new["generated_at"]
    assert len(compressed) == made_ahead  # it was ready: no compression when it was asked
    status, headers, body = await get(agents, PLAIN)
    assert json.loads(body)["generated_at"] == new["generated_at"]
    assert tag(headers) == f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    assert tag(headers) != tag(old_headers)
    # the reasons' figures made ahead are the new ones' (the same JSON as a fresh encoding)
    _, _, fresh_reasons = await get(reasons, PLAIN)
    assert json.loads(fresh_reasons) == backend.reasons()


async def test_made_ahead_from_the_successor_while_the_source_is_served() -> None:
    cache = conditional.BodyCache()
    old, new = {"n": 1}, {"n": 2}

    def encode(source: object) -> bytes:
        return json.dumps(source).encode()

    def not_again(_source: object) -> bytes:
        raise AssertionError("made ahead: not made again")

    cache.get("r", old, encode)
    await cache.prepare({id(old): new, id({}): {"n": 3}})
    assert cache.get("r", old, not_again).plain == b'{"n": 1}'  # still served until published
    ahead = cache.get("r", new, not_again)
    assert ahead.plain == b'{"n": 2}' and ahead.gzipped is None  # nobody asked it gzipped
    assert cache.get("r", new, not_again) is ahead
    assert cache.get("r", {"n": 4}, encode).plain == b'{"n": 4}'  # a source not foreseen


async def test_a_failing_hook_does_not_stop_the_publication(
        service: tuple[Harness, str]) -> None:
    h, _ = service
    backend = h.service.backend
    assert backend is not None

    async def broken(_successors: object) -> None:
        raise RuntimeError("boom")

    backend.before_publish.insert(0, broken)
    try:
        await new_snapshot(h)  # (asserts a new snapshot was published)
    finally:
        backend.before_publish.remove(broken)


async def test_the_next_push_is_made_before_the_snapshot_is_published(
        service: tuple[Harness, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The event a stream pushes of a new snapshot is made ahead, off the event loop."""
    h, base = service
    backend = h.service.backend
    assert backend is not None
    made_in: list[str] = []
    real_event = stream_module._event

    def recorded(snapshot: Any, parts: Any) -> bytes:
        made_in.append(threading.current_thread().name)
        return real_event(snapshot, parts)

    monkeypatch.setattr(stream_module, "_event", recorded)
    async with aiohttp.ClientSession() as session, session.get(
            base + "/api/v1/stream?parts=queues", headers=VIEW) as resp:
        first = await asyncio.wait_for(next_snapshot(resp), 5)
        assert made_in == [threading.main_thread().name]  # (the stream's first: on demand)
        await new_snapshot(h)
        second = await asyncio.wait_for(next_snapshot(resp), 5)
        assert second["generated_at"] == backend.snapshot()["generated_at"] \
            != first["generated_at"]
        assert second["queues"] == json.loads(json.dumps(backend.snapshot()["queues"]))
        assert len(made_in) == 2 and made_in[1] != threading.main_thread().name


async def next_snapshot(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    while True:
        line = await resp.content.readline()
        if line.startswith(b"data: "):
            parsed: dict[str, Any] = json.loads(line[6:])
            return parsed
