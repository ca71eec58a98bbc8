"""GET /api/v1/erlang: the Erlang C helper (acd.stats.erlang.staffing) over HTTP, so a
wallboard or a planning sheet can ask how a staffing would do, and how many agents a target
needs. Pure maths on the query: it reads no figures and changes nothing."""

from __future__ import annotations

import math

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acd.api.errors import bad_request, from_validation
from acd.api.handlers import json_ok
from acd.api.route import QueryParam
from acd.stats import erlang

MAX_LOAD_ERL = 10_000.0  # the staffing search is O(agents): keep one request cheap
MAX_AGENTS = 20_000

QUERY = (
    QueryParam("calls_per_hour", "arrival rate (required, 0-1000000; the load calls_per_hour x "
               "aht_s / 3600 at most 10000 Erlangs)", "600"),
    QueryParam("aht_s", "average handle time in seconds: talk + wrap-up (required, > 0)", "180"),
    QueryParam("agents", "a staffing to evaluate, 0-20000 (default: the fewest agents meeting "
               "the target)", "35"),
    QueryParam("target_pct", "service level target, % (default 80)", "80"),
    QueryParam("threshold_s", "its threshold, seconds (default 20)", "20"),
)


class ErlangQuery(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)  # other query keys (token) are ignored

    calls_per_hour: float = Field(ge=0, le=1_000_000)
    aht_s: float = Field(gt=0, le=86_400)
    agents: int | None = Field(None, ge=0, le=MAX_AGENTS)
    target_pct: float = Field(80.0, gt=0, le=100)
    threshold_s: int = Field(20, ge=0, le=3600)



class ErlangOut(BaseModel):
    """Erlang C (M/M/c, patient callers; METRICS.md) for one staffing."""

    model_config = ConfigDict(extra="forbid")

    calls_per_hour: float
    aht_s: float
    load_erl: float = Field(description="offered load: calls_per_hour x aht_s / 3600")
    agents: int = Field(description="the staffing evaluated (asked for, or agents_needed)")
    target_pct: float
    threshold_s: int
    service_level: float = Field(description="share 0..1 answered within threshold_s")
    asa_s: float | None = Field(description="average speed of answer; null when agents <= "
                                "load (the queue grows without bound)")
    p_wait: float = Field(description="probability that a caller waits at all")
    occupancy: float = Field(description="load / agents, at most 1")
    agents_needed: int = Field(description="the fewest agents meeting target_pct/threshold_s")


def _query(request: web.Request) -> ErlangQuery:
    try:
        q = ErlangQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        raise from_validation(exc) from None
    if q.calls_per_hour * q.aht_s / 3600 > MAX_LOAD_ERL:
        raise bad_request("calls_per_hour", f"calls_per_hour: with aht_s {q.aht_s:g}, the "
                          f"load calls_per_hour x aht_s / 3600 may not exceed "
                          f"{MAX_LOAD_ERL:g} Erlangs")
    return q


async def get_erlang(request: web.Request) -> web.Response:
    q = _query(request)
    s = erlang.staffing(q.calls_per_hour, q.aht_s, q.target_pct, q.threshold_s, q.agents)
    out = ErlangOut(calls_per_hour=s.calls_per_hour, aht_s=s.aht_s, load_erl=s.load_erl,
                    agents=s.agents, target_pct=s.target_pct, threshold_s=s.threshold_s,
                    service_level=s.service_level,
                    asa_s=s.asa_s if math.isfinite(s.asa_s) else None, p_wait=s.p_wait,
                    occupancy=s.occupancy, agents_needed=s.agents_needed)
    return json_ok(out.model_dump(mode="json"))
