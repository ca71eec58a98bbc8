"""Request bodies and response envelopes of the HTTP API (the figures themselves are the
models of acd/stats/schema.py). The OpenAPI document is generated from these classes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from acd.stats.schema import AgentFigures, CallView, FunnelNode, HistoryInterval, QueueFigures


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- responses ---

class ErrorOut(_Model):
    code: str = Field(description="stable, machine-readable: not_found, bad_request, "
                      "unauthorized, forbidden, method_not_allowed, not_ready, unknown_agent, ...")
    message: str
    field: str | None = Field(None, description="the bad input (bad_request only)")


class QueuesOut(_Model):
    generated_at: float
    centre: QueueFigures = Field(description="all queues together (name '*')")
    queues: list[QueueFigures]


class AgentsOut(_Model):
    generated_at: float
    agents: list[AgentFigures]


class CallsOut(_Model):
    generated_at: float
    calls: list[CallView] = Field(description="calls waiting, ringing or connected")


class FunnelOut(_Model):
    generated_at: float
    ivr_funnel: dict[str, dict[str, FunnelNode]] = Field(
        description="flow -> node -> callers who reached it and where they left, since local "
                    "midnight")


class HistoryOut(_Model):
    queue: str | None = Field(description="null: every queue")
    start: float = Field(description="epoch seconds (inclusive)")
    end: float = Field(description="epoch seconds (exclusive)")
    intervals: list[HistoryInterval] = Field(description="15-minute intervals")


class RingOut(_Model):
    agent: str
    leg_id: str
    start: float = Field(description="epoch seconds: the agent's phone started ringing")
    end: float = Field(description="epoch seconds: the ring ended")
    result: str = Field(description="answered, rona, agent_unreachable, canceled (the caller "
                        "hung up), ...")


class TransferEntryOut(BaseModel):
    """One transfer of a call (issue 9)."""

    model_config = ConfigDict(extra="allow")

    at: float | None = None
    kind: str = Field("", description="blind, warm or escalation")
    from_queue: str = ""
    to_queue: str = ""
    from_agent: str = ""
    to_agent: str = Field("", description="empty: to a queue")


class WrapupEntryOut(BaseModel):
    """One agent's wrap-up of a call (issue 9)."""

    model_config = ConfigDict(extra="allow")

    agent: str = ""
    codes: list[str] = Field(default_factory=list)
    resolved: bool | None = None
    final: bool = Field(False, description="the agent who ended the call (not a transfer)")
    ended_at: float | None = None
    wrapup_s: float | None = None


class CallRecordOut(BaseModel):
    """One ended call (acd/integrations/records.py). Times are epoch seconds."""

    model_config = ConfigDict(extra="allow")

    call_id: str
    pbx: str
    uniqueid: str | None = None
    caller_num: str | None = None
    dnis: str | None = None
    flow: str | None = None
    ivr_path: list[str] = Field(default_factory=list, description="IVR nodes, in order")
    language: str | None = None
    account: str | None = None
    vip: bool | None = None
    queue: str = Field(description="empty: never queued")
    priority: int | None = None
    agent_id: str = Field(description="the agent who answered (empty: none)")
    outcome: str = Field(description="answered, abandoned, ivr_hangup, closed, timeout, "
                         "fallback, lost")
    arrived_at: float | None = None
    queued_at: float | None = None
    rings: list[RingOut] = Field(default_factory=list, description="each agent rung, in order")
    rona_count: int | None = None
    answered_at: float | None = None
    ended_at: float
    wait_s: float | None = Field(None, description="queue entry to answer (or to the end)")
    talk_s: float | None = None
    wrapup_s: float | None = Field(None, description="not known yet: null")
    recording_url: str | None = Field(None, description="empty for now")
    survey_score: str | None = Field(None, description="empty for now")
    wrapup_start: float | None = Field(None, description="the last agent's wrap-up began")
    wrapup_end: float | None = Field(None, description="... and ended")
    reason: str | None = Field(None, description="the call reason (empty: none given)")
    first_answered_at: float | None = Field(None, description="the first answer (a "
                                            "transferred call is answered again later)")
    transfers: list[TransferEntryOut] = Field(default_factory=list, description="the "
                                              "call's transfers, oldest first")
    wrapups: list[WrapupEntryOut] = Field(default_factory=list, description="every agent's "
                                          "wrap-up of the call")
    wrapup_codes: list[str] | None = Field(None, description="the codes of the agent who "
                                           "ended the call (`none`: no code given)")
    resolved: bool | None = Field(None, description="resolved, as that agent said (null: "
                                  "not said)")


class RecordsOut(_Model):
    start: float = Field(description="epoch seconds (inclusive)")
    end: float = Field(description="epoch seconds (exclusive)")
    records: list[CallRecordOut] = Field(description="calls ended in [start, end), oldest "
                                         "first")
    truncated: bool = Field(description="more records matched than `limit`")


class HealthOut(_Model):
    status: str


class ReadinessOut(_Model):
    ready: bool
    ami: bool
    redis: bool
    reason: str = Field(description="empty when ready; else what is missing")


class ReloadOut(BaseModel):
    """What the service reports after re-reading its config (free-form)."""

    model_config = ConfigDict(extra="allow")


# --- request bodies ---

class RecordingOut(_Model):
    call_id: str
    recording_file: str = Field(description="the file MixMonitor writes (in Asterisk's "
                                "monitor directory unless absolute)")
    paused: bool
    pauses: list[list[float]] = Field(description="[start, end] of each pause (epoch "
                                      "seconds); an open pause has only its start")


class EmptyBody(_Model):
    """No body, `{}` or nothing at all."""


class NotReadyBody(_Model):
    reason: str = Field("", max_length=64, description="the not-ready reason code")


class PriorityBody(_Model):
    priority: StrictInt = Field(ge=0, le=99, description="higher is answered sooner")
