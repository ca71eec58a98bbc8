"""AmiLink.send_many: the Originates of a routing round are sent together and their answers
awaited together; each action still gets its own answer, its own error, or its own time-out,
and a link that drops fails every action still waiting at once."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Callable

import pytest

from acd.ami.link import AmiDisconnected, AmiError, AmiLink

SECRET = "send-many-secret"


class Asterisk:
    """Accepts the login; answers an action Success, or Error when it has `Answer: error`,
    or never when it has `Answer: never`; `drop()` closes the connection."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.answer_pings = True
        self.pings = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                h = dict(line.split(": ", 1) for line in raw.decode().split("\r\n")
                         if ": " in line)
                aid = h.get("ActionID", "")
                if h.get("Action", "").lower() == "login":
                    writer.write(f"Response: Success\r\nActionID: {aid}\r\n"
                                 f"Message: Authentication accepted\r\n\r\n".encode())
                elif h.get("Action", "").lower() == "ping":
                    self.pings += 1
                    if self.answer_pings:
                        writer.write(f"Response: Success\r\nActionID: {aid}\r\n"
                                     f"Ping: Pong\r\n\r\n".encode())
                elif h.get("Answer") == "error":
                    writer.write(f"Response: Error\r\nActionID: {aid}\r\n"
                                 f"Message: Originate failed\r\n\r\n".encode())
                elif h.get("Answer") == "later":  # an async Originate's later outcome
                    writer.write(f"Response: Success\r\nActionID: {aid}\r\n"
                                 f"Message: Originate successfully queued\r\n\r\n"
                                 f"Event: OriginateResponse\r\nPrivilege: call,all\r\n"
                                 f"ActionID: {aid}\r\nResponse: Failure\r\n"
                                 f"Channel: {h['Channel']}\r\nReason: 3\r\n"
                                 f"Uniqueid: {h['Channel']}-leg\r\n\r\n".encode())
                elif h.get("Answer") != "never":
                    writer.write(f"Response: Success\r\nActionID: {aid}\r\n"
                                 f"Message: Originate successfully queued\r\n\r\n".encode())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def event(self) -> None:
        """An event the service does not use, as a busy PBX sends all the time."""
        for writer in self.writers:
            if not writer.is_closing():
                writer.write(b"Event: Newexten\r\nPrivilege: dialplan,all\r\n"
                             b"Channel: PJSIP/trunk-1\r\nApplication: MusicOnHold\r\n\r\n")

    def drop(self) -> None:
        for writer in self.writers:
            writer.close()

    async def stop(self) -> None:
        self.drop()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def attached() -> AsyncIterator[tuple[Asterisk, AmiLink]]:
    pbx = Asterisk()
    port = await pbx.start()
    link = AmiLink(host="127.0.0.1", port=port, username="acd", secret=SECRET,
                   reconnect_min_s=5.0)
    link.start()
    await asyncio.wait_for(link.connected.wait(), 10)
    yield pbx, link
    await link.close()
    await pbx.stop()


def originate(n: int, answer: str = "") -> dict[str, str]:
    action = {"Action": "Originate", "Channel": f"PJSIP/{n}", "Async": "true"}
    if answer:
        action["Answer"] = answer
    return action


async def test_each_action_gets_its_own_answer(attached: tuple[Asterisk, AmiLink]) -> None:
    _pbx, link = attached
    out = await link.send_many([originate(1), originate(2, "error"), originate(3, "never"),
                                originate(4)], timeout_s=0.5)
    assert isinstance(out[0], list) and out[0][0]["Response"] == "Success"
    assert isinstance(out[1], AmiError) and "Originate failed" in str(out[1])
    assert isinstance(out[2], AmiDisconnected)  # no answer within the time
    assert isinstance(out[3], list) and out[3][0]["Message"] == "Originate successfully queued"


async def test_start_many_writes_in_the_call(attached: tuple[Asterisk, AmiLink]) -> None:
    """start_many writes its actions before it returns (a routing decision's Originate does
    not wait for a later turn of the loop); the answers come when awaited."""
    _pbx, link = attached
    manager = link._manager
    assert manager is not None and manager.protocol is not None
    transport = manager.protocol.transport
    written: list[bytes] = []
    write = transport.write

    def recorded(data: bytes) -> None:
        written.append(data)
        write(data)

    transport.write = recorded
    try:
        answers = link.start_many([originate(1), originate(2)])
        assert [b"PJSIP/1" in w for w in written] == [True, False]  # nothing awaited yet
        assert b"PJSIP/2" in written[1]
        out = await answers
    finally:
        transport.write = write
    assert all(isinstance(r, list) and r[0]["Response"] == "Success" for r in out)
    # not attached: the errors, with nothing written
    assert all(isinstance(r, AmiDisconnected) for r in await AmiLink(
        host="127.0.0.1", port=9, username="acd", secret=SECRET).start_many([originate(3)]))


