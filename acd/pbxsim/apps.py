"""Dialplan applications."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from acd.pbxsim import dtmf
from acd.pbxsim.engine import BLOCK, JUMP, NEXT, STOP
from acd.pbxsim.model import AppRun, Channel

if TYPE_CHECKING:
    from acd.pbxsim.engine import Pbx

App = Callable[["Pbx", Channel, str], str]


def split_args(data: str) -> list[str]:
    return data.split(",") if data != "" else []


def execute(pbx: Pbx, ch: Channel, app: str, data: str) -> str:
    fn = APPS.get(app.lower())
    if fn is None:
        return NEXT
    return fn(pbx, ch, data)


def noop(pbx: Pbx, ch: Channel, data: str) -> str:
    return NEXT


def answer(pbx: Pbx, ch: Channel, data: str) -> str:
    if ch.state == 6:
        return NEXT
    pbx.set_state(ch, 6)
    run = AppRun("Answer", data)
    pbx.app_timer(ch, run, pbx.answer_delay_s, lambda: pbx.finish_app(ch))
    return pbx.block(ch, run)


def goto_target(pbx: Pbx, ch: Channel, target: str) -> str:
    parts = [p.strip() for p in target.split(",")]
    if len(parts) == 1:
        ok = pbx.goto(ch, ch.context, ch.exten, parts[0])
    elif len(parts) == 2:
        ok = pbx.goto(ch, ch.context, parts[0], parts[1])
    else:
        ok = pbx.goto(ch, parts[0], parts[1], parts[2])
    if not ok:
        pbx.dialplan_hangup(ch, 16)
        return STOP
    return JUMP


def goto(pbx: Pbx, ch: Channel, data: str) -> str:
    return goto_target(pbx, ch, data)


def gotoif(pbx: Pbx, ch: Channel, data: str) -> str:
    cond, _, branches = data.partition("?")
    iftrue, _, iffalse = branches.partition(":")
    value = cond.strip()
    truth = value not in ("", "0") and not _is_zero(value)
    target = iftrue if truth else iffalse
    if not target.strip():
        return NEXT
    return goto_target(pbx, ch, target)


def _is_zero(value: str) -> bool:
    try:
        return float(value) == 0
    except ValueError:
        return False


def hangup(pbx: Pbx, ch: Channel, data: str) -> str:
    cause = int(data) if data.strip().isdigit() else 16
    pbx.dialplan_hangup(ch, cause)
    return STOP


def set_(pbx: Pbx, ch: Channel, data: str) -> str:
    name, _, value = data.partition("=")
    name = name.strip()
    if name.upper().startswith("GLOBAL(") and name.endswith(")"):
        pbx.set_var(None, name[7:-1], value)
    else:
        pbx.set_var(ch, name, value)
    return NEXT


def wait(pbx: Pbx, ch: Channel, data: str) -> str:
    run = AppRun("Wait", data)
    pbx.app_timer(ch, run, float(data or 0), lambda: pbx.finish_app(ch))
    return pbx.block(ch, run)


def prompt_seconds(pbx: Pbx, data: str) -> float:
    total = 0.0
    for name in data.split("&"):
        name = name.strip()
        if name:
            total += pbx.prompt_durations.get(name, pbx.default_prompt_s)
    return total


def playback(pbx: Pbx, ch: Channel, data: str) -> str:
    files = split_args(data)[0] if data else ""
    run = AppRun("Playback", data)

    def done() -> None:
        pbx.set_var(ch, "PLAYBACKSTATUS", "SUCCESS")
        pbx.finish_app(ch)

    pbx.app_timer(ch, run, prompt_seconds(pbx, files), done)
    return pbx.block(ch, run)


def music_on_hold(pbx: Pbx, ch: Channel, data: str) -> str:
    args = split_args(data)
    klass = args[0] if args and args[0] else "default"
    duration = float(args[1]) if len(args) > 1 and args[1].strip() else None
    run = AppRun("MusicOnHold", data)
    pbx.chan_event("MusicOnHoldStart", ch, [("Class", klass)])

    def stop() -> None:
        pbx.chan_event("MusicOnHoldStop", ch)

    def on_interrupt(reason: str) -> None:
        stop()

    def done() -> None:
        stop()
        pbx.finish_app(ch)

    run.on_interrupt = on_interrupt
    if duration is not None:
        pbx.app_timer(ch, run, duration, done)
    return pbx.block(ch, run)


def user_event(pbx: Pbx, ch: Channel, data: str) -> str:
    name, *body = split_args(data)
    extra = [("UserEvent", name)]
    for item in body:
        key, _, value = item.partition(":")
        extra.append((key.strip(), value.strip()))
    pbx.emit("UserEvent", ch.snapshot() + extra)
    return NEXT


def read(pbx: Pbx, ch: Channel, data: str) -> str:
    args = split_args(data) + [""] * 6
    var, prompt, maxd = args[0], args[1], args[2]
    timeout = float(args[5]) if args[5].strip() else 10.0
    maxdigits = int(maxd) if maxd.strip().isdigit() and int(maxd) > 0 else 255
    run = AppRun("Read", data)

    def done(digits: str, timed_out: bool) -> None:
        pbx.set_var(ch, var, digits)
        pbx.set_var(ch, "READSTATUS", "TIMEOUT" if timed_out and not digits else "OK")
        pbx.finish_app(ch)

    def start() -> None:
        dtmf.collect(pbx, ch, run, maxdigits, timeout, done)

    pbx.app_timer(ch, run, prompt_seconds(pbx, prompt), start)
    return pbx.block(ch, run)


def agi(pbx: Pbx, ch: Channel, data: str) -> str:
    from acd.pbxsim import agi as agimod

    return agimod.start(pbx, ch, data)


def bridge_app(pbx: Pbx, ch: Channel, data: str) -> str:
    from acd.pbxsim import bridging

    return bridging.bridge_app(pbx, ch, data)


def queue_app(pbx: Pbx, ch: Channel, data: str) -> str:
    from acd.pbxsim import queue

    return queue.queue_app(pbx, ch, data)


def dial_app(pbx: Pbx, ch: Channel, data: str) -> str:
    from acd.pbxsim import dial

    return dial.dial_app(pbx, ch, data)


def voicemail_app(pbx: Pbx, ch: Channel, data: str) -> str:
    from acd.pbxsim import apps_flow

    return apps_flow.voicemail(pbx, ch, data)


def say_number_app(pbx: Pbx, ch: Channel, data: str) -> str:
    from acd.pbxsim import apps_flow

    return apps_flow.say_number(pbx, ch, data)


APPS: dict[str, App] = {
    "noop": noop, "verbose": noop, "log": noop, "answer": answer, "goto": goto,
    "gotoif": gotoif, "hangup": hangup, "set": set_, "wait": wait, "playback": playback,
    "musiconhold": music_on_hold, "userevent": user_event, "read": read, "agi": agi,
    "bridge": bridge_app, "queue": queue_app, "dial": dial_app,
    "voicemail": voicemail_app, "saynumber": say_number_app,
}

__all__ = ["APPS", "BLOCK", "execute", "split_args"]
