"""`create_app(backend, http)`: the HTTP API, the Prometheus endpoint and the wallboard.

Every route is one row of `routes()`: registered here, enforced by the auth middleware and
described by the OpenAPI document from the same row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

from aiohttp import web

from acd.api import commands, erlang, handlers, reasons
from acd.api.agent_stream import PUSH, PushSource, agent_stream
from acd.api.auth import PRINCIPAL, AuthLimiter, TokenTable
from acd.api.backend import Backend, Publishing
from acd.api.call_models import TransferBody, TransferOut, WrapupBody, WrapupOut
from acd.api.conditional import BodyCache
from acd.api.errors import Handler, error_middleware
from acd.api.keys import BACKEND, HEARTBEAT_S, HTTP, OPENAPI, ROUTES, TOKENS
from acd.api.metrics import REGISTRY, TEXTS, SnapshotTexts, make_registry, metrics
from acd.api.models import (
    AgentsOut,
    CallsOut,
    EmptyBody,
    FunnelOut,
    HealthOut,
    HistoryOut,
    NotReadyBody,
    PriorityBody,
    QueuesOut,
    ReadinessOut,
    RecordingOut,
    RecordsOut,
    ReloadOut,
)
from acd.api.openapi import build_openapi
from acd.api.route import QueryParam, Route
from acd.api.stream import PARTS as STREAM_PARTS
from acd.api.stream import STREAMS, StreamHub, close_streams, hub_ctx, stream
from acd.config import HttpConfig
from acd.stats.reason_schema import ReasonHistoryOut, ReasonsOut, ReasonTrendsOut
from acd.stats.schema import AgentFigures, CallView, QueueFigures

V1 = "/api/v1"
PBX_QUERY = (QueryParam("pbx", "the figures of one PBX alone (default: every PBX of the "
                        "service, merged); 404 for a PBX not configured", "pbx1"),)
HISTORY_QUERY = (
    QueryParam("queue", "one queue (default: every queue)", "sales"),
    QueryParam("from", "ISO 8601 or epoch seconds (default: `to` - 24 h); a time without an "
               "offset is in the centre's time zone", "2025-01-31T08:00:00+01:00"),
    QueryParam("to", "ISO 8601 or epoch seconds (default: now); at most 31 days after `from`",
               "1738339200"),
)

RECORDS_QUERY = (
    QueryParam("from", "calls ended from (ISO 8601 or epoch seconds; default: `to` - 24 h)",
               "2025-01-31T08:00:00+01:00"),
    QueryParam("to", "calls ended before (default: now); at most 31 days after `from`",
               "1738339200"),
    QueryParam("format", "json (default) or csv", "csv"),
    QueryParam("limit", "at most this many records, oldest first (1-100000, default 10000)",
               "1000"),
)


def routes() -> list[Route]:
    agent_actions = [
        Route("POST", f"{V1}/agents/{{id}}/{action}", commands.agent_action(action),
              "supervisor", f"Agent action: {action.replace('_', ' ')}", AgentFigures,
              body=NotReadyBody if action == "not_ready" else EmptyBody,
              errors=(400, 404, 409), tag="actions")
        for action in ("login", "logout", "ready", "not_ready")
    ]
    wrap_and_transfer = [  # issue 9
        Route("POST", f"{V1}/agents/{{id}}/wrapup", commands.agent_wrapup, "supervisor",
              "Wrap-up codes of the agent's last call (and resolved yes/no)", WrapupOut,
              body=WrapupBody, errors=(400, 404, 409), tag="actions"),
        Route("POST", f"{V1}/calls/{{id}}/transfer", commands.call_transfer, "supervisor",
              "Transfer a connected call to a queue or an agent, blind or warm", TransferOut,
              body=TransferBody, errors=(400, 404, 409), tag="actions"),
        Route("POST", f"{V1}/calls/{{id}}/transfer/complete", commands.transfer_complete,
              "supervisor", "Complete the call's warm transfer", TransferOut, body=EmptyBody,
              errors=(400, 404, 409), tag="actions"),
        Route("POST", f"{V1}/calls/{{id}}/transfer/cancel", commands.transfer_cancel,
              "supervisor", "Cancel the call's warm transfer (back to its agent)",
              TransferOut, body=EmptyBody, errors=(400, 404, 409), tag="actions"),
        Route("POST", f"{V1}/calls/{{id}}/escalate", commands.call_escalate, "supervisor",
              "Escalate a connected call to the supervisors' queue", TransferOut,
              body=EmptyBody, errors=(400, 404, 409), tag="actions"),
    ]
    return [
        Route("GET", f"{V1}/queues", handlers.get_queues, "read",
              "Every queue and the centre total", QueuesOut, query=PBX_QUERY,
              errors=(404, 503)),
        Route("GET", f"{V1}/queues/{{name}}", handlers.get_queue, "read", "One queue",
              QueueFigures, query=PBX_QUERY, errors=(404, 503)),
        Route("GET", f"{V1}/agents", handlers.get_agents, "read", "Every agent", AgentsOut,
              query=PBX_QUERY, errors=(404, 503)),
        Route("GET", f"{V1}/calls", handlers.get_calls, "read",
              "Calls waiting, ringing or connected", CallsOut, query=PBX_QUERY,
              errors=(404, 503)),
        Route("GET", f"{V1}/ivr/funnel", handlers.get_funnel, "read",
              "The IVR funnel: how many callers reached each node and where they left",
              FunnelOut, query=PBX_QUERY, errors=(404, 503)),
        Route("GET", f"{V1}/history", handlers.get_history, "read",
              "15-minute intervals", HistoryOut, query=HISTORY_QUERY, errors=(400, 404)),
        Route("GET", f"{V1}/reasons", reasons.get_reasons, "read",
              "Live calls and today's figures per call reason", ReasonsOut, errors=(503,)),
        Route("GET", f"{V1}/reasons/history", reasons.get_reason_history, "read",
              "Figures per call reason per 15-minute interval or per day", ReasonHistoryOut,
              query=reasons.HISTORY_QUERY, errors=(400, 404)),
        Route("GET", f"{V1}/reasons/trends", reasons.get_reason_trends, "read",
              "This week against last week per call reason: the reasons that grew most "
              "first", ReasonTrendsOut),
        Route("GET", f"{V1}/records", handlers.get_records, "read",
              "Call records: one per ended call (needs [integrations.records]); "
              "`format=csv` gives text/csv with a header row instead", RecordsOut,
              query=RECORDS_QUERY, errors=(400, 404)),
        Route("GET", f"{V1}/agents/{{id}}/stream", agent_stream, "read",
              "Server-Sent Events for one agent's desktop: `event: pop` with the screen-pop "
              "payload when a call rings the agent and when it is answered (needs "
              "[integrations] agent_push); an agent token: its own agent only",
              media_type="text/event-stream", errors=(404,), token_in_query=True,
              agent_scope="path"),
        Route("GET", f"{V1}/stream", stream, "read",
              "Server-Sent Events: `event: snapshot` with a Snapshot as JSON data on each new "
              "snapshot (the current one first), a `: heartbeat` comment every 15 s",
              media_type="text/event-stream", token_in_query=True, errors=(400,),
              query=(QueryParam("parts", "only these parts of each snapshot, comma-separated "
                                f"({', '.join(STREAM_PARTS)}); generated_at, timezone and "
                                "pbxs always come (default: everything)",
                                "centre,queues,agents"),)),
        *agent_actions,
        *wrap_and_transfer,
        Route("POST", f"{V1}/calls/{{id}}/priority", commands.call_priority, "supervisor",
              "Change a waiting call's priority", CallView, body=PriorityBody,
              errors=(400, 404, 409), tag="actions"),
        *[Route("POST", f"{V1}/calls/{{id}}/recording/{verb}", commands.call_recording(pause),
                "supervisor", f"{verb.capitalize()} a connected call's recording "
                "(MixMonitorMute); an agent token: its own call only", RecordingOut,
                body=EmptyBody, errors=(400, 404, 409, 502), tag="actions", agent_scope="call")
          for verb, pause in (("pause", True), ("resume", False))],
        Route("POST", f"{V1}/config/reload", commands.config_reload, "admin",
              "Re-read the config file (a bad one is refused and the running one kept)",
              ReloadOut, body=EmptyBody, errors=(400,), tag="actions"),
        Route("GET", f"{V1}/erlang", erlang.get_erlang, "read",
              "Erlang C: service level, ASA and occupancy of a staffing, and the agents "
              "needed for a target", erlang.ErlangOut, query=erlang.QUERY, errors=(400,),
              tag="planning"),
        Route("GET", f"{V1}/openapi.json", handlers.openapi, "read",
              "This document", media_type="application/json", tag="meta"),
        Route("GET", "/metrics", metrics, "read", "Prometheus text format",
              media_type="text/plain", tag="meta"),
        Route("GET", "/healthz", handlers.healthz, "open", "The process is up", HealthOut,
              tag="meta"),
        Route("GET", "/readyz", handlers.readyz, "open",
              "Ready to serve (AMI and Redis up); 503 says what is missing", ReadinessOut,
              errors=(503,), tag="meta"),
        Route("GET", "/", handlers.wallboard, "read", "The wallboard page",
              media_type="text/html", token_in_query=True, tag="wallboard"),
        Route("GET", "/static/{name}", handlers.static_asset, "open",
              "Wallboard assets (code and style, no figures)", media_type="text/plain",
              errors=(404,), tag="wallboard"),
    ]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    match = request.match_info
    if match.http_exception is not None:
        raise match.http_exception
    method = "GET" if request.method == "HEAD" else request.method
    route = request.app[ROUTES].get((method, match.route.resource.canonical)) \
        if match.route.resource is not None else None
    if route is None:  # not in the table: nothing is served without a row
        raise web.HTTPNotFound()
    request[PRINCIPAL] = request.app[TOKENS].authorize(request, route.access,
                                                       route.token_in_query, route.agent_scope)
    return await handler(request)


async def _common_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # the wallboard URL may carry ?token=: never send it on as a Referer
    response.headers.setdefault("Referrer-Policy", "no-referrer")


SAFE_METHODS = frozenset({"GET", "HEAD"})


def check_table(table: list[Route]) -> None:
    """A route that changes anything (any method but GET) needs supervisor or admin: a new
    mutating row with read or open access is a programming error, refused at start."""
    for route in table:
        if route.method not in SAFE_METHODS and route.access not in ("supervisor", "admin"):
            raise ValueError(f"{route.method} {route.path}: a mutating route needs supervisor "
                             f"or admin access, not {route.access}")


async def _bodies_made_ahead(app: web.Application) -> AsyncIterator[None]:
    """The figures bodies pollers read, and the events the streams push, are made before
    each snapshot is published (conditional.py, stream.py), while the app runs."""
    hooks = cast(Publishing, app[BACKEND]).before_publish
    mine = [app[handlers.BODIES].prepare, app[STREAMS].prepare]
    hooks += mine
    yield
    for hook in mine:
        hooks.remove(hook)


def create_app(backend: Backend, http: HttpConfig, *, heartbeat_s: float = 15.0,
               auth_limiter: AuthLimiter | None = None,
               records: handlers.RecordsSource | None = None,
               push: PushSource | None = None) -> web.Application:
    """`auth_limiter`: the failed-authentication limit (default 10 per address in 60 s);
    `records`: where GET /api/v1/records reads (None: call records are not kept);
    `push`: the agents' screen pops (None: no agent push channel)."""
    app = web.Application(middlewares=[error_middleware, auth_middleware],
                          client_max_size=64 * 1024)
    table = routes()
    check_table(table)
    app[BACKEND] = backend
    app[handlers.RECORDS] = records
    app[PUSH] = push
    app[HTTP] = http
    app[TOKENS] = TokenTable(http, auth_limiter)
    app[HEARTBEAT_S] = heartbeat_s
    app[ROUTES] = {(r.method, r.path): r for r in table}
    app[OPENAPI] = build_openapi(table, http)
    app[STREAMS] = StreamHub()
    app[handlers.BODIES] = BodyCache()
    app[REGISTRY] = make_registry()
    app[TEXTS] = SnapshotTexts()
    for route in table:
        app.router.add_route(route.method, route.path, route.handler)
    app.cleanup_ctx.append(hub_ctx)
    if isinstance(backend, Publishing):
        app.cleanup_ctx.append(_bodies_made_ahead)
    app.on_shutdown.append(close_streams)
    app.on_response_prepare.append(_common_headers)
    return app