async def test_fire_many_calls_back_once_with_every_answer(
        attached: tuple[Asterisk, AmiLink]) -> None:
    """fire_many (a routing round's Originates: no task awaits them): the actions are
    written in the call, and `then` gets every answer once, when the last one is in or the
    time is up; nothing calls it again afterwards, not even the link's loss."""
    pbx, link = attached
    calls: list[list[list[dict[str, str]] | AmiError]] = []
    link.fire_many([originate(1), originate(2, "error"), originate(3, "never"), originate(4)],
                   calls.append, timeout_s=0.5)
    await asyncio.wait_for(_until(lambda: bool(calls)), 10)
    [out] = calls
    assert isinstance(out[0], list) and out[0][0]["Response"] == "Success"
    assert isinstance(out[1], AmiError) and "Originate failed" in str(out[1])
    assert isinstance(out[2], AmiDisconnected)  # no answer within the time
    assert isinstance(out[3], list) and out[3][0]["Response"] == "Success"
    pbx.drop()
    await asyncio.wait_for(_until(lambda: not link.connected.is_set()), 10)
    await asyncio.sleep(0)  # (a callback the loss scheduled would have run by now)
    assert len(calls) == 1
    # answered in full before the time: called at once, not at the time-out
    link2_calls: list[list[list[dict[str, str]] | AmiError]] = []
    await asyncio.wait_for(link.connected.wait(), 20)
    started = time.monotonic()
    link.fire_many([originate(5), originate(6)], link2_calls.append, timeout_s=30)
    await asyncio.wait_for(_until(lambda: bool(link2_calls)), 10)
    assert time.monotonic() - started < 10
    assert all(isinstance(r, list) for r in link2_calls[0])


async def test_fire_many_on_a_lost_or_absent_link(attached: tuple[Asterisk, AmiLink]) -> None:
    pbx, link = attached
    calls: list[list[list[dict[str, str]] | AmiError]] = []
    link.fire_many([originate(1, "never"), originate(2, "never")], calls.append, timeout_s=30)
    await asyncio.sleep(0.05)
    pbx.drop()
    await asyncio.wait_for(_until(lambda: bool(calls)), 10)  # not the 30 s time-out
    assert all(isinstance(r, AmiDisconnected) for r in calls[0])
    never: list[list[list[dict[str, str]] | AmiError]] = []
    AmiLink(host="127.0.0.1", port=9, username="acd", secret=SECRET).fire_many(
        [originate(3)], never.append)
    await asyncio.wait_for(_until(lambda: bool(never)), 10)
    assert len(never[0]) == 1 and isinstance(never[0][0], AmiDisconnected)


async def test_fire_many_leaves_nothing_for_the_collector(
        attached: tuple[Asterisk, AmiLink]) -> None:
    """A routing decision's Originate, answered, leaves no reference cycle behind: all it
    made is freed at once (a cycle a decision meant a young collection every second or so
    at 500 decisions a second, each a pause of milliseconds)."""
    _pbx, link = attached
    calls: list[list[list[dict[str, str]] | AmiError]] = []
    link.fire_many([originate(0)], calls.append)  # (the first: whatever warms up)
    await asyncio.wait_for(_until(lambda: len(calls) == 1), 10)
    gc.collect()
    gc.disable()
    try:
        for n in range(1, 51):
            link.fire_many([originate(n)], calls.append)
            await asyncio.wait_for(_until(lambda n=n: len(calls) == n + 1), 10)
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable < 50, unreachable  # (a cycle each would be hundreds of objects)


async def _until(check: Callable[[], bool]) -> None:
    while not check():
        await asyncio.sleep(0.01)


async def test_a_dropped_link_fails_the_waiting_actions_at_once(
        attached: tuple[Asterisk, AmiLink]) -> None:
    pbx, link = attached
    started = time.monotonic()
    sending = asyncio.create_task(link.send_many([originate(1, "never"), originate(2, "never")],
                                                 timeout_s=30))
    await asyncio.sleep(0.05)
    pbx.drop()
    out = await asyncio.wait_for(sending, 10)
    assert all(isinstance(r, AmiDisconnected) for r in out)
    assert time.monotonic() - started < 10  # not the 30 s time-out


async def test_not_attached_fails_every_action() -> None:
    link = AmiLink(host="127.0.0.1", port=9, username="acd", secret=SECRET)
    out = await link.send_many([originate(1), originate(2)])
    assert len(out) == 2 and all(isinstance(r, AmiDisconnected) for r in out)


async def test_an_async_originates_outcome_comes_as_an_event(
        attached: tuple[Asterisk, AmiLink]) -> None:
    """The answer to an async Originate is its Response alone: its OriginateResponse (same
    ActionID) is an event for the engine (a ring-no-answer), not part of the answer."""
    _pbx, link = attached
    out = await link.send_many([originate(7, "later")], timeout_s=5)
    assert isinstance(out[0], list) and len(out[0]) == 1
    frame = await asyncio.wait_for(link.events.get(), 5)
    assert frame["Event"] == "OriginateResponse" and frame["Reason"] == "3"
    assert frame["Uniqueid"] == "PJSIP/7-leg"


async def test_a_refused_list_action_fails_at_once(attached: tuple[Asterisk, AmiLink]) -> None:
    """A list action (CoreShowChannels) answered Error: the error at once, not a wait for a
    list that never comes until the time-out (a resync then failed 30 s late)."""
    _pbx, link = attached
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(AmiError, match="Originate failed"):
        await link.send({"Action": "CoreShowChannels", "Answer": "error"}, as_list=True,
                        timeout_s=30)
    assert loop.time() - started < 5
