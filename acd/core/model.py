"""Domain model: calls, agents and their states. Pure data, no I/O.

Times are float Unix seconds passed in by the caller (never read from a clock here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class CallState(StrEnum):
    IVR = "ivr"  # in AsyncAGI, the IVR flow runs
    WAITING = "waiting"  # in the hold loop, queued
    RINGING = "ringing"  # claimed, the agent leg is being originated / rings
    CONNECTED = "connected"  # bridged with the agent
    SCHEDULED = "scheduled"  # a callback between attempts: back in its queue at retry_at
    ENDED = "ended"


class CallOutcome(StrEnum):
    ANSWERED = "answered"  # an agent answered (the call may still be connected)
    ABANDONED = "abandoned"  # hung up while waiting in a queue
    IVR_HANGUP = "ivr_hangup"  # hung up in the IVR, never queued
    CLOSED = "closed"  # IVR ended the call (closed hours, goodbye)
    TIMEOUT = "timeout"  # max wait reached, sent to the fallback
    FALLBACK = "fallback"  # handed to Asterisk's own Queue()
    LOST = "lost"  # the channel vanished while the service could not see it
    VOICEMAIL = "voicemail"  # refused by the queue's admission: sent to a mailbox
    CALLBACK_FAILED = "callback_failed"  # the customer never answered its callback


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"  # claimed for a call, phone ringing
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    NOT_READY = "not_ready"


PRIORITY_NORMAL = 0
PRIORITY_VIP = 10


@dataclass(slots=True)
class Call:
    id: str
    channel: str  # the caller's channel name, e.g. PJSIP/trunk-00000012
    uniqueid: str
    caller_num: str
    dnis: str  # the dialled number that chose the IVR flow
    pbx: str = "default"
    state: CallState = CallState.IVR
    arrived_at: float = 0.0
    queue: str = ""
    priority: int = PRIORITY_NORMAL
    required: dict[str, int] = field(default_factory=dict)  # skill -> minimum level
    entered_at: float | None = None  # queue entry: the wait counts from here
    vip: bool = False
    language: str = ""
    account: str = ""
    flow: str = ""  # the IVR flow that ran
    ivr_path: list[str] = field(default_factory=list)
    agent_id: str = ""
    leg_id: str = ""  # Uniqueid (= Originate ChannelId) of the agent leg
    answered_at: float | None = None
    ended_at: float | None = None
    outcome: CallOutcome | None = None
    rona_count: int = 0
    last_agent: str = ""  # who took this caller's previous call (last-agent routing)
    # integrations (issue 8): what a CRM lookup found, and the recording of the conversation
    customer_name: str = ""
    crm_reason: str = ""
    recording_file: str = ""  # as given to MixMonitor (with its extension)
    recording_pauses: list[list[float]] = field(default_factory=list)  # [start, end]; an open
    # pause has only its start
    # Caller-facing policies (acd/service/flow): the EWT predicted at the last queue entry (and
    # when), for the accuracy figures; the queues the call overflowed from, in order.
    ewt_pred_s: float | None = None
    ewt_pred_at: float | None = None
    overflow_path: list[str] = field(default_factory=list)
    survey: dict[str, int] = field(default_factory=dict)  # post-call answers: csat, nps
    # A callback (the caller left the line and keeps its place): the number to call back, when
    # it was asked for, the customer attempts that failed so far, the next attempt's time.
    callback: str = ""
    callback_at: float | None = None
    cb_attempts: int = 0
    retry_at: float | None = None
    # issue 9: what the caller needs, what happened after the first answer
    reason: str = ""  # the call reason (a name of [reasons.NAME]; "" when none was given)
    leg_channel: str = ""  # channel name of the agent leg (a Bridge() target needs a name)
    first_answered_at: float | None = None  # the first answer (answered_at: the latest)
    transfers: list[dict[str, object]] = field(default_factory=list)  # history, oldest first
    wrapups: list[dict[str, object]] = field(default_factory=list)  # each agent's codes
    consult_agent: str = ""  # warm transfer in progress: the agent consulted
    consult_leg: str = ""  # ... its leg (Originate ChannelId)
    consult_queue: str = ""  # ... the queue the call goes to on completion ("": its own)
    consult_channel: str = ""  # ... the leg's channel name, once it answered

    def wait_s(self, now: float) -> float:
        if self.entered_at is None:
            return 0.0
        end = self.answered_at if self.answered_at is not None else now
        return max(0.0, end - self.entered_at)


@dataclass(slots=True)
class Agent:
    id: str
    interface: str  # dial string, e.g. PJSIP/1001
    skills: dict[str, int] = field(default_factory=dict)  # skill -> level 1..5
    queues: tuple[str, ...] = ()  # queues this agent serves (empty: every queue it is skilled for)
    name: str = ""
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""  # not-ready reason
    state_since: float = 0.0
    ready_since: float = 0.0  # idle since; the longest idle is preferred
    call_id: str = ""
    leg_id: str = ""
    calls_handled: int = 0
    last_queue: str = ""  # the queue of its last answered call (its wrap-up is charged there)
    wrap_call: str = ""  # in wrap-up: the call it wraps up
    wrap_codes: list[str] = field(default_factory=list)  # codes given so far in this wrap-up
    wrap_resolved: bool | None = None  # "resolved?" as the agent answered (None: not said)
