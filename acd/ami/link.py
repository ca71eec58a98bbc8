"""The AMI link: the only module that imports panoramisk.

panoramisk 1.4 is used behind this adapter because of its known quirks (../shared/LIBRARIES.md):
- coroutine callbacks run unordered: one plain callback puts every event on a queue that a single
  consumer reads, so events are applied strictly in arrival order;
- a wrong secret raises nothing: the login result is checked and reported;
- its reconnect has a fixed delay: this link reconnects itself with capped exponential backoff;
- its Pings are never checked: a watchdog aborts the transport when a Ping goes unanswered;
- it re-sends pending actions after a reconnect (an Originate could ring twice): every action is
  "forgettable" here, and pending futures fail with `AmiDisconnected` instead;
- the AGI action resolves on "Added AGI command to queue" only: results come as AsyncAGIExec
  events, matched by the engine through their CommandId.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from acd.ami.events import TABLE

Frame = dict[str, str]
log = logging.getLogger("acd.ami")

_ALL_ACTIONS = (
    "ping", "login", "logoff", "originate", "redirect", "agi", "hangup", "setvar", "getvar",
    "coreshowchannels", "status", "bridge", "events", "command", "mixmonitor",
    "mixmonitormute",
)


class AmiError(Exception):
    """An action was answered with an error, or could not be sent."""


class AmiDisconnected(AmiError):
    pass


class AmiAuthError(AmiError):
    pass


def _plain(message: Mapping[str, Any]) -> Frame:
    """A panoramisk Message as a plain dict (repeated headers joined by newlines)."""
    out: Frame = {}
    for key, value in message.items():
        out[key] = "\n".join(value) if isinstance(value, list) else str(value)
    return out


# Events panoramisk itself acts on: they go through it (FullyBooted sends its queued actions,
# Shutdown closes).
_PANORAMISK_EVENTS = frozenset({"FullyBooted", "Shutdown"})
MAX_PENDING_BYTES = 1 << 20  # an unterminated frame larger than this is dropped
# Pings in a row that may go unanswered while the PBX is still sending: its answer waits
# behind the actions sent before it (a burst of Originates), and dropping a link that is
# plainly alive would cost a resync exactly when the PBX is busiest.
MAX_LATE_PINGS = 6
# What the service reads: the frame table, the list events of CoreShowChannels, and the events
# panoramisk itself needs (FullyBooted sends its queued actions, Shutdown closes).
USED_EVENTS = frozenset({*TABLE, "FullyBooted", "Shutdown", "CoreShowChannel",
                         "CoreShowChannelsComplete"})


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol, hardened: a malformed frame (e.g. a repeated ActionID or Event
    header, which makes panoramisk raise) is dropped alone instead of taking the connection
    and the frames after it down; a frame that never ends cannot grow the buffer forever."""

    def handle_message(self, message: Any) -> None:
        try:
            super().handle_message(message)
        except Exception as exc:
            link = getattr(self.factory, "_link", None)
            if link is not None:
                link.bad_frames += 1
            log.warning("malformed AMI frame dropped (%s: %s)", type(exc).__name__, exc)

    def data_received(self, data: bytes) -> None:
        # panoramisk's own loop, with one change: events the service never uses (VarSet,
        # Newexten, RTCP, ... most of a busy PBX's stream) are dropped before a Message is
        # built for them. Events that answer an action (they carry an ActionID) always pass.
        link = getattr(self.factory, "_link", None)
        if link is not None:
            link.last_data_at = time.monotonic()
        text = data.decode(getattr(self, "encoding", "utf-8"), "ignore")
        if self.queue:
            text = self.queue.popleft() + text
        frames = text.split("\r\n\r\n")
        rest = frames.pop(-1)
        if len(rest) > MAX_PENDING_BYTES:
            log.warning("AMI frame over %d bytes dropped", MAX_PENDING_BYTES)
            rest = ""
        self.queue.append(rest)
        for raw in frames:
            frame = raw.strip()
            if frame.startswith("Event: "):
                end = frame.find("\r\n")
                name = frame[7:end] if end >= 0 else frame[7:]
                if "ActionID: " not in frame:
                    if name not in USED_EVENTS:
                        continue
                    if name not in _PANORAMISK_EVENTS:
                        plain = _event_frame(frame)
                        if plain is not None:
                            self._deliver(plain)
                            continue
            message = Message.from_line(frame)
            if message is not None:
                self.handle_message(message)


    def _deliver(self, frame: Frame) -> None:
        link = getattr(self.factory, "_link", None)
        if link is not None:
            link.sink(frame)


