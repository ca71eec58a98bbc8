"""The AMI server: TCP sessions, login, action dispatch, event fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from acd.pbxsim import agi, ami_status, bridging, frames, mixmonitor, originate
from acd.pbxsim.eventfilter import EventFilter
from acd.pbxsim.frames import Headers
from acd.pbxsim.model import Channel

if TYPE_CHECKING:
    from acd.pbxsim.engine import Pbx

log = logging.getLogger(__name__)
BANNER = "Asterisk Call Manager/9.0.0\r\n"
MAX_FRAME = 1024 * 1024  # bytes of one frame (a real Asterisk cuts lines at 1 KiB)
Action = Callable[["Session", Headers], None]


class Session:
    def __init__(self, server: AmiServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        self.authenticated = False
        self.events = True
        self.closing = False
        peer = writer.get_extra_info("peername")
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}" if peer else "IPV4/TCP/127.0.0.1/0"
        self.session_id = f"0x{id(self):x}"
        self._out: list[bytes] = []  # frames sent during this turn of the event loop
        self.held = False  # while True, events wait in _out (AmiServer.hold_output)

    @property
    def pbx(self) -> Pbx:
        return self.server.pbx

    def send(self, text: str) -> None:
        # The frames of one turn of the loop go out in one write (one system call, not one
        # per frame: a busy PBX emits thousands a second), in order, at the end of the turn.
        if not self.closing and not self.writer.is_closing():
            if not self._out and not self.held:
                asyncio.get_running_loop().call_soon(self._flush)
            self._out.append(text.encode())

    def _flush(self) -> None:
        if self.held:
            return
        data = b"".join(self._out)
        self._out.clear()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    def respond(self, action: Headers, headers: Headers) -> None:
        out: Headers = [headers[0]]
        aid = frames.get(action, "ActionID")
        if aid:
            out.append(("ActionID", aid))
        text = frames.build(out + headers[1:])
        if self.held:
            # A hold (AmiServer.hold_output) holds the PBX's events, not its answers: a big
            # burst takes the sim seconds to prepare, and a client whose pings (and other
            # actions) went unanswered that long dropped the link, losing the held burst.
            if not self.closing and not self.writer.is_closing():
                self.writer.write(text.encode())
            return
        self.send(text)

    def ok(self, action: Headers, message: str | None = None, extra: Headers | None = None) -> None:
        hs: Headers = [("Response", "Success")]
        if message is not None:
            hs.append(("Message", message))
        self.respond(action, hs + (extra or []))

    def error(self, action: Headers, message: str) -> None:
        self.respond(action, [("Response", "Error"), ("Message", message)])

    def close(self) -> None:
        self._flush()
        self.closing = True
        self.writer.close()

    def on_event(self, event: str, headers: Headers) -> None:
        if self.authenticated and self.events:
            self.send(frames.event_frame(event, headers))

    def handle(self, action: Headers) -> None:
        name = frames.get(action, "Action")
        low = name.lower()
        if not self.authenticated and low not in ("login", "logoff", "challenge"):
            self.error(action, "Permission denied")
            self.server.security("RequestNotAllowed", self, [("RequestType", f"Action: {name}")])
            return
        fn = ACTIONS.get(low)
        if fn is None:
            self.error(action, f"Invalid/unknown command: {name}. Use Action: ListCommands "
                               "to show available commands.")
            self.server.security("RequestBadFormat", self, [("RequestType", f"Action: {name}")])
            return
        fn(self, action)


class AmiServer:
    def __init__(self, pbx: Pbx, username: str, secret: str,
                 event_filters: Sequence[str] = ()) -> None:
        self.pbx = pbx
        self.filter = EventFilter(event_filters)  # manager.conf `eventfilter` lines
        self.username = username
        self._secret = secret
        self.sessions: list[Session] = []
        self._clients: set[asyncio.Task[None]] = set()  # the sessions' tasks
        self.server: asyncio.Server | None = None
        pbx.listen(self._fanout, self._wants, self.filter.skipped)

    def check(self, username: str, secret: str) -> bool:
        return username == self.username and secret == self._secret

    def _wants(self, event: str) -> bool:
        return self.filter.by_name(event) is not False  # (None: the headers decide)

    def _fanout(self, event: str, headers: Headers) -> None:
        if not self.filter.passes(event, headers):
            return
        for s in list(self.sessions):
            s.on_event(event, headers)

    def security(self, event: str, session: Session, extra: Headers) -> None:
        now = datetime.datetime.fromtimestamp(self.pbx.clock.wall(), datetime.UTC)
        tv = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        self.pbx.emit(event, [
            ("EventTV", tv),
            ("Severity", "Error" if event != "SuccessfulAuth" else "Informational"),
            ("Service", "AMI"), ("EventVersion", "1"), ("AccountID", self.username),
            ("SessionID", session.session_id), ("LocalAddress", "IPV4/TCP/127.0.0.1/5038"),
            ("RemoteAddress", session.remote), *extra, ("SessionTV", tv),
        ])

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._client, host, port)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.drop_all()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        if self._clients:
            # Let the sessions' tasks end before the loop does: one cancelled at the loop's
            # end is reported by Python 3.11's streams as "Exception in callback".
            await asyncio.wait(set(self._clients), timeout=1.0)

    def hold_output(self, held: bool) -> None:
        """Hold every session's frames (the PBX goes on, nothing is written) or let them all
        go in one write: the benchmark hands the service a whole burst of events at once,
        so the rate it measures is the service's, not that of the simulator producing them.
        Answers to actions are not held (see Session.respond)."""
        for s in self.sessions:
            s.held = held
            if not held:
                s._flush()

    def drop_all(self) -> None:
        for s in list(self.sessions):
            s.close()
        self.sessions.clear()

    def _dispatch(self, session: Session, raw: bytes) -> None:
        if len(raw) > MAX_FRAME:
            log.warning("AMI frame over %d bytes from %s dropped", MAX_FRAME, session.remote)
            session.send(frames.build([("Response", "Error"), ("Message", "Frame too long")]))
            return
        headers = frames.parse(raw.decode(errors="replace"))
        if not headers:
            return
        try:
            session.handle(headers)
        except Exception:  # a bug here must not end the session, let alone the server
            log.exception("AMI action failed: %s", frames.get(headers, "Action")[:64])
            session.error(headers, "Internal error")

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, writer)
        self.sessions.append(session)
        me = asyncio.current_task()
        if me is not None:
            self._clients.add(me)
        session.send(BANNER)
        buf = b""
        try:
            while not session.closing:
                data = await reader.read(65536)
                if not data:
                    break
                buf += data
                while b"\r\n\r\n" in buf and not session.closing:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    self._dispatch(session, raw)
                if len(buf) > MAX_FRAME:  # like Asterisk's "Dumping long line": drop it
                    log.warning("AMI frame over %d bytes from %s dropped", MAX_FRAME,
                                session.remote)
                    buf = b""
                    session.send(frames.build([("Response", "Error"),
                                               ("Message", "Frame too long")]))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if me is not None:
                self._clients.discard(me)
            if session in self.sessions:
                self.sessions.remove(session)
            if not writer.is_closing():
                writer.close()
            # (cancelled here by the loop's end, the session is over all the same: a task
            # that ends cancelled is logged by Python 3.11's streams as "Exception in callback")
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await writer.wait_closed()


# ---- actions --------------------------------------------------------------------------------
def a_login(s: Session, a: Headers) -> None:
    user, secret = frames.get(a, "Username"), frames.get(a, "Secret")
    if not s.server.check(user, secret):
        log.info("AMI login failed for user %r", user)
        s.server.security("InvalidPassword", s, [])

        def fail() -> None:
            s.error(a, "Authentication failed")
            s.close()

        s.pbx.clock.call_later(1.0, fail)
        return
    s.authenticated = True
    s.events = frames.get(a, "Events", "on").lower() not in ("off", "no", "false", "0")
    s.ok(a, "Authentication accepted")
    s.send(frames.event_frame("FullyBooted", [("Uptime", "287"), ("LastReload", "287"),
                                              ("Status", "Fully Booted")]))
    s.server.security("SuccessfulAuth", s, [("UsingPassword", "0")])


def a_logoff(s: Session, a: Headers) -> None:
    s.respond(a, [("Response", "Goodbye"), ("Message", "Thanks for all the fish.")])
    s.close()


def a_ping(s: Session, a: Headers) -> None:
    s.ok(a, None, [("Ping", "Pong"), ("Timestamp", f"{s.pbx.clock.wall():.6f}")])


def a_events(s: Session, a: Headers) -> None:
    mask = frames.get(a, "EventMask", "on").lower()
    s.events = mask not in ("off", "none", "no")
    s.respond(a, [("Response", "Success"), ("Events", "On" if s.events else "Off")])


def a_setvar(s: Session, a: Headers) -> None:
    name, value, chan = frames.get(a, "Variable"), frames.get(a, "Value"), frames.get(a, "Channel")
    if chan:
        ch = s.pbx.find_channel(chan)
        if ch is None:
            s.error(a, "No such channel")
            return
        s.ok(a, "Variable Set")
        s.pbx.set_var(ch, name, value)
    else:
        s.ok(a, "Variable Set")
        s.pbx.set_var(None, name, value)


def a_getvar(s: Session, a: Headers) -> None:
    name, chan = frames.get(a, "Variable"), frames.get(a, "Channel")
    if chan:
        ch = s.pbx.find_channel(chan)
        if ch is None:
            s.error(a, "No such channel")
            return
        value = s.pbx.subst(ch, "${" + name + "}")
    else:
        value = s.pbx.globals.get(name[7:-1] if name.upper().startswith("GLOBAL(") else name, "")
    s.ok(a, None, [("Variable", name), ("Value", value)])


def a_redirect(s: Session, a: Headers) -> None:
    chan = frames.get(a, "Channel")
    ch = s.pbx.find_channel(chan)
    if ch is None:
        s.error(a, f"Channel does not exist: {chan}")
        return
    ctx, exten, prio = frames.get(a, "Context"), frames.get(a, "Exten"), frames.get(a, "Priority")
    if s.pbx.dialplan.find(ctx, exten) is None:
        s.error(a, "Redirect failed")
        return
    extra = frames.get(a, "ExtraChannel")
    if extra:
        _redirect_both(s, a, ch, (ctx, exten, prio or "1"))
        return
    s.ok(a, "Redirect successful")
    ch.dtmf.clear()
    s.pbx.redirect(ch, ctx, exten, prio or "1")


def _redirect_both(s: Session, a: Headers, ch: Channel, where: tuple[str, str, str]) -> None:
    """Redirect with ExtraChannel: both channels leave their bridge alive (Asterisk's dual
    redirect), the second to ExtraContext/ExtraExten/ExtraPriority (default: the first's)."""
    name = frames.get(a, "ExtraChannel")
    other = s.pbx.find_channel(name)
    if other is None:
        s.error(a, f"ExtraChannel does not exist: {name}")
        return
    extra = (frames.get(a, "ExtraContext") or where[0], frames.get(a, "ExtraExten") or where[1],
             frames.get(a, "ExtraPriority") or where[2])
    if s.pbx.dialplan.find(extra[0], extra[1]) is None:
        s.error(a, "Redirect failed")
        return
    s.ok(a, "Dual Redirect successful")
    ch.dtmf.clear()
    other.dtmf.clear()
    s.pbx.redirect_pair((ch, *where), (other, *extra))


def a_agi(s: Session, a: Headers) -> None:
    chan = frames.get(a, "Channel")
    ch = s.pbx.find_channel(chan)
    if ch is None:
        s.error(a, f"Channel {chan} does not exist.")
        return
    s.ok(a, "Added AGI command to queue")
    agi.queue_command(s.pbx, ch, frames.get(a, "Command"), frames.get(a, "CommandID"))


def a_originate(s: Session, a: Headers) -> None:
    s.ok(a, "Originate successfully queued")
    originate.originate(s.pbx, a)


def a_hangup(s: Session, a: Headers) -> None:
    chan = frames.get(a, "Channel")
    ch = s.pbx.find_channel(chan)
    if ch is None:
        s.error(a, "No such channel")
        return
    cause = frames.get(a, "Cause")
    s.ok(a, "Channel Hungup")
    # ASCII digits only: "²".isdigit() is true, int("²") raises
    s.pbx.ami_hangup(ch, int(cause) if cause.isascii() and cause.isdigit() and len(cause) <= 3
                     else 16)


def a_bridge(s: Session, a: Headers) -> None:
    n1, n2 = frames.get(a, "Channel1"), frames.get(a, "Channel2")
    c1, c2 = s.pbx.find_channel(n1), s.pbx.find_channel(n2)
    if c1 is None:
        s.error(a, f"Channel1 does not exist: {n1}")
        return
    if c2 is None:
        s.error(a, f"Channel2 does not exist: {n2}")
        return
    s.ok(a, "Channels have been bridged")
    bridging.ami_bridge(s.pbx, c1, c2)


def a_user_event(s: Session, a: Headers) -> None:
    name = frames.get(a, "UserEvent")
    body = [(k, v) for k, v in a if k.lower() not in ("action", "actionid", "userevent")]
    s.ok(a, "Event Sent")
    s.pbx.emit("UserEvent", [("UserEvent", name), *body])


ACTIONS: dict[str, Action] = {
    "login": a_login, "logoff": a_logoff, "ping": a_ping, "events": a_events,
    "setvar": a_setvar, "getvar": a_getvar, "redirect": a_redirect, "agi": a_agi,
    "originate": a_originate, "hangup": a_hangup, "bridge": a_bridge,
    "userevent": a_user_event, "coreshowchannels": ami_status.a_core_show_channels,
    "status": ami_status.a_status,
    "corestatus": ami_status.a_core_status, "queuestatus": ami_status.a_queue_status,
    "queuesummary": ami_status.a_queue_summary, "queuepause": ami_status.a_queue_pause,
    "devicestatelist": ami_status.a_device_state_list,
    "extensionstatelist": ami_status.a_extension_state_list,
    "extensionstate": ami_status.a_extension_state, "sippeers": ami_status.a_sip_peers,
    "bridgelist": ami_status.a_bridge_list, "command": ami_status.a_command,
    "mixmonitor": mixmonitor.a_mixmonitor, "mixmonitormute": mixmonitor.a_mixmonitor_mute,
    "stopmixmonitor": mixmonitor.a_stop_mixmonitor,
}
