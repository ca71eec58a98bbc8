"""Fuzzing the simulated PBX's AMI server over TCP (hypothesis-generated input).

Random bytes, malformed frames, huge headers, unknown actions, actions before login and every
known action with random headers after login: the server never raises (no exception escapes
a session or a timer), answers an Error or ignores, and keeps serving: a logged-in control
client gets its Ping answered after every input, and a new client gets the banner.

Inputs are drawn by hypothesis (derandomized: the same every run) up front and replayed in one
event loop; a failure names the input, so it is its own reproducer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from acd.pbxsim import AgentPhone, CallerSpec, ManualClock, PbxSim
from acd.pbxsim.ami import ACTIONS

WALL = 1_800_000_000.0
SECRET = "fuzz-s3cret"
# the names the simulator gives: the fuzz aims at live channels too
CHANNELS = [f"PJSIP/trunk-{n:08d}" for n in range(1, 6)] + \
    [f"PJSIP/1001-{n:08d}" for n in range(1, 6)] + ["Local/100@acd-inbound-00000001;1"]


def draw(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """n examples of a strategy, the same on every run."""
    out: list[Any] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out[:n]


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
_name = st.one_of(st.sampled_from(["Channel", "Variable", "Value", "Cause", "Priority",
                                   "Context", "Exten", "Command", "CommandID", "Channel1",
                                   "Channel2", "Timeout", "Application", "Data", "Async",
                                   "Variable", "Queue", "Interface", "Paused", "ActionID",
                                   "Events", "EventMask", "UserEvent", "File", "Options",
                                   "Direction", "State", "Username", "Secret", "Account",
                                   "CallerID", "Codecs", "ChannelId", "OtherChannelId",
                                   "Member", "Reason"]), _text)
_value = st.one_of(_text, st.sampled_from(["", "-1", "0", "1", "99999999999999999999", "²",
                                           "1.5", "nan", "PJSIP/1001", "PJSIP/1001-00000001",
                                           *CHANNELS,
                                           "acd-inbound", "acd-hold", "s", "100", "on", "off",
                                           "Local/100@acd-inbound", "${", "$[1/0]",
                                           "${GLOBAL(X)}", "GLOBAL(", "EXEC Playback beep",
                                           "GET DATA x 1 1", "HANGUP", "\x00", "a" * 3000]))
_headers = st.lists(st.tuples(_name, _value), max_size=8)
_CHANNEL = st.sampled_from(CHANNELS)
_NASTY = st.sampled_from(["", "-1", "0", "²", "٣", "1e3", "99999999999999999999", "x", "${",
                          "$[1/0]", "GLOBAL(", "acd-inbound", "100", "s", "on", "true",
                          "EXEC", "GET DATA", "EXEC Playback", "SET VARIABLE", "a" * 3000])
_aimed = st.one_of(_CHANNEL, _NASTY, _CHANNEL, _NASTY, _value)
# per action, the headers it reads: each present or not, with nasty values or live channels
ACTION_HEADERS = {
    "hangup": ["Channel", "Cause"], "redirect": ["Channel", "Context", "Exten", "Priority"],
    "agi": ["Channel", "Command", "CommandID"],
    "originate": ["Channel", "Context", "Exten", "Priority", "Application", "Data", "Timeout",
                  "Async", "Variable", "CallerID", "ChannelId", "OtherChannelId", "Codecs",
                  "Account"],
    "setvar": ["Channel", "Variable", "Value"], "getvar": ["Channel", "Variable"],
    "bridge": ["Channel1", "Channel2", "Tone"],
    "queuepause": ["Interface", "Paused", "Queue", "Reason"],
    "queuestatus": ["Queue", "Member"], "queuesummary": ["Queue"],
    "mixmonitor": ["Channel", "File", "Options", "Command"],
    "mixmonitormute": ["Channel", "Direction", "State"], "stopmixmonitor": ["Channel"],
    "userevent": ["UserEvent", "Action", "Agent", "Reason"], "events": ["EventMask"],
    "command": ["Command"], "extensionstate": ["Exten", "Context"],
    "status": ["Channel", "Variables", "AllVariables"],
    "login": ["Username", "Secret", "Events"], "coreshowchannels": [], "ping": [],
}


def _aimed_action(name: str) -> st.SearchStrategy[bytes]:
    keys = ACTION_HEADERS.get(name, [])
    chan = st.one_of(_CHANNEL, _CHANNEL, _CHANNEL, _aimed)
    return st.fixed_dictionaries({}, optional={
        k: (chan if k.startswith("Channel") else _aimed).map(_line) for k in keys}).map(
        lambda hs: action(name, list(hs.items())))


def frame(headers: list[tuple[str, str]]) -> bytes:
    text = "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return text.replace("\r\n\r\n", "\r\n", text.count("\r\n\r\n") - 1).encode(
        "utf-8", "surrogatepass")


def action(name: str, headers: list[tuple[str, str]]) -> bytes:
    return frame([("Action", name), *headers])


def _line(s: str) -> str:
    return s.replace("\r", " ").replace("\n", " ")


INPUTS: dict[str, st.SearchStrategy[Any]] = {
    "bytes": st.binary(max_size=2048).map(lambda b: ("raw", [b])),
    "malformed": st.lists(_text.map(_line), max_size=10).map(
        lambda lines: ("raw", [("\r\n".join(lines) + "\r\n\r\n").encode()])),
    "split": st.tuples(st.binary(max_size=300), st.binary(max_size=300)).map(
        lambda p: ("raw", [p[0], b"\r\n", p[1] + b"\r\n\r\n"])),
    "unknown_action": st.tuples(_text.map(_line), _headers).map(
        lambda a: ("login", [action(_line(a[0]), a[1])])),
    "before_login": st.tuples(st.sampled_from(sorted(ACTIONS)), _headers).map(
        lambda a: ("raw", [action(a[0], [(_line(k), _line(v)) for k, v in a[1]])])),
    "after_login": st.tuples(st.sampled_from(sorted(ACTIONS)), _headers).map(
        lambda a: ("login", [action(a[0], [(_line(k), _line(v)) for k, v in a[1]])])),
    "aimed": st.sampled_from(sorted(ACTIONS)).flatmap(_aimed_action).map(
        lambda f: ("login", [f])),
}
COUNTS = {"bytes": 25, "malformed": 25, "split": 10, "unknown_action": 15, "before_login": 40,
          "after_login": 150, "aimed": 400}


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buf = b""
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(65536):
                self.buf += data
        except ConnectionError:
            pass

    async def until(self, needle: bytes, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while needle not in self.buf:
                if self.task.done():
                    raise ConnectionError(f"closed before {needle!r}")
                await asyncio.sleep(0.001)

    async def close(self) -> None:
        self.writer.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def connect(port: int, login: bool) -> Client:
    client = Client(*await asyncio.open_connection("127.0.0.1", port))
    await client.until(b"Asterisk Call Manager/")
    if login:
        client.writer.write(action("Login", [("ActionID", "in"), ("Username", "acd"),
                                             ("Secret", SECRET)]))
        await client.until(b"Authentication accepted")
    return client


@pytest.mark.parametrize("kind", list(INPUTS))
async def test_ami_server_survives(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    loop_errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    old_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
    clock = ManualClock(wall_start=WALL)
    sim = PbxSim(secret=SECRET, clock=clock, prompt_durations={"beep": 0.5},
                 queue_members={"support": ["PJSIP/1001"]})
    sim.add_phone(AgentPhone("PJSIP/1001", "1001", "Agent", answer_after_s=1, talk_s=5))
    port = await sim.start()
    control = await connect(port, login=True)
    try:
        for n, (mode, chunks) in enumerate(draw(INPUTS[kind], COUNTS[kind])):
            if n % 10 == 0:
                sim.place_call(CallerSpec(number=f"+1555{n:07d}", dnis="100"))
            fuzz = await connect(port, login=(mode == "login"))
            for chunk in chunks:
                fuzz.writer.write(chunk)
            fuzz.writer.write(action("Ping", [("ActionID", f"fz-{n}")]))
            clock.advance(2.0)  # timers the input scheduled (failed login, originate, ...)
            control.writer.write(action("Ping", [("ActionID", f"ctl-{n}")]))
            await control.until(f"ActionID: ctl-{n}\r\n".encode())
            await fuzz.close()
            assert not loop_errors, (kind, chunks, loop_errors)
        newcomer = await connect(port, login=True)
        await newcomer.close()
    finally:
        await control.close()
        await sim.stop()
        loop.set_exception_handler(old_handler)
    crashes = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not crashes, [r.getMessage() for r in crashes]
    assert not loop_errors


async def test_a_huge_frame_is_dropped_and_the_session_goes_on() -> None:
    """An endless header (no blank line) is not buffered forever: past the limit it is
    dropped, and the session still answers."""
    clock = ManualClock(wall_start=WALL)
    sim = PbxSim(secret=SECRET, clock=clock)
    port = await sim.start()
    client = await connect(port, login=True)
    try:
        client.writer.write(b"Action: Ping\r\nX: " + b"y" * (3 * 1024 * 1024))
        client.writer.write(b"\r\n\r\nAction: Ping\r\nActionID: after\r\n\r\n")
        await client.until(b"ActionID: after\r\n", timeout=10)
        assert b"Message: Frame too long" in client.buf
        session = sim.ami.sessions[0]
        assert session.authenticated
    finally:
        await client.close()
        await sim.stop()


NASTY_VALUES = ["", "-1", "0", "²", "٣", "1e3", "99999999999999999999", "x", "${", "$[1/0]",
                "GLOBAL(", "${GLOBAL(", "acd-inbound", "100", "s", "on", "EXEC", "GET DATA",
                "GET DATA beep x y", "EXEC Playback", "SET VARIABLE", "STREAM FILE",
                "WAIT FOR DIGIT x", "a" * 3000]


async def test_every_action_header_with_nasty_values(caplog: pytest.LogCaptureFixture) -> None:
    """The systematic complement of the random inputs: every action, every header it reads,
    every nasty value, with the other headers aimed at a live channel; then the clock runs."""
    loop_errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    old_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
    clock = ManualClock(wall_start=WALL)
    sim = PbxSim(secret=SECRET, clock=clock, prompt_durations={"beep": 0.5},
                 queue_members={"support": ["PJSIP/1001"]})
    sim.add_phone(AgentPhone("PJSIP/1001", "1001", "Agent", answer_after_s=1, talk_s=5))
    port = await sim.start()
    client = await connect(port, login=True)
    n = 0
    try:
        for name, keys in ACTION_HEADERS.items():
            for key in keys:
                for value in NASTY_VALUES:
                    live = [c["name"] for c in sim.channels()]
                    if len(live) < 2:
                        sim.place_call(CallerSpec(number=f"+1555{n:07d}", dnis="100"))
                        live = [c["name"] for c in sim.channels()]
                    headers = {k: live[i % len(live)] for i, k in enumerate(keys)}
                    headers[key] = value
                    if name == "login":
                        continue  # a failed login closes the session: the random inputs cover it
                    n += 1
                    client.writer.write(action(name, list(headers.items())))
                    client.writer.write(action("Ping", [("ActionID", f"g-{n}")]))
                    await client.until(f"ActionID: g-{n}\r\n".encode())
                    clock.advance(1.0)
                    assert not loop_errors, (name, headers, loop_errors)
    finally:
        await client.close()
        await sim.stop()
        loop.set_exception_handler(old_handler)
    assert n > 500
    crashes = sorted({r.getMessage() + " " + repr(r.exc_info and r.exc_info[1])
                      for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR})
    assert not crashes
