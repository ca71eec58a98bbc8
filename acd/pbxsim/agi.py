"""AsyncAGI: AGI(agi:async), the command queue fed by the AMI AGI action, and commands."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING

from acd.pbxsim import apps, dtmf, frames
from acd.pbxsim.engine import BLOCK
from acd.pbxsim.model import AppRun, Channel

if TYPE_CHECKING:
    from acd.pbxsim.engine import Pbx

Done = Callable[[str], None]


def env(pbx: Pbx, ch: Channel, request: str) -> str:
    items = [
        ("agi_request", request), ("agi_channel", ch.name), ("agi_language", "en"),
        ("agi_type", ch.name.split("/", 1)[0]), ("agi_uniqueid", ch.uniqueid),
        ("agi_version", "20.20.1"), ("agi_callerid", ch.cid_num or "unknown"),
        ("agi_calleridname", ch.cid_name or "unknown"), ("agi_callingpres", "0"),
        ("agi_callingani2", "0"), ("agi_callington", "0"), ("agi_callingtns", "0"),
        ("agi_dnid", ch.dnid or "unknown"), ("agi_rdnis", "unknown"),
        ("agi_context", ch.context), ("agi_extension", ch.exten),
        ("agi_priority", str(ch.priority)), ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""), ("agi_threadid", "140063924934336"),
    ]
    return "".join(f"{k}: {v}\n" for k, v in items) + "\n"


def start(pbx: Pbx, ch: Channel, data: str) -> str:
    run = AppRun("AGI", data)
    run.extra["running"] = None
    run.on_interrupt = lambda reason: _end(pbx, ch, run, "HANGUP")
    ch.app = run
    text = env(pbx, ch, data.split(",")[0])
    pbx.chan_event("AsyncAGIStart", ch, [("Env", frames.urlencode(text))])
    _kick(pbx, ch)
    return BLOCK


def queue_command(pbx: Pbx, ch: Channel, command: str, command_id: str) -> None:
    ch.agi_queue.append((command, command_id))
    _kick(pbx, ch)


def _agi_run(ch: Channel) -> AppRun | None:
    return ch.app if ch.app is not None and ch.app.name == "AGI" else None


def _kick(pbx: Pbx, ch: Channel) -> None:
    run = _agi_run(ch)
    if run is None or run.extra.get("running") or run.extra.get("scheduled") or not ch.agi_queue:
        return
    run.extra["scheduled"] = True

    def go() -> None:
        run.extra["scheduled"] = False
        if _agi_run(ch) is run and ch.agi_queue and not ch.hungup:
            command, command_id = ch.agi_queue.pop(0)
            _execute(pbx, ch, run, command, command_id)

    pbx.app_timer(ch, run, 0.02 if ch.heard_dtmf else pbx.agi_delay_s, go)


def _execute(pbx: Pbx, ch: Channel, run: AppRun, command: str, command_id: str) -> None:
    internal = pbx.new_command_id()
    run.extra["running"] = (command, command_id, internal)
    pbx.chan_event("AGIExecStart", ch, [("CommandId", internal), ("Command", command)])
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    handler, args = _lookup(words)

    def done(result: str) -> None:
        if _agi_run(ch) is not run or run.extra.get("running") is None:
            return
        _report(pbx, ch, run, result)
        after = run.extra.pop("after", None)
        if after is not None:
            after()
        else:
            _kick(pbx, ch)

    handler(pbx, ch, run, args, done)


def _report(pbx: Pbx, ch: Channel, run: AppRun, result: str) -> None:
    command, command_id, internal = run.extra["running"]
    run.extra["running"] = None
    code = result.split(" ", 1)[0]
    pbx.chan_event("AGIExecEnd", ch, [("CommandId", internal), ("Command", command),
                                      ("ResultCode", code), ("Result", "Success")])
    extra = [("Result", frames.urlencode(result + "\n"))]
    if command_id:
        extra.append(("CommandId", command_id))
    pbx.chan_event("AsyncAGIExec", ch, extra)


def _end(pbx: Pbx, ch: Channel, run: AppRun, status: str) -> None:
    """AsyncAGI ends (Redirect, hangup, bridge, BREAK): a running command gets -1."""
    if run.extra.get("running") is not None:
        ch.dtmf_listener = None
        _report(pbx, ch, run, "200 result=-1")
    ch.agi_queue.clear()
    pbx.chan_event("AsyncAGIEnd", ch)
    pbx.set_var(ch, "AGISTATUS", status)


Handler = Callable[["Pbx", Channel, AppRun, list[str], Done], None]


def _lookup(words: list[str]) -> tuple[Handler, list[str]]:
    upper = [w.upper() for w in words]
    for n in (3, 2, 1):
        key = " ".join(upper[:n])
        if len(upper) >= n and key in COMMANDS:
            return COMMANDS[key], words[n:]
    return _unknown, words


def _unknown(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    done("510 Invalid or unknown command")


def _answer(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    pbx.set_state(ch, 6)
    done("200 result=0")


def _noop(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    done("200 result=0")


def _stream_file(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    name = args[0] if args else ""
    escape = args[1] if len(args) > 1 else ""
    duration = apps.prompt_seconds(pbx, name)
    endpos = int(duration * 8000)
    if escape and ch.inputs and (ch.inputs[0] or "").startswith("!"):
        digit = (dtmf.next_input(ch) or "")[:1]
        if digit and digit in escape:
            at = duration / 2
            dtmf.press(pbx, ch, digit, at, run)
            pbx.app_timer(ch, run, at + 0.001,
                          lambda: done(f"200 result={ord(digit)} endpos={int(at * 8000)}"))
            return

    def finish() -> None:
        pbx.set_var(ch, "PLAYBACKSTATUS", "SUCCESS")
        done(f"200 result=0 endpos={endpos}")

    pbx.app_timer(ch, run, duration, finish)


def _get_data(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    name = args[0] if args else ""
    timeout = int(args[1]) / 1000 if len(args) > 1 and args[1].lstrip("-").isdigit() else 5.0
    maxdigits = int(args[2]) if len(args) > 2 and args[2].isdigit() else 1024

    def collected(digits: str, timed_out: bool) -> None:
        done(f"200 result={digits} (timeout)" if timed_out else f"200 result={digits}")

    pbx.app_timer(ch, run, apps.prompt_seconds(pbx, name),
                  lambda: dtmf.collect(pbx, ch, run, maxdigits, timeout, collected))


def _wait_digit(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    ms = int(args[0]) if args and args[0].lstrip("-").isdigit() else -1
    timeout = ms / 1000 if ms >= 0 else None

    def collected(digits: str, timed_out: bool) -> None:
        done(f"200 result={ord(digits[0]) if digits else 0}")

    dtmf.collect(pbx, ch, run, 1, timeout, collected)


def _set_variable(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    if args:
        pbx.set_var(ch, args[0], args[1] if len(args) > 1 else "")
    done("200 result=1")


def _get_variable(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    name = args[0] if args else ""
    if name in ch.variables or name in pbx.globals or name.upper() in ("EPOCH", "CHANNEL"):
        done(f"200 result=1 ({pbx.resolve(ch, name)})")
    else:
        done("200 result=0")


def _get_full_variable(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    done(f"200 result=1 ({pbx.subst(ch, args[0] if args else '')})")


def _say_digits(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    digits = args[0] if args else ""
    pbx.app_timer(ch, run, 0.5 * len(digits), lambda: done("200 result=0"))


def _exec(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    app = args[0].lower() if args else ""
    data = " ".join(args[1:])
    if app == "playback":
        def finish() -> None:
            pbx.set_var(ch, "PLAYBACKSTATUS", "SUCCESS")
            done("200 result=0")

        pbx.app_timer(ch, run, apps.prompt_seconds(pbx, data.split(",")[0]), finish)
    elif app == "set":
        apps.set_(pbx, ch, data)
        done("200 result=0")
    elif app in apps.APPS:
        done("200 result=0")
    else:
        done("200 result=-2")


def _hangup(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    def after() -> None:
        ch.app = None
        run.cancel_timers()
        _end(pbx, ch, run, "SUCCESS")
        pbx.dialplan_hangup(ch, 16)

    run.extra["after"] = after
    done("200 result=1")


def _break(pbx: Pbx, ch: Channel, run: AppRun, args: list[str], done: Done) -> None:
    def after() -> None:
        ch.app = None
        run.cancel_timers()
        _end(pbx, ch, run, "SUCCESS")
        pbx.finish_app(ch)

    run.extra["after"] = after
    done("200 result=0")


COMMANDS: dict[str, Handler] = {
    "ANSWER": _answer, "NOOP": _noop, "STREAM FILE": _stream_file, "GET DATA": _get_data,
    "WAIT FOR DIGIT": _wait_digit, "SET VARIABLE": _set_variable,
    "GET VARIABLE": _get_variable, "GET FULL VARIABLE": _get_full_variable,
    "SAY DIGITS": _say_digits, "EXEC": _exec, "HANGUP": _hangup, "ASYNCAGI BREAK": _break,
}
