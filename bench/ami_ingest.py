"""AMI ingest: a raw AMI server in a child process replays real trace frames to the real
service (panoramisk in AmiLink -> the engine's inbox -> handlers -> Redis), as fast as it can
and then paced; the parent counts the frames the engine takes off its inbox.

The frames are every `Event:` frame of tests/fixtures/traces/*.jsonl (VarSet, Newexten, RTCP,
AsyncAGI*, Hangup, BridgeEnter, ...), in trace order, with the Uniqueids and channel names
made new on every pass, so AsyncAGIStart creates a call in Redis, the IVR sends AGI actions
(answered by the raw server) and Hangup ends the call: the engine does its real work per frame.
The raw server runs in its own process so that writing frames costs the service nothing.

Baseline in the same run: panoramisk's `Message.from_line` on the same frames, in this process.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from acd.config import parse_config
from acd.service.app import Service
from acd.testing.harness import wait_for
from bench import centre
from bench.common import LoopLag, say, spawn_child

TRACES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "traces"
_UID = re.compile(r"\b(\d{10})\.(\d+)\b")
_CHAN = re.compile(r"-([0-9a-f]{8})\b")


def trace_frames() -> list[str]:
    """Every event frame of the traces, in order (each ends with a blank line)."""
    out: list[str] = []
    for path in sorted(TRACES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            frame = rec.get("frame", "")
            if rec.get("dir") == "in" and frame.startswith("Event:") and \
                    not frame.startswith(("Event: FullyBooted", "Event: SuccessfulAuth")):
                out.append(frame)
    return out


def event_mix(frames: list[str]) -> dict[str, int]:
    counts = collections.Counter(f.split("\r\n", 1)[0][7:] for f in frames)
    return dict(counts.most_common())


def passes(frames: list[str], n: int) -> list[bytes]:
    """n frames: the trace frames again and again, each pass with new ids."""
    out: list[bytes] = []
    k = 0
    while len(out) < n:
        k += 1
        for f in frames:
            g = _UID.sub(f"{1_900_000_000 + k}.\\2", f)
            g = _CHAN.sub(lambda m: f"-{k:04x}{m.group(1)[4:]}", g)  # noqa: B023
            out.append(g.encode())
            if len(out) >= n:
                break
    return out


def parse_baseline(frames: list[str], seconds: float = 1.0) -> dict[str, Any]:
    """panoramisk's bare frame parse (Message.from_line) on the same frames."""
    from panoramisk.message import Message

    lines = [f.rstrip("\r\n") for f in frames]
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for line in lines:
            Message.from_line(line)
        n += len(lines)
    return {"frames": n, "per_s": round(n / (time.perf_counter() - t0))}


# ---- the raw AMI server (child process) ---------------------------------------------------
def _feeder(conn: Connection, frames: list[bytes]) -> None:
    asyncio.run(_feeder_main(conn, frames))


def _reply(raw: bytes) -> tuple[str, bytes]:
    """The raw server's answer to one action: (action name, reply bytes)."""
    hs = dict(line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line)
    aid = hs.get("ActionID", "")
    action = hs.get("Action", "").lower()
    head = f"Response: Success\r\nActionID: {aid}\r\n"
    if action == "login":
        return action, (head + "Message: Authentication accepted\r\n\r\n").encode()
    if action == "coreshowchannels":
        return action, (head + "EventList: start\r\nMessage: Channels will follow\r\n\r\n"
                        f"Event: CoreShowChannelsComplete\r\nActionID: {aid}\r\n"
                        "EventList: Complete\r\nListItems: 0\r\n\r\n").encode()
    if action == "ping":
        return action, (head + f"Ping: Pong\r\nTimestamp: {time.time():.6f}\r\n\r\n").encode()
    return action, (head + "Message: ok\r\n\r\n").encode()


async def _feeder_main(conn: Connection, frames: list[bytes]) -> None:
    loop = asyncio.get_running_loop()
    writers: list[asyncio.StreamWriter] = []

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        buf = b""
        while True:
            data = await reader.read(65536)
            if not data:
                return
            buf += data
            while b"\r\n\r\n" in buf:
                raw, buf = buf.split(b"\r\n\r\n", 1)
                action, reply = _reply(raw)
                writer.write(reply)
                if action == "login":
                    writers.append(writer)

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    conn.send(server.sockets[0].getsockname()[1])
    while True:
        cmd = await loop.run_in_executor(None, conn.recv)
        if cmd is None:
            break
        start, count, rate = cmd
        while not writers:
            await asyncio.sleep(0.01)
        w = writers[-1]
        chunk = 100
        t0 = time.perf_counter()
        for i in range(start, start + count, chunk):
            w.write(b"\r\n".join(frames[i:i + chunk]) + b"\r\n")
            await w.drain()
            if rate:
                ahead = (i + chunk - start) / rate - (time.perf_counter() - t0)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        conn.send(time.perf_counter() - t0)
    server.close()


