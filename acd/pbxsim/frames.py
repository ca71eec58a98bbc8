"""AMI frame text: building, parsing, URL-encoding."""

from __future__ import annotations

from urllib.parse import quote

Headers = list[tuple[str, str]]

PRIVILEGE = {
    "Newexten": "dialplan,all", "VarSet": "dialplan,all",
    "AsyncAGIStart": "agi,all", "AsyncAGIExec": "agi,all", "AsyncAGIEnd": "agi,all",
    "AGIExecStart": "agi,all", "AGIExecEnd": "agi,all",
    "UserEvent": "user,all", "DTMFBegin": "dtmf,all", "DTMFEnd": "dtmf,all",
    "QueueCallerJoin": "agent,all", "QueueCallerLeave": "agent,all",
    "QueueCallerAbandon": "agent,all", "AgentCalled": "agent,all", "AgentConnect": "agent,all",
    "AgentComplete": "agent,all", "AgentRingNoAnswer": "agent,all",
    "QueueMemberStatus": "agent,all",
    "FullyBooted": "system,all",
    "SuccessfulAuth": "security,all", "RequestBadFormat": "security,all",
    "InvalidPassword": "security,all", "RequestNotAllowed": "security,all",
    "RTCPSent": "reporting,all",
}

CAUSE_TEXT = {
    0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "User alerting, no answer",
    21: "Call Rejected",
}


def build(headers: Headers) -> str:
    return "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"


def event_frame(event: str, headers: Headers) -> str:
    priv = PRIVILEGE.get(event, "call,all")
    return build([("Event", event), ("Privilege", priv), *headers])


def parse(frame: str) -> Headers:
    out: Headers = []
    for line in frame.split("\r\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        out.append((key.strip(), value[1:] if value.startswith(" ") else value))
    return out


def urlencode(text: str) -> str:
    return quote(text, safe="-_.~()")


def get(headers: Headers, key: str, default: str = "") -> str:
    low = key.lower()
    for k, v in headers:
        if k.lower() == low:
            return v
    return default


def get_all(headers: Headers, key: str) -> list[str]:
    low = key.lower()
    return [v for k, v in headers if k.lower() == low]
