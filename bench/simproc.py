"""The simulated PBX of the bench, in a child process by default: its CPU (dialplan, hold loops,
AMI frames) is then not the service's, which has its event loop to itself as it would next to a
real Asterisk. `--sim-in-process` keeps it in the service's process (the harness's wiring) to
measure what sharing costs.

Both ends of a decision's latency are taken by the simulator, on one clock
(time.perf_counter, CLOCK_MONOTONIC: the same in every process of the machine), where the
frames cross the wire (WireClock):
- t0: the frame of the event that frees an agent (UserEvent AcdAgent, raised by the *51 / *53
  feature-code dialplan) is written to the service's socket;
- t1: the Originate that rings that agent reached the simulator's socket: the kernel's receive
  time of the bytes that completed it (SO_TIMESTAMPNS), not when the simulator's own loop got
  round to reading and parsing them. A real Asterisk reads its manager sessions in threads of
  their own; the Python simulator's loop, busy dialling the legs of the Originates before,
  read them 0.1 ms late at the median and 0.35 ms at p99 (quick size, 500/s).
The same decisions are timed inside the simulator too, as before 2026-11-25 (`in_sim`): t0 as
the event is emitted (a listener on `sim.pbx.listeners`), t1 as the `originate` entry of the
AMI action table (acd/pbxsim/ami.py), wrapped here, is called.
Phones only ring: with `auto_reject` the driver hangs a rung leg up at once, which is a
ring-no-answer to the service (the call goes back to its place, the agent goes not ready).

Calls that arrive to ready agents (the call-first decision, `place_arrivals`) are timed the
same way: t0 when the sim emits the AsyncAGIStart that brings the call to the service, t1 when
the Originate naming that caller (its ACD_CALLER variable) arrives. The agents of the arrival
queue (bench/centre.py) answer at once and hang up soon after: ready again.

The simulator sends only the events our dialplans/manager_acd.conf lets through (its
`eventfilter` lines), as a PBX set up by the admin guide does: without them the hold loop of
10,000 waiting callers is ~14,000 events a second the service reads only to drop. The AMI
ingest part of the benchmark (bench/ami_ingest.py) still measures that unfiltered stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import acd.pbxsim.ami as sim_ami
from acd.contract import VAR_CALLER
from acd.gcpauses import GC_PAUSES
from acd.pbxsim import AgentPhone, CallerSpec, PbxSim
from acd.pbxsim.eventfilter import manager_conf_filters
from acd.pbxsim.frames import Headers
from acd.pbxsim.sim import SHIPPED_MANAGER_CONF
from acd.service.runtime import tune_gc
from bench.centre import ARRIVAL_DNIS, is_arrival_ext
from bench.common import LoopLag, percentiles_ms, spawn_child

SHIPPED_FILTERS = manager_conf_filters(SHIPPED_MANAGER_CONF)
SLOW_S = 0.02  # a decision slower than this is kept with its time (stalls: see stalls())
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # (Linux's number; not in every build)


ARRIVAL_TALK_S = 0.1  # an arrival agent's conversation: short, so it is soon ready again


def ring_only(iface: str, ext: str) -> AgentPhone:
    return AgentPhone(interface=iface, extension=ext, answer_after_s=None, talk_s=None)


def bench_phone(iface: str, ext: str) -> AgentPhone:
    """Every agent's phone only rings, except the arrival queue's: those answer."""
    if is_arrival_ext(ext):
        return AgentPhone(interface=iface, extension=ext, answer_after_s=0.0,
                          talk_s=ARRIVAL_TALK_S)
    return ring_only(iface, ext)


@dataclass(slots=True)
class _Sent:
    """t0 of one decision: when the simulator emitted its event, and when that event's frame
    was written to the wire (the emission's time until then)."""

    emitted: float
    written: float


class _StampedSocket:
    """A transport's socket whose reads keep the kernel's receive time of their last bytes
    (SO_TIMESTAMPNS, in time.perf_counter's terms); everything else is the socket's own."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock = sock
        self.received_at: float | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def recv(self, size: int) -> bytes:
        data, ancillary, _flags, _addr = self._sock.recvmsg(size, socket.CMSG_SPACE(16))
        for level, kind, raw in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
                sec, ns = struct.unpack("qq", raw[:16])
                self.received_at = sec + ns / 1e9 - (time.time() - time.perf_counter())
        return data


class WireClock:
    """When frames cross the wire of the simulator's AMI sessions: `on_write(t)` just before
    a session's frames are written, and `arrived(session)`, the kernel's receive time of
    the last bytes read from it (the action being handled arrived then or earlier: a time
    never too early). A session it cannot watch (no selector transport here) gives None,
    and its decisions are timed inside the simulator."""

    def __init__(self, on_write: Callable[[float], None]) -> None:
        self.on_write = on_write
        # (by the session itself, weakly: an id() of a session gone could be a new one's)
        self._socks: weakref.WeakKeyDictionary[sim_ami.Session, _StampedSocket] = (
            weakref.WeakKeyDictionary())
        self._seen: weakref.WeakSet[sim_ami.Session] = weakref.WeakSet()

    def watch(self, sessions: list[sim_ami.Session]) -> None:
        for session in sessions:
            if session in self._seen:
                continue
            self._seen.add(session)
            self._watch_writes(session)
            transport = session.writer.transport
            sock = getattr(transport, "_sock", None)  # asyncio's selector transport reads it
            if isinstance(sock, socket.socket):
                stamped = _StampedSocket(sock)
                transport._sock = stamped  # type: ignore[attr-defined]
                self._socks[session] = stamped

    def _watch_writes(self, session: sim_ami.Session) -> None:
        writer = session.writer
        write = writer.write

        def stamped_write(data: bytes | bytearray | memoryview) -> None:
            if not session.held:  # (while held, only answers are written: Session.respond)
                self.on_write(time.perf_counter())
            write(data)

        writer.write = stamped_write  # type: ignore[method-assign]

    def watching(self) -> int:
        """How many sessions' arrivals are timed on the wire."""
        return len(self._socks)

    def arrived(self, session: sim_ami.Session) -> float | None:
        sock = self._socks.get(session)
        return None if sock is None else sock.received_at


class SimDriver:
    """What the bench asks of the simulated PBX (each method answers at once)."""

    def __init__(self, sim: PbxSim) -> None:
        self.sim = sim
        self.iface_of_ext = {p.extension: p.interface for p in sim.pbx.phones.values()}
        self.ext_of_iface = {i: e for e, i in self.iface_of_ext.items()}
        self.freed_at: dict[str, _Sent] = {}  # interface -> t0 of its last freeing event
        self._unsent: list[_Sent] = []  # those t0s whose frames wait to be written
        self.wire = WireClock(self._written)
        self.originates = 0
        self.last_originate = 0.0
        self.latencies: list[float] = []  # on the wire (module docstring)
        self.latencies_in_sim: list[float] = []  # the same decisions, inside the simulator
        self.slow: list[tuple[float, float]] = []  # (t0, latency) of those over SLOW_S
        self.gc_mark = GC_PAUSES.copy()  # the simulator's own collections since reset
        self.lag = LoopLag()  # and how late its loop ran (its AMI writes and reads wait)
        self.rang: list[str] = []  # extensions rung since the last tick()
        self.auto_reject = False
        self.held_events = 0  # freeing events emitted since the last hold()
        self.arriving: set[str] = set()  # arrival callers' channels, until their AGI starts
        self.arrived_at: dict[str, _Sent] = {}  # caller channel -> t0 of its AsyncAGIStart
        self.arrival_latencies: list[float] = []
        self.arrival_latencies_in_sim: list[float] = []
        self.arrivals = 0
        self._orig = sim_ami.ACTIONS["originate"]
        self._tasks: set[asyncio.Task[None]] = set()
        sim.pbx.listen(self._event, lambda event: event in ("UserEvent", "AsyncAGIStart"))
        sim_ami.ACTIONS["originate"] = self._originate

    def close(self) -> None:
        self.lag.cancel()
        sim_ami.ACTIONS["originate"] = self._orig
        self.sim.pbx.unlisten(self._event)

    # --- the probe ------------------------------------------------------------------------
    def _event(self, name: str, headers: Headers) -> None:
        if name == "AsyncAGIStart":
            if self.arriving:
                channel = next((v for k, v in headers if k == "Channel"), "")
                if channel in self.arriving:
                    self.arriving.discard(channel)
                    self.arrived_at[channel] = self._emitted()
            return
        if name != "UserEvent":
            return
        d = dict(headers)
        if d.get("UserEvent") == "AcdAgent":
            iface = self.iface_of_ext.get(d.get("Agent", "").strip())
            if iface is not None:
                self.freed_at[iface] = self._emitted()
                self.held_events += 1

    def _emitted(self) -> _Sent:
        """t0 of an event just emitted (written: stamped again when its frame is)."""
        now = time.perf_counter()
        stamp = _Sent(now, now)
        self._unsent.append(stamp)
        return stamp

    def _written(self, t: float) -> None:
        """A session's frames are being written: the events emitted so far are on the wire
        now (the simulator writes each turn's frames together, at the end of the turn)."""
        for stamp in self._unsent:
            stamp.written = t
        self._unsent.clear()

    def _originate(self, s: Any, a: Headers) -> None:
        t1 = time.perf_counter()
        on_wire = self.wire.arrived(s)
        t1_wire = t1 if on_wire is None else min(t1, on_wire)
        iface = next((v for k, v in a if k == "Channel"), "")
        self.originates += 1
        self.last_originate = t1
        t0 = self.freed_at.pop(iface, None)
        if t0 is not None:
            latency = t1_wire - t0.written
            self.latencies.append(latency)
            self.latencies_in_sim.append(t1 - t0.emitted)
            if latency > SLOW_S:
                self.slow.append((t0.written, latency))
        elif self.arrived_at:
            caller = next((v.partition("=")[2] for k, v in a
                           if k == "Variable" and v.startswith(f"{VAR_CALLER}=")), "")
            t0 = self.arrived_at.pop(caller, None)
            if t0 is not None:
                self.arrival_latencies.append(t1_wire - t0.written)
                self.arrival_latencies_in_sim.append(t1 - t0.emitted)
        # The PBX's own work on the action comes after: the actions already read are timed
        # as they arrive, not after the simulator has dialled the ones before them.
        asyncio.get_running_loop().call_soon(self._dial_leg, s, a, iface)

    def _dial_leg(self, s: Any, a: Headers, iface: str) -> None:
        self._orig(s, a)
        if self.auto_reject:  # at once, but after the Originate's own events
            asyncio.get_running_loop().call_soon(self.sim.agent_hangup, iface)
            self.rang.append(self.ext_of_iface.get(iface, ""))

    # --- commands -------------------------------------------------------------------------
    def reset(self, auto_reject: bool = False) -> None:
        self.wire.watch(self.sim.ami.sessions)  # (the service's session, once it is there)
        self.freed_at.clear()
        self._unsent.clear()
        self.latencies.clear()
        self.latencies_in_sim.clear()
        self.slow.clear()
        self.gc_mark = GC_PAUSES.copy()
        self.lag.restart()
        self.rang.clear()
        self.originates = 0
        self.last_originate = 0.0
        self.auto_reject = auto_reject
        self.arriving.clear()
        self.arrived_at.clear()
        self.arrival_latencies.clear()
        self.arrival_latencies_in_sim.clear()
        self.arrivals = 0

    def place_calls(self, calls: list[tuple[str, str]]) -> None:
        for number, dnis in calls:
            self.sim.place_call(CallerSpec(number=number, dnis=dnis))

    def place_arrivals(self, n: int) -> int:
        """`n` callers dial the arrival queue's number; how many so far (since reset)."""
        for _ in range(n):
            self.arrivals += 1
            number = f"66{self.arrivals:07d}"
            self.sim.place_call(CallerSpec(number=number, dnis=ARRIVAL_DNIS))
            self.arriving.add(self.sim.pbx.customers[number][1].channel)
        return self.arrivals

    def dial(self, extensions: list[str], code: str, chunk: int = 100) -> float:
        """Every phone dials `code`, `chunk` at a time (the loop runs in between); returns
        when the first one dialled."""
        started = time.perf_counter()
        self._in_chunks(extensions, code, chunk)
        return started

    def _in_chunks(self, extensions: list[str], code: str, chunk: int) -> None:
        async def run() -> None:
            for i in range(0, len(extensions), chunk):
                for ext in extensions[i:i + chunk]:
                    self.sim.dial_feature(ext, code)
                await asyncio.sleep(0)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def hold(self, extensions: list[str], code: str, chunk: int = 100) -> int:
        """Every phone dials `code` with the PBX's AMI output held: the events wait, unsent.
        Dialled `chunk` at a time with the loop running in between (5,000 at once blocked the
        simulator for seconds, and the service's pings went unanswered: the link dropped).
        Returns how many freeing events (UserEvent AcdAgent) are waiting so far (see held)."""
        self.sim.ami.hold_output(True)
        self.held_events = 0
        self._in_chunks(extensions, code, chunk)
        return self.held_events

    def held(self) -> int:
        return self.held_events

    def release(self) -> float:
        """All held frames go out in one write; the latency of each decision counts from now
        (its event is only now sent). Returns the time of the release."""
        t0 = time.perf_counter()
        for stamp in self.freed_at.values():
            stamp.emitted = stamp.written = t0  # (the write below stamps `written` again)
        self.sim.ami.hold_output(False)
        return t0

    def tick(self, free: list[str]) -> dict[str, Any]:
        """These phones dial *53 (unpause) now; what happened since the last tick."""
        for ext in free:
            self._unpause(ext)
        rang, self.rang = self.rang, []
        return {"originates": self.originates, "rang": rang}

    def plan(self, frees: list[tuple[str, float]]) -> dict[str, Any]:
        """The paced phase's step: each phone dials *53 at its time (perf_counter, the same
        clock in every process), by the simulator's own timers, so the bench need not ask
        for each one as it falls due; what happened since the last call (as tick)."""
        loop = asyncio.get_running_loop()
        now = time.perf_counter()
        for ext, at in frees:
            loop.call_later(max(0.0, at - now), self._unpause, ext)
        return self.tick([])

    def _unpause(self, ext: str) -> None:
        if self.sim.pbx.phones[self.iface_of_ext[ext]].channel is None:
            self.sim.dial_feature(ext, "*53")

    def status(self) -> dict[str, Any]:
        return {"originates": self.originates, "last_originate": self.last_originate,
                "arrivals_rung": len(self.arrival_latencies)}

    def results(self) -> dict[str, Any]:
        return {"originates": self.originates, "last_originate": self.last_originate,
                "latencies": list(self.latencies), "slow": list(self.slow),
                "latencies_in_sim": list(self.latencies_in_sim),
                "wire": self.wire.watching(),
                "arrivals": self.arrivals, "arrival_latencies": list(self.arrival_latencies),
                "arrival_latencies_in_sim": list(self.arrival_latencies_in_sim),
                "gc": GC_PAUSES.since(self.gc_mark),
                "loop_lag_ms": percentiles_ms(self.lag.samples)}

    def reject_all(self) -> int:
        """Hang up every ringing agent leg (a ring-no-answer for the service), and from now
        on every leg that rings (a decision still on its way, at a big centre's burst end):
        until the next reset, nothing is left ringing."""
        self.auto_reject = True
        self.rang.clear()
        rung = [p.interface for p in self.sim.pbx.phones.values() if p.channel is not None]
        for iface in rung:
            self.sim.agent_hangup(iface)
        return len(rung)


class LocalSim:
    """The driver in this process (the harness's sim), behind the same calls as RemoteSim."""

    def __init__(self, sim: PbxSim) -> None:
        self.driver = SimDriver(sim)

    async def call(self, name: str, *args: Any) -> Any:
        return getattr(self.driver, name)(*args)

    async def stop(self) -> None:
        self.driver.close()
        await self.driver.sim.stop()


# ---- the child process ----------------------------------------------------------------------
def _child(conn: Connection, secret: str, phones: list[tuple[str, str]]) -> None:
    asyncio.run(_child_main(conn, secret, phones))


async def _child_main(conn: Connection, secret: str, phones: list[tuple[str, str]]) -> None:
    sim = PbxSim(username="acd", secret=secret, default_prompt_s=0.05,
                 event_filters=SHIPPED_FILTERS)
    sim.pbx.digit_delay_s = sim.pbx.digit_gap_s = 0.02  # as the harness sets them
    for iface, ext in phones:
        sim.add_phone(bench_phone(iface, ext))
    driver = SimDriver(sim)
    conn.send(await sim.start(host="127.0.0.1", port=0))
    # Its collector tuned as the service's: the PBX it stands for (C) never stops to collect,
    # and every pause of the simulator's (380 ms seen at the full size) was counted in the
    # latency of the decisions waiting behind it. Its pauses are still reported (sim_gc).
    tune_gc()
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def serve() -> None:
        while conn.poll():
            try:
                name, args = conn.recv()
            except EOFError:  # the bench is gone (killed): stop, rather than spin on the pipe
                name, args = "stop", ()
            if name == "stop":
                loop.remove_reader(conn.fileno())
                done.set_result(None)
                return
            try:
                conn.send(("ok", getattr(driver, name)(*args)))
            except Exception as exc:  # sent back: the bench raises it
                conn.send(("error", f"{type(exc).__name__}: {exc}"))

    loop.add_reader(conn.fileno(), serve)
    await done
    driver.close()
    await sim.stop()
    with contextlib.suppress(BrokenPipeError):  # (no one to tell when the bench is gone)
        conn.send(("ok", None))


class RemoteSim:
    """The simulated PBX in a child process; `call` runs a SimDriver method there."""

    def __init__(self, proc: Any, conn: Connection) -> None:
        self.proc = proc
        self.conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, secret: str, phones: list[tuple[str, str]]) -> tuple[RemoteSim, int]:
        remote = cls(*spawn_child(_child, secret, phones))
        port: int = await remote._recv(60.0)
        return remote, port

    async def _recv(self, timeout_s: float) -> Any:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = self.conn.fileno()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, readable)
        try:
            await asyncio.wait_for(ready, timeout_s)
        finally:
            loop.remove_reader(fd)
        return self.conn.recv()

    async def call(self, name: str, *args: Any) -> Any:
        async with self._lock:
            self.conn.send((name, args))
            status, value = await self._recv(60.0)
        if status != "ok":
            raise RuntimeError(f"simulated PBX: {name}: {value}")
        return value

    async def stop(self) -> None:
        async with self._lock:
            self.conn.send(("stop", ()))
            with contextlib.suppress(TimeoutError, EOFError):
                await self._recv(20.0)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
        self.conn.close()