# ---- the measurement ------------------------------------------------------------------------
class _Counter:
    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.n = 0
        self.first = 0.0

    def __call__(self, frame: Any) -> None:
        if self.n == 0:
            self.first = time.perf_counter()
        self.n += 1
        self.sink(frame)


async def _drain(service: Service, counter: _Counter, target: int, timeout_s: float,
                 lag: LoopLag, feeder: Connection) -> tuple[float, int]:
    """Until the feeder has sent everything and the engine's inbox stays empty (the link may
    drop frames the engine never uses before they reach the inbox, so frames are not counted
    one by one): the time the last frame was taken, and the deepest inbox seen."""
    engine = service.engine
    assert engine is not None
    deadline = time.monotonic() + timeout_s
    depth = 0
    last_n, last_change = -1, time.perf_counter()
    while True:
        q = engine.inbox.qsize()
        depth = max(depth, q)
        now = time.perf_counter()
        if counter.n != last_n or q:
            last_n, last_change = counter.n, now
        elif (counter.n >= target or feeder.poll()) and now - last_change > 0.2:
            return last_change, depth
        if time.monotonic() > deadline:
            raise TimeoutError(f"ingest: {counter.n}/{target} frames, {q} queued")
        await asyncio.sleep(0.001)


async def run(redis_url: str, *, blast: int, paced_rate: float, paced_s: float
              ) -> dict[str, Any]:
    raw = trace_frames()
    paced_n = int(paced_rate * paced_s)
    frames = passes(raw, blast + paced_n)
    out: dict[str, Any] = {"trace_frames": len(raw), "mix": event_mix(raw)}
    out["baseline_parse"] = parse_baseline(raw)
    proc, parent = spawn_child(_feeder, frames)
    try:
        port = parent.recv()
        cfg = parse_config({**centre.build(centre.Sizes(calls=0, agents=10, queues=5)),
                            "pbx": {"name": "bench", "host": "127.0.0.1", "port": port,
                                    "username": "acd", "secret": "x"}})
        service = Service(cfg, redis_url=redis_url, http=False)
        await service.start()
        try:
            engine = service.engine
            assert engine is not None
            await wait_for(lambda: engine.routing_enabled, 15, "the service to attach")
            counter = _Counter(engine.link.sink)
            engine.link.sink = counter
            # 1. as fast as the service takes them
            lag = LoopLag().start()
            parent.send((0, blast, 0))
            t_end, depth = await _drain(service, counter, blast, 120, lag, parent)
            lag_blast = await lag.stop()
            send_s = parent.recv()
            elapsed = t_end - counter.first
            out["blast"] = {"frames": blast,
                            "frames_reaching_inbox": counter.n, "seconds": round(elapsed, 3),
                            "events_per_s": round(blast / elapsed),
                            "feeder_send_s": round(send_s, 3), "max_inbox": depth,
                            "loop_lag_ms": lag_blast}
            say(f"ami blast: {blast} frames in {elapsed:.2f} s")
            # 2. paced: does the service keep up at this rate?
            n0 = counter.n
            lag = LoopLag().start()
            t_sent = time.perf_counter()
            parent.send((blast, paced_n, paced_rate))
            t_end, depth = await _drain(service, counter, n0 + paced_n, 120, lag, parent)
            lag_paced = await lag.stop()
            send_s = parent.recv()
            out["paced"] = {"rate_target_per_s": paced_rate, "frames": paced_n,
                            "rate_sent_per_s": round(paced_n / send_s),
                            "drained_after_send_s": round(t_end - t_sent - send_s, 3),
                            "max_inbox": depth, "loop_lag_ms": lag_paced}
            out["events_applied"] = engine.events_applied
            out["bad_frames"] = engine.bad_frames
        finally:
            await service.stop()
    finally:
        parent.send(None)
        proc.join(5)
        if proc.is_alive():
            proc.terminate()
    return out

