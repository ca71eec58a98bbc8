"""The shape of the live figures: what the API serves, the wallboard shows and Prometheus exports.

pydantic models, so the OpenAPI document is generated from the same classes the figures are
built with (it cannot drift from the handlers). Definitions of every figure: METRICS.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WindowName = Literal["15m", "60m", "today"]
WINDOWS: tuple[WindowName, ...] = ("15m", "60m", "today")


class _Out(BaseModel):
    # Output models: every field is always serialized, so the (serialization) schema lists the
    # fields that have a default as required too.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class ServiceLevel(_Out):
    value: float | None = Field(description="share 0..1; null when nothing to count yet")
    threshold_s: int
    target: float = Field(description="target share 0..1, e.g. 0.8 for 80/20")
    formula: str = Field(description="which METRICS.md formula gave `value`")
    by_threshold: dict[str, float | None] = Field(
        default_factory=dict, description="value at every configured threshold (seconds -> share)")


class EwtAccuracy(_Out):
    """How close the EWT predicted at queue entry came to the actual wait of answered calls."""

    answered: int = Field(0, description="answered calls that had an estimate")
    mean_abs_error_s: float | None = Field(None, description="mean |predicted - actual|")
    mean_error_s: float | None = Field(None, description="mean predicted - actual (> 0: "
                                       "waits over-estimated)")
    within_30s: float | None = Field(None, description="share with |error| <= 30 s")
    within_25pct: float | None = Field(None, description="share with |error| <= 25 % of the "
                                       "actual wait")


class SurveyFigures(_Out):
    """Post-call survey answers (METRICS.md: CSAT index and NPS)."""

    csat_answers: int = 0
    csat_index: float | None = Field(None, description="mean of the CSAT answers mapped onto "
                                     "0..100 (1 -> 0, 2 -> 25, ..., 5 -> 100)")
    nps_answers: int = 0
    nps: float | None = Field(None, description="% promoters (9-10) - % detractors (0-6), "
                              "-100..100")
    promoters: int = 0
    detractors: int = 0


class CallbackFigures(_Out):
    """Callbacks that keep their place (METRICS.md: a completed one is also answered, with its
    virtual wait)."""

    requested: int = 0
    answered: int = Field(0, description="the customer answered the agent's call")
    failed: int = Field(0, description="never answered after every attempt")


class WindowFigures(_Out):
    offered: int
    answered: int
    answered_within: int = Field(description="answered within the queue's main threshold")
    abandoned: int
    short_abandoned: int
    timed_out: int
    overflowed: int = Field(description="left for another queue (admission overflow)")
    voicemail: int = Field(0, description="refused by admission: sent to voicemail")
    closed: int = Field(0, description="refused by admission: closed message")
    service_level: ServiceLevel
    asa_s: float | None
    abandon_rate: float | None
    aht_s: float | None = Field(description="(talk + wrap-up) / handled")
    handled: int
    repeats: int = Field(description="answered calls whose caller called again within "
                         "repeat_window_h (counted when the repeat arrives)")
    repeat_rate: float | None = Field(description="repeats / answered")
    fcr_proxy: float | None = Field(description="first-contact resolution proxy: 1 - "
                                    "repeat_rate")
    ewt_accuracy: EwtAccuracy = Field(default_factory=EwtAccuracy)
    survey: SurveyFigures = Field(default_factory=SurveyFigures)
    callbacks: CallbackFigures = Field(default_factory=CallbackFigures)
    transferred: int = Field(0, description="conversations that ended in a transfer out of "
                             "this queue (by reason: calls transferred at least once)")
    transfers_in: int = Field(0, description="calls transferred to this queue: never offered "
                              "a second time, so the centre counts each call once")
    transfer_rate: float | None = Field(None, description="transferred / conversations "
                                        "answered here (answered + transferred-in answered)")


class AgentCountsView(_Out):
    logged_in: int
    ready: int
    reserved: int
    on_call: int
    wrap_up: int
    not_ready: int


class QueueFigures(_Out):
    name: str
    waiting: int
    callbacks_waiting: int = Field(0, description="of the waiting calls (or between two "
                                   "attempts): callbacks, with no caller on the line")
    longest_wait_s: float
    ewt_s: float | None = Field(description="estimated wait for the next caller")
    agents: AgentCountsView
    target_pct: float
    threshold_s: int
    windows: dict[WindowName, WindowFigures]
    occupancy: float | None = Field(description="today, of the agents serving this queue")
    objective_offset_s: float = Field(0.0, description="service-objective routing: seconds "
                                      "added to this queue's waits when agents who serve "
                                      "several queues choose (positive: behind its target)")
    agents_needed_now: int | None = Field(
        None, description="Erlang C: agents meeting the queue's SL target at the last 60 min's "
        "arrival rate and AHT (null: no AHT yet, and for the centre); see stats/staffing.py")
    agents_short_now: int | None = Field(
        None, description="agents_needed_now minus the logged-in agents able to take the "
        "queue (negative: spare agents)")


class AgentFigures(_Out):
    id: str
    pbx: str = Field("", description="the PBX the agent's phone is on")
    name: str
    interface: str
    state: str
    reason: str
    time_in_state_s: float
    call_id: str
    queues: list[str] = Field(description="queues this agent can serve")
    calls_handled_today: int
    talk_s_today: float
    wrapup_s_today: float
    occupancy_today: float | None
    repeats_today: int = Field(description="of its answered calls, those repeated soon")
    fcr_proxy_today: float | None = Field(description="1 - repeats / calls handled")
    survey: dict[WindowName, SurveyFigures] = Field(
        default_factory=dict, description="post-call survey answers about the agent's calls, "
        "by window")


class CallView(_Out):
    id: str = Field(description="the caller's Uniqueid: unique on its PBX (PBXs with distinct "
                    "`systemname` never share one)")
    pbx: str = Field("", description="the PBX the call came in on")
    state: str
    queue: str
    priority: int
    vip: bool
    caller_num: str
    language: str
    wait_s: float
    agent_id: str
    position: int | None = Field(description="1-based place among waiting calls of its queue")
    reason: str = Field("", description="the call reason (empty: none given)")
    transfers: int = Field(0, description="transfers of this call so far")


class FunnelNode(_Out):
    reached: int
    left: dict[str, int] = Field(description="exit (queue, hangup, closed, fallback) -> callers")
    lookups: dict[str, int] = Field(default_factory=dict, description="a lookup node's CRM "
                                    "lookups by outcome (hit, miss, cache, timeout, error, "
                                    "skipped)")


class Snapshot(_Out):
    generated_at: float
    timezone: str
    pbxs: list[str] = Field(default_factory=list, description="the PBXs these figures cover "
                            "(every PBX of the service, or the one asked for with ?pbx=)")
    centre: QueueFigures = Field(description="all queues together (name '*')")
    queues: list[QueueFigures]
    agents: list[AgentFigures]
    calls: list[CallView]
    ivr_funnel: dict[str, dict[str, FunnelNode]] = Field(
        description="flow -> node -> counts, since local midnight")


class HistoryInterval(_Out):
    queue: str
    start: float
    end: float
    figures: WindowFigures
