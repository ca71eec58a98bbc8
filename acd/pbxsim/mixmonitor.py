"""AMI MixMonitor, MixMonitorMute and StopMixMonitor (recording control on a channel).

Nothing is recorded; the channel carries a recording flag, and a caller's truth keeps what was
done (file, options, start, mutes, stop) so tests can check it. ``PauseMonitor`` is not an
action of this PBX (the unknown-action error of the trace comes from the dispatcher).
MixMonitorMute on a channel without a recording is refused, as Asterisk does ("Cannot set mute
flag": its audiohook is not there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.pbxsim import frames
from acd.pbxsim.frames import Headers
from acd.pbxsim.model import Channel

if TYPE_CHECKING:
    from acd.pbxsim.ami import Session

RECORDING = "__MIXMONITOR_ACTIVE"


def _channel(s: Session, a: Headers) -> Channel | None:
    name = frames.get(a, "Channel")
    if not name:
        s.error(a, "No channel specified")
        return None
    ch = s.pbx.find_channel(name)
    if ch is None:
        s.error(a, "No such channel")
    return ch


def a_mixmonitor(s: Session, a: Headers) -> None:
    ch = _channel(s, a)
    if ch is None:
        return
    pbx = s.pbx
    s.respond(a, [("Response", "Success")])
    path = frames.get(a, "File") or f"{ch.uniqueid}.wav"
    ch.variables[RECORDING] = "1"
    if ch.truth is not None:
        ch.truth.recordings.append({"file": path, "options": frames.get(a, "Options"),
                                    "started_at": pbx.clock.now(), "mutes": [],
                                    "stopped_at": None})
    pbx.set_var(ch, "MIXMONITOR_FILENAME", path)
    if ch.bridge is not None:
        # Observed: the audiohook makes the bridge re-announce its peers.
        for peer in ch.bridge.channels:
            others = [c for c in ch.bridge.channels if c is not peer]
            if others:
                pbx.set_var(peer, "BRIDGEPEER", others[0].name)
    pbx.chan_event("MixMonitorStart", ch)


def a_mixmonitor_mute(s: Session, a: Headers) -> None:
    ch = _channel(s, a)
    if ch is None:
        return
    direction = frames.get(a, "Direction") or "both"
    if direction not in ("read", "write", "both"):
        s.error(a, "Invalid direction specified. Must be read, write or both")
        return
    state = "1" if frames.get(a, "State").lower() in ("1", "true", "yes", "on") else "0"
    if RECORDING not in ch.variables:
        s.error(a, "Cannot set mute flag")
        return
    if ch.truth is not None and ch.truth.recordings:
        ch.truth.recordings[-1]["mutes"].append((s.pbx.clock.now(), state))
    s.respond(a, [("Response", "Success")])
    s.pbx.chan_event("MixMonitorMute", ch, [("Direction", direction), ("State", state)])


def a_stop_mixmonitor(s: Session, a: Headers) -> None:
    ch = _channel(s, a)
    if ch is None:
        return
    if ch.variables.pop(RECORDING, None) is None:
        s.error(a, "Could not stop MixMonitor")
        return
    if ch.truth is not None and ch.truth.recordings:
        ch.truth.recordings[-1]["stopped_at"] = s.pbx.clock.now()
    s.respond(a, [("Response", "Success")])
    s.pbx.chan_event("MixMonitorStop", ch)
