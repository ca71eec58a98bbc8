"""The IVR's per-call state and the commands the engine hands to the service. Pure data.

The state is JSON-serialisable (`to_dict` / `from_dict`) so the service can keep it in Redis
between two AGI results.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

from acd.core.model import PRIORITY_NORMAL


class Awaiting(StrEnum):
    """What the engine waits for; one outstanding question per call."""

    INPUT = "input"  # GET DATA of a menu / collect node
    PLAY = "play"  # STREAM FILE of a play node
    REPROMPT = "reprompt"  # STREAM FILE of an invalid / timeout prompt, then ask again
    LANGUAGE = "language"  # SET VARIABLE CHANNEL(language) of a set node
    QUEUE_PROMPT = "queue_prompt"  # STREAM FILE of a queue node's prompt, then ToQueue
    VIP = "vip"  # LookupVip: the service answers with on_vip_result
    LOOKUP = "lookup"  # LookupCaller: the service answers with on_lookup_result
    DONE = "done"  # ToQueue or EndCall was returned: nothing more


AGI_AWAITS = frozenset({Awaiting.INPUT, Awaiting.PLAY, Awaiting.REPROMPT, Awaiting.LANGUAGE,
                        Awaiting.QUEUE_PROMPT})


@dataclass(slots=True)
class IvrState:
    flow: str
    node: str = ""
    attempts: int = 0  # failed tries at the current menu / collect node
    data: dict[str, str] = field(default_factory=dict)  # collected variables (account, ...)
    path: list[str] = field(default_factory=list)  # every node entered, in order: the funnel
    language: str = ""
    skills: dict[str, int] = field(default_factory=dict)  # gathered required skills
    vip: bool = False
    priority: int = PRIORITY_NORMAL
    awaiting: str = Awaiting.DONE
    caller_num: str = ""  # for the VIP lookup
    hops: int = 0  # node entries since the last AGI command (loop guard)
    steps: int = 0  # Agi and LookupVip commands in this call (runaway guard)
    queue: str = ""  # the queue a CRM lookup picked: replaces the queue node's
    resume: str = ""  # the node to enter once the language a lookup gave is set
    reason: str = ""  # the call reason the caller stated (menu option or set node)

    def copy(self) -> IvrState:
        return IvrState(**{**asdict(self), "awaiting": Awaiting(self.awaiting)})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["awaiting"] = str(self.awaiting)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IvrState:
        """Rebuild from `to_dict` output; raises ValueError/KeyError/TypeError on bad input."""
        return cls(
            flow=str(d["flow"]), node=str(d["node"]), attempts=int(d["attempts"]),
            data={str(k): str(v) for k, v in d["data"].items()},
            path=[str(p) for p in d["path"]], language=str(d["language"]),
            skills={str(k): int(v) for k, v in d["skills"].items()},
            vip=bool(d["vip"]), priority=int(d["priority"]), awaiting=Awaiting(d["awaiting"]),
            caller_num=str(d.get("caller_num", "")), hops=int(d.get("hops", 0)),
            steps=int(d.get("steps", 0)), queue=str(d.get("queue", "")),
            resume=str(d.get("resume", "")), reason=str(d.get("reason", "")),
        )


@dataclass(frozen=True, slots=True)
class Agi:
    """Send this AGI command and feed its result to `on_agi_result`."""

    command: str


@dataclass(frozen=True, slots=True)
class LookupVip:
    """Is this caller a VIP (by number, or by the account typed in)? Answer with
    `on_vip_result`."""

    number: str
    account: str


@dataclass(frozen=True, slots=True)
class LookupCaller:
    """Ask the CRM about the caller by `by` (caller_num or account) = `key`; answer with
    `on_lookup_result`. `node` names the lookup node (the result is counted per node)."""

    by: str
    key: str
    node: str


@dataclass(frozen=True, slots=True)
class CallerInfo:
    """What the CRM said about a caller (empty text, None vip: not said)."""

    vip: bool | None = None
    language: str = ""
    queue: str = ""
    customer_name: str = ""
    account: str = ""
    reason: str = ""


LookupOutcome = Literal["hit", "miss", "cache", "timeout", "error", "skipped"]
LOOKUP_OUTCOMES: tuple[LookupOutcome, ...] = ("hit", "miss", "cache", "timeout", "error",
                                              "skipped")


@dataclass(frozen=True, slots=True)
class LookupResult:
    """`outcome`: hit / miss (the CRM answered), cache (from Redis; `info` None: a cached
    miss), timeout / error (the CRM was slow, down or answered garbage), skipped (nothing to
    look up by). `info` is None unless the caller was found."""

    outcome: LookupOutcome
    info: CallerInfo | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in ("timeout", "error")


@dataclass(frozen=True, slots=True)
class ToQueue:
    """Final: the IVR is over, queue the call."""

    queue: str
    priority: int
    skills: dict[str, int]
    language: str
    vip: bool
    reason: str = ""  # a configured call reason, or "" (the reason's skills are in `skills`)


@dataclass(frozen=True, slots=True)
class EndCall:
    """Final: play `prompt` (when not empty), then hang up. `reason` is "hangup" (the caller
    left), "no_input", "flow_loop", "step_limit", "flow_error", "agi_error", or the name of the
    hangup node."""

    reason: str
    prompt: str = ""


Command = Agi | LookupVip | LookupCaller | ToQueue | EndCall
Step = tuple[IvrState, list[Command]]


def merge_skills(*maps: dict[str, int]) -> dict[str, int]:
    """Union of required skills; the higher level wins."""
    out: dict[str, int] = {}
    for m in maps:
        for skill, level in m.items():
            out[skill] = max(level, out.get(skill, level))
    return out