def _event_frame(frame: str) -> Frame | None:
    """An event frame as the plain dict _plain(Message.from_line(frame)) would give, parsed
    directly (a panoramisk Message costs several times more, and events are most of the
    stream); None for a frame panoramisk must judge (a repeated Event header: malformed)."""
    out: Frame = {}
    for line in frame.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if key.lower() == "result":  # panoramisk's quoted_keys
            value = unquote(value).strip()
        if key in out:
            if key == "Event":
                return None
            out[key] += "\n" + value
        else:
            out[key] = value
    for key in [k for k in out if k.lower() == "content"]:
        del out[key]
    out["content"] = ""  # a Message always has its (empty, for an event) body under this key
    return out


def _answer(action: Mapping[str, Any], result: Any) -> list[Frame]:
    frames = [_plain(m) for m in result] if isinstance(result, list) else [_plain(result)]
    first = frames[0] if frames else {}
    if first.get("Response") == "Error":
        raise AmiError(f"{action.get('Action')}: {first.get('Message', 'error')}")
    return frames


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager without its own reconnect: the link decides when to reconnect."""

    def __init__(self, link: AmiLink, **config: Any) -> None:
        super().__init__(**config)
        self._link = link

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            self._link._connect_failed(None if f.cancelled() else f.exception())
            return
        if self._link._closing or self._link._manager is not self:
            # A connect that finished after its attempt was given up (timeout, close):
            # close the socket instead of leaking it.
            transport, _protocol = f.result()
            transport.close()
            return
        super().connection_made(f)

    def login(self, future: asyncio.Future[Any]) -> bool:
        ok = bool(super().login(future))
        self._link._login_result(ok, _plain(future.result()))
        return ok

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connected = False
        pinger: asyncio.TimerHandle | None = getattr(self, "pinger", None)
        if pinger is not None:
            pinger.cancel()
        self.pinger = None
        self._link._lost(exc)


class AmiLink:
    """One attachment to one PBX. Events come out of `events` in arrival order."""

    def __init__(self, *, host: str, port: int, username: str, secret: str,
                 ping_interval_s: float = 5.0, ping_timeout_s: float = 5.0,
                 reconnect_min_s: float = 0.2, reconnect_max_s: float = 30.0,
                 action_timeout_s: float = 10.0, name: str = "pbx") -> None:
        self.name = name
        self._cfg = {"host": host, "port": port, "username": username}
        self._secret = secret
        self._ping_interval_s = ping_interval_s
        self._ping_timeout_s = ping_timeout_s
        self._reconnect_min_s = reconnect_min_s
        self._reconnect_max_s = reconnect_max_s
        self._action_timeout_s = action_timeout_s
        self.events: asyncio.Queue[Frame] = asyncio.Queue()
        # Where frames go, in arrival order: by default `events`; the engine points it at its
        # own inbox so that AMI frames and timer events share one ordered queue.
        self.sink: Callable[[Frame], None] = self.events.put_nowait
        self.connected = asyncio.Event()  # set while logged in
        self.last_error = ""
        self.connects = 0
        self.bad_frames = 0
        self.last_data_at = 0.0  # (monotonic) when the PBX last sent anything
        self.late_pings = 0  # pings that went unanswered while the PBX kept sending
        self._manager: _Manager | None = None
        self._connecting: asyncio.Future[Any] | None = None
        self._attempt: asyncio.Future[bool] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._lost_event = asyncio.Event()
        # Done when the current connection is lost: what every pending action also waits for
        # (one future per connection, not one task per action).
        self._lost_future: asyncio.Future[None] | None = None
        self.on_login: Callable[[], None] | None = None
        self.on_lost: Callable[[], None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="ami-link")

    async def close(self) -> None:
        self._closing = True
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._manager is not None:
            with contextlib.suppress(Exception):
                self._manager.close()
        self.connected.clear()

    async def _run(self) -> None:
        delay = self._reconnect_min_s
        while not self._closing:
            ok = await self._connect_once()
            if ok:
                log.info("AMI %s: logged in as %s", self.name, self._cfg["username"])
                delay = self._reconnect_min_s
                self.connects += 1
                self.connected.set()
                if self.on_login is not None:
                    self.on_login()
                watchdog = asyncio.create_task(self._watchdog())
                try:
                    await self._lost_event.wait()
                finally:
                    watchdog.cancel()
                self.connected.clear()
                if self.on_lost is not None:
                    self.on_lost()
            if self._closing:
                return
            log.warning("AMI %s: not attached (%s); retrying in %.1f s", self.name,
                        self.last_error or "connection lost", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max_s)

    async def _connect_once(self) -> bool:
        loop = asyncio.get_running_loop()
        self._lost_event.clear()
        self._lost_future = asyncio.get_running_loop().create_future()
        self._attempt = loop.create_future()
        manager = _Manager(self, loop=loop, secret=self._secret, events="on",
                           protocol_factory=_Protocol,
                           ping_delay=86400, ping_interval=86400,
                           forgetable_actions=_ALL_ACTIONS, **self._cfg)
        manager.register_event("*", self._on_event)
        self._manager = manager
        self._connecting = manager.connect()
        try:
            # (asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a
            # cancellation that comes as the attempt ends, and close() then never returned)
            async with asyncio.timeout(self._action_timeout_s):
                return await self._attempt
        except TimeoutError:
            self.last_error = "login timed out"
            self._manager = None  # a late connect closes its own socket (connection_made)
            manager.close()
            return False

    # --- callbacks from _Manager (plain functions: never async, never raise) -----------------
    def _on_event(self, _manager: Any, message: Mapping[str, Any]) -> None:
        self.sink(_plain(message))

    def _connect_failed(self, exc: BaseException | None) -> None:
        self.last_error = f"cannot connect to {self._cfg['host']}:{self._cfg['port']}: {exc}"
        if self._attempt is not None and not self._attempt.done():
            self._attempt.set_result(False)

    def _login_result(self, ok: bool, response: Frame) -> None:
        if not ok:
            self.last_error = (f"AMI login as {self._cfg['username']!r} refused: "
                               f"{response.get('Message', 'no reason given')}")
            log.error("AMI %s: %s", self.name, self.last_error)
        if self._attempt is not None and not self._attempt.done():
            self._attempt.set_result(ok)

    def _lost(self, exc: BaseException | None) -> None:
        if self._attempt is not None and not self._attempt.done():
            self.last_error = "connection closed during login"
            self._attempt.set_result(False)
        self._lost_event.set()
        if self._lost_future is not None and not self._lost_future.done():
            self._lost_future.set_result(None)

    async def _watchdog(self) -> None:
        late = 0
        while True:
            await asyncio.sleep(self._ping_interval_s)
            try:
                await self.send({"Action": "Ping"}, timeout_s=self._ping_timeout_s)
                late = 0
            except AmiError as exc:
                sending = time.monotonic() - self.last_data_at < self._ping_timeout_s
                if sending and late < MAX_LATE_PINGS and self.connected.is_set():
                    late += 1
                    self.late_pings += 1
                    log.info("AMI %s: ping not answered in %g s, but the PBX is sending: "
                             "link kept (%d in a row)", self.name, self._ping_timeout_s, late)
                    continue
                log.warning("AMI %s: ping failed (%s): dropping the connection", self.name, exc)
                self.drop()
                return

    # --- actions -----------------------------------------------------------------------------
    def drop(self) -> None:
        """Abort the transport (the link then reconnects with backoff)."""
        manager = self._manager
        if manager is not None and manager.protocol is not None:
            manager.protocol.transport.abort()

    async def send(self, action: Mapping[str, str | list[str]], *,
                   timeout_s: float | None = None, as_list: bool = False) -> list[Frame]:
        """Send one action; returns its response frames (one, or the event list when as_list).

        Raises AmiError on an error response, AmiDisconnected when not attached or the link
        drops before the answer.
        """
        answer = (await self.send_many([action], timeout_s=timeout_s, as_list=as_list))[0]
        if isinstance(answer, AmiError):
            raise answer
        return answer

    async def send_many(self, actions: Sequence[Mapping[str, str | list[str]]], *,
                        timeout_s: float | None = None, as_list: bool = False
                        ) -> list[list[Frame] | AmiError]:
        """send() of several actions at once (a routing round rings many agents): written one
        after the other, their answers awaited together. Each gets its frames or its error."""
        return await self.start_many(actions, timeout_s=timeout_s, as_list=as_list)

    def start_many(self, actions: Sequence[Mapping[str, str | list[str]]], *,
                   timeout_s: float | None = None, as_list: bool = False
                   ) -> Coroutine[Any, Any, list[list[Frame] | AmiError]]:
        """send_many(), its actions written now, in this call: the returned coroutine (to be
        awaited, or run as a task) gives their answers. A task that wrote them would start
        at the next turn of the loop, after whatever else is ready there (the engine may go
        on with the next events first): a decision's Originate waited for that."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[list[list[Frame] | AmiError]] = loop.create_future()

        def settle(answers: list[list[Frame] | AmiError]) -> None:
            if not answered.done():  # (its awaiting caller may be gone: cancelled)
                answered.set_result(answers)

        self.fire_many(actions, settle, timeout_s=timeout_s, as_list=as_list)
        return _awaited(answered)

    def fire_many(self, actions: Sequence[Mapping[str, str | list[str]]],
                  then: Callable[[list[list[Frame] | AmiError]], None], *,
                  timeout_s: float | None = None, as_list: bool = False) -> None:
        """start_many() for a caller that needs no coroutine: the actions written now, and
        `then(answers)` called once, from the loop, when each is answered, the link is lost
        or `timeout_s` is up (an action unanswered then gets AmiDisconnected). No task to
        await them: a routing decision's Originate made one, ~5 % of the routing process's
        CPU at 500 decisions a second (BENCHMARKS.md, session 20)."""
        loop = asyncio.get_running_loop()
        manager = self._manager
        lost = self._lost_future
        if manager is None or not self.connected.is_set() or manager.protocol is None \
                or lost is None or lost.done():
            errors: list[list[Frame] | AmiError] = [
                AmiDisconnected(f"not attached to {self.name}") for _ in actions]
            loop.call_soon(then, errors)
            return
        # as_list False (a bool, not None): the answer is the Response alone (panoramisk would
        # otherwise wait for an async Originate's OriginateResponse, which must reach the
        # engine as an event). A list action goes as None: panoramisk then takes the list
        # its Response announces ("will follow", EventList: start), and an Error response as
        # the answer at once; with True it would wait for a list that never comes, until
        # the time-out (a resync then failed 30 s later instead of at once).
        futures = [manager.send_action(dict(action), as_list=None if as_list else False)
                   for action in actions]
        _Answering(self, actions, futures, lost, then).arm(
            loop, timeout_s or self._action_timeout_s)

    def _collected(self, actions: Sequence[Mapping[str, str | list[str]]],
                   futures: list[asyncio.Future[Any]]) -> list[list[Frame] | AmiError]:
        out: list[list[Frame] | AmiError] = []
        for action, future in zip(actions, futures, strict=True):
            if not future.done():
                out.append(AmiDisconnected(f"{action.get('Action')}: no answer from "
                                           f"{self.name}"))
                continue
            try:
                out.append(_answer(action, future.result()))
            except AmiError as exc:
                out.append(exc)
        return out


