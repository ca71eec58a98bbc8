"""Domain events: past-tense facts the engine reacts to (from AMI, timers or the API)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AgiSessionStarted:
    channel: str
    uniqueid: str
    caller_num: str
    caller_name: str
    dnis: str
    context: str
    language: str


@dataclass(frozen=True, slots=True)
class AgiCommandDone:
    channel: str
    uniqueid: str
    command_id: str
    result: str  # URL-decoded, e.g. "200 result=1234"


@dataclass(frozen=True, slots=True)
class AgiSessionEnded:
    channel: str
    uniqueid: str


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    channel: str
    uniqueid: str
    cause: int


@dataclass(frozen=True, slots=True)
class ChannelBridged:
    channel: str
    uniqueid: str
    bridge_id: str


@dataclass(frozen=True, slots=True)
class OriginateFailed:
    uniqueid: str  # the ChannelId we gave
    reason: int  # 0 no such peer / hung up, 3 no answer, 5 busy, 8 congestion


@dataclass(frozen=True, slots=True)
class AgentFeatureUsed:
    action: str  # login | pause | unpause | logout; issue 9: wrapup, transfer, consult, ...
    extension: str
    reason: str
    digits: str = ""  # keyed after the code: a wrap-up code, a transfer target
    resolved: str = ""  # wrapup: 1 resolved, 2 not resolved, "" not said


@dataclass(frozen=True, slots=True)
class WrapupEnded:
    agent_id: str


@dataclass(frozen=True, slots=True)
class MaxWaitReached:
    call_id: str


@dataclass(frozen=True, slots=True)
class PolicyDue:
    """A waiting call reached a moment where its routing policies change (an expansion step,
    the end of a VIP-expert or last-agent window): route it again."""

    call_id: str


@dataclass(frozen=True, slots=True)
class RingOverdue:
    call_id: str
    leg_id: str


@dataclass(frozen=True, slots=True)
class PolicyTick:
    """Time to look at the waiting callers again (acd/service/flow: admission while waiting,
    announcements, callback offers)."""


@dataclass(frozen=True, slots=True)
class SurveyAnswered:
    """UserEvent AcdSurvey from acd-after: one answer of the post-call survey."""

    call_id: str
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """UserEvent AcdCallback (Action: request) from acd-offer: the caller took the offer."""

    call_id: str


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """UserEvent AcdCallback (Action: result) from acd-callback: the customer was not reached."""

    call_id: str
    leg_id: str  # Uniqueid of the agent leg that raised it
    status: str  # ${DIALSTATUS}


@dataclass(frozen=True, slots=True)
class CallbackDue:
    """A scheduled callback's retry time came."""

    call_id: str


@dataclass(frozen=True, slots=True)
class ConsultOverdue:
    """The agent consulted in a warm transfer did not answer in time (issue 9)."""

    call_id: str
    leg_id: str


@dataclass(frozen=True, slots=True)
class StoreChanged:
    """A state change read back from the store's event stream (made by any instance)."""

    fields: dict[str, str]


DomainEvent = (
    AgiSessionStarted | AgiCommandDone | AgiSessionEnded | ChannelHungUp | ChannelBridged
    | OriginateFailed | AgentFeatureUsed | WrapupEnded | MaxWaitReached | RingOverdue
    | PolicyDue | StoreChanged | PolicyTick | SurveyAnswered | CallbackRequested
    | CallbackResult | CallbackDue | ConsultOverdue
)
