"""Dialplan applications the caller-facing policies use: VoiceMail() and SayNumber().

VoiceMail(mailbox[@context][&...],options): the greeting (prompt "vm-intro", its duration from
the prompt table), then a recording that ends when the caller hangs up (the message is kept,
as app_voicemail keeps it), presses '#' (kept, VMSTATUS=SUCCESS, the dialplan goes on) or after
`voicemail_max_s`. A kept message is stored in `pbx.mailboxes` and announced by a MessageWaiting
event with the channel snapshot, Mailbox (mailbox@context), Waiting, New and Old, as Asterisk
16.24+ raises it. A caller who hangs up during the greeting leaves nothing.

SayNumber(number): one prompt per spoken word, as Asterisk's English say.c splits a number
("digits/20", "digits/3"; "digits/hundred"...); only the duration matters here: the channel is
busy for the sum of the words' prompt durations and can be pulled out of it by a bridge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.pbxsim.apps import prompt_seconds, split_args
from acd.pbxsim.engine import NEXT
from acd.pbxsim.model import AppRun, Channel

if TYPE_CHECKING:
    from acd.pbxsim.engine import Pbx


def _mailbox(text: str) -> str:
    box = text.strip()
    return box if "@" in box else f"{box}@default"


def voicemail(pbx: Pbx, ch: Channel, data: str) -> str:
    args = split_args(data)
    boxes = [_mailbox(b) for b in (args[0].split("&") if args else []) if b.strip()]
    if not boxes:
        pbx.set_var(ch, "VMSTATUS", "FAILED")
        return NEXT
    run = AppRun("VoiceMail", data)
    state = {"recording_since": -1.0}

    def keep() -> None:
        started = state["recording_since"]
        if started < 0:
            return
        state["recording_since"] = -1.0
        box = boxes[0]
        messages = pbx.mailboxes.setdefault(box, [])
        messages.append({"from": ch.cid_num, "channel": ch.name, "at": started,
                         "duration_s": pbx.clock.now() - started})
        if ch.truth is not None:
            ch.truth.voicemail = box
        pbx.chan_event("MessageWaiting", ch, [("Mailbox", box), ("Waiting", "1"),
                                              ("New", str(len(messages))), ("Old", "0")])

    def done() -> None:
        keep()
        pbx.set_var(ch, "VMSTATUS", "SUCCESS")
        ch.dtmf_listener = None
        pbx.finish_app(ch)

    def on_digit() -> None:
        while ch.dtmf:
            if ch.dtmf.pop(0) == "#" and state["recording_since"] >= 0:
                done()
                return

    def record() -> None:
        state["recording_since"] = pbx.clock.now()
        run.extra["recording"] = True
        ch.dtmf.clear()
        ch.dtmf_listener = on_digit
        pbx.app_timer(ch, run, pbx.voicemail_max_s, done)

    def on_interrupt(reason: str) -> None:
        ch.dtmf_listener = None
        if reason == "hangup":
            keep()

    run.on_interrupt = on_interrupt
    pbx.app_timer(ch, run, prompt_seconds(pbx, "vm-intro&beep"), record)
    return pbx.block(ch, run)


_ONES = ["", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
         "16", "17", "18", "19"]


def number_words(n: int) -> list[str]:
    """The prompts English SayNumber plays for n >= 0 (digits/N, digits/hundred, ...)."""
    if n == 0:
        return ["digits/0"]
    out: list[str] = []
    if n >= 1000:
        out += [*number_words(n // 1000), "digits/thousand"]
        n %= 1000
    if n >= 100:
        out += [f"digits/{n // 100}", "digits/hundred"]
        n %= 100
    if n >= 20:
        out.append(f"digits/{n // 10 * 10}")
        n %= 10
    if n:
        out.append(f"digits/{_ONES[n]}")
    return out


def say_number(pbx: Pbx, ch: Channel, data: str) -> str:
    text = split_args(data)[0].strip() if data else ""
    if not text.lstrip("-").isdigit():
        return NEXT  # Asterisk logs "SayNumber: ... not a number" and goes on
    words = number_words(abs(int(text)))
    run = AppRun("SayNumber", data)
    pbx.app_timer(ch, run, prompt_seconds(pbx, "&".join(words)), lambda: pbx.finish_app(ch))
    return pbx.block(ch, run)