class _Answering:
    """fire_many's wait for the answers: callbacks on their futures, on the link's loss and
    on one timer, and `then` called once. An object, not closures: a closure that named
    itself (to take itself off the loss's callbacks) made a reference cycle a decision, which
    only the collector freed (a young collection of ~5 ms every second at 500/s)."""

    __slots__ = ("actions", "done", "futures", "link", "lost", "then", "timer", "waiting")

    def __init__(self, link: AmiLink, actions: Sequence[Mapping[str, str | list[str]]],
                 futures: list[asyncio.Future[Any]], lost: asyncio.Future[None],
                 then: Callable[[list[list[Frame] | AmiError]], None]) -> None:
        self.link = link
        self.actions = actions
        self.futures = futures
        self.lost = lost
        self.then = then
        self.waiting = len(futures)
        self.timer: asyncio.TimerHandle | None = None
        self.done = False

    def arm(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self.timer = loop.call_later(timeout_s, self.finish)
        self.lost.add_done_callback(self.finish)
        for future in self.futures:
            future.add_done_callback(self.one_more)
        if not self.futures:
            loop.call_soon(self.finish)

    def one_more(self, _future: asyncio.Future[Any]) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.finish()

    def finish(self, _lost: object = None) -> None:
        if self.done:
            return
        self.done = True
        if self.timer is not None:
            self.timer.cancel()  # (also when it has run: the handle lets go of this object)
            self.timer = None
        self.lost.remove_done_callback(self.finish)
        self.then(self.link._collected(self.actions, self.futures))


async def _awaited(answered: asyncio.Future[list[list[Frame] | AmiError]]
                   ) -> list[list[Frame] | AmiError]:
    return await answered
