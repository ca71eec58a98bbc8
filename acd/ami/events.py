"""AMI frames -> domain events, through one table keyed by event name. No decisions here.

Frames the table does not name (VarSet, Newexten, RTCP, ...) cost one dict lookup and are dropped.
A frame that names a known event but lacks what the event needs raises `BadFrame`, which the
caller logs and counts; it never stops the event stream.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from acd.contract import USEREVENT_AGENT, USEREVENT_CALLBACK, USEREVENT_SURVEY
from acd.core.events import (
    AgentFeatureUsed,
    AgiCommandDone,
    AgiSessionEnded,
    AgiSessionStarted,
    CallbackRequested,
    CallbackResult,
    ChannelBridged,
    ChannelHungUp,
    DomainEvent,
    OriginateFailed,
    SurveyAnswered,
)

Frame = dict[str, str]


class BadFrame(ValueError):
    pass


def _need(frame: Frame, key: str) -> str:
    value = frame.get(key)
    if value is None or value == "":
        raise BadFrame(f"{frame.get('Event', '?')}: missing header {key}")
    return value


def _agi_env(frame: Frame) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in unquote(frame.get("Env", "")).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            env[key.strip()] = value.strip()
    return env


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def _async_agi_start(f: Frame) -> DomainEvent:
    env = _agi_env(f)
    return AgiSessionStarted(
        channel=_need(f, "Channel"), uniqueid=_need(f, "Uniqueid"),
        caller_num=f.get("CallerIDNum", env.get("agi_callerid", "")),
        caller_name=f.get("CallerIDName", env.get("agi_calleridname", "")),
        dnis=env.get("agi_extension") or f.get("Exten", ""),
        context=f.get("Context", env.get("agi_context", "")),
        language=f.get("Language", env.get("agi_language", "")))


def _async_agi_exec(f: Frame) -> DomainEvent:
    # panoramisk already URL-decodes `Result`; decoding twice is harmless for AGI results.
    return AgiCommandDone(channel=_need(f, "Channel"), uniqueid=_need(f, "Uniqueid"),
                          command_id=_need(f, "CommandId"), result=unquote(f.get("Result", "")))


def _async_agi_end(f: Frame) -> DomainEvent:
    return AgiSessionEnded(channel=_need(f, "Channel"), uniqueid=_need(f, "Uniqueid"))


def _hangup(f: Frame) -> DomainEvent:
    return ChannelHungUp(channel=f.get("Channel", ""), uniqueid=_need(f, "Uniqueid"),
                         cause=_int(f.get("Cause", "0")))


def _bridge_enter(f: Frame) -> DomainEvent:
    return ChannelBridged(channel=f.get("Channel", ""), uniqueid=_need(f, "Uniqueid"),
                          bridge_id=f.get("BridgeUniqueid", ""))


def _originate_response(f: Frame) -> DomainEvent | None:
    if f.get("Response") == "Success":
        return None  # BridgeEnter is the reliable point of an answered agent leg
    return OriginateFailed(uniqueid=_need(f, "Uniqueid"), reason=_int(f.get("Reason", "0")))


def _user_event(f: Frame) -> DomainEvent | None:
    kind = f.get("UserEvent")
    if kind == USEREVENT_SURVEY:
        return SurveyAnswered(call_id=_need(f, "Call").strip(),
                              question=_need(f, "Question").strip().lower(),
                              answer=f.get("Answer", "").strip())
    if kind == USEREVENT_CALLBACK:
        return _callback_event(f)
    if kind != USEREVENT_AGENT:
        return None
    return AgentFeatureUsed(action=_need(f, "Action").strip().lower(),
                            extension=_need(f, "Agent").strip(),
                            reason=f.get("Reason", "").strip(),
                            digits=(f.get("Code") or f.get("Target") or "").strip(),
                            resolved=f.get("Resolved", "").strip())


def _callback_event(f: Frame) -> DomainEvent:
    action = _need(f, "Action").strip().lower()
    call_id = _need(f, "Call").strip()
    if action == "request":
        return CallbackRequested(call_id=call_id)
    if action == "result":
        return CallbackResult(call_id=call_id, leg_id=_need(f, "Uniqueid"),
                              status=f.get("Status", "").strip().upper())
    raise BadFrame(f"UserEvent {USEREVENT_CALLBACK}: unknown Action {action!r}")


TABLE: dict[str, Callable[[Frame], DomainEvent | None]] = {
    "AsyncAGIStart": _async_agi_start,
    "AsyncAGIExec": _async_agi_exec,
    "AsyncAGIEnd": _async_agi_end,
    "Hangup": _hangup,
    "BridgeEnter": _bridge_enter,
    "OriginateResponse": _originate_response,
    "UserEvent": _user_event,
}


def to_domain(frame: Frame) -> DomainEvent | None:
    """The domain event for a frame, or None for frames the service does not use."""
    handler = TABLE.get(frame.get("Event", ""))
    return handler(frame) if handler is not None else None
