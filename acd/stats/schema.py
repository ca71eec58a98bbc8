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


class WindowFigures(_Out):
    offered: int
    answered: int
    answered_within: int = Field(description="answered within the queue's main threshold")
    abandoned: int
    short_abandoned: int
    timed_out: int
    overflowed: int
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
    longest_wait_s: float
    ewt_s: float | None = Field(description="estimated wait for the next caller")
    agents: AgentCountsView
    target_pct: float
    threshold_s: int
    windows: dict[WindowName, WindowFigures]
    occupancy: float | None = Field(description="today, of the agents serving this queue")


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
