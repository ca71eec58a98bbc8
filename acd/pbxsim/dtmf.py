"""DTMF: simulated key presses and digit collection (Read, GET DATA, WAIT FOR DIGIT)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from acd.pbxsim.model import AppRun, Channel

if TYPE_CHECKING:
    from acd.pbxsim.engine import Pbx


def press(pbx: Pbx, ch: Channel, digits: str, start: float = 0.0,
          app: AppRun | None = None) -> None:
    """Schedule key presses on ``ch`` (first after ``start`` s, then one per digit gap)."""
    for i, digit in enumerate(digits):
        handle = pbx.clock.call_later(start + i * pbx.digit_gap_s, _presser(pbx, ch, digit))
        (app.timers if app is not None else ch.timers).append(handle)


def _presser(pbx: Pbx, ch: Channel, digit: str) -> Callable[[], None]:
    return lambda: _one(pbx, ch, digit)


def _one(pbx: Pbx, ch: Channel, digit: str) -> None:
    if ch.hungup:
        return
    pbx.chan_event("DTMFBegin", ch, [("Digit", digit), ("Direction", "Received")])
    pbx.chan_event("DTMFEnd", ch, [("Digit", digit), ("DurationMs", "120"),
                                   ("Direction", "Received")])
    ch.dtmf.append(digit)
    ch.heard_dtmf = True
    if ch.dtmf_listener is not None:
        ch.dtmf_listener()


def next_input(ch: Channel) -> str | None:
    """Consume the next scripted input item (None when the script is exhausted)."""
    if not ch.inputs:
        return None
    item = ch.inputs.pop(0)
    return item.lstrip("!") if item else None


def _script(pbx: Pbx, ch: Channel, app: AppRun) -> None:
    item = next_input(ch)
    if item:
        press(pbx, ch, item, pbx.digit_delay_s, app)


def collect(
    pbx: Pbx,
    ch: Channel,
    app: AppRun,
    maxdigits: int,
    timeout_s: float | None,
    on_done: Callable[[str, bool], None],
    *,
    scripted: bool = True,
) -> None:
    """Collect up to ``maxdigits`` digits ('#' ends); ``on_done(digits, timed_out)``."""
    got: list[str] = []
    done = False
    timers: list[object] = []

    def finish(timed_out: bool) -> None:
        nonlocal done
        if done:
            return
        done = True
        ch.dtmf_listener = None
        on_done("".join(got), timed_out)

    def arm() -> None:
        for t in timers:
            t.cancel()  # type: ignore[attr-defined]
        timers.clear()
        if timeout_s is not None and timeout_s >= 0:
            handle = pbx.clock.call_later(timeout_s, lambda: finish(True))
            timers.append(handle)
            app.timers.append(handle)

    def on_digit() -> None:
        while ch.dtmf and not done:
            digit = ch.dtmf.pop(0)
            if digit == "#":
                finish(False)
                return
            got.append(digit)
            if len(got) >= maxdigits:
                finish(False)
                return
        arm()

    ch.dtmf_listener = on_digit
    if scripted:
        _script(pbx, ch, app)
    if ch.dtmf:
        on_digit()
    else:
        arm()
