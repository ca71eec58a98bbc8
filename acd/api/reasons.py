"""Read routes of the figures by call reason (issue 9): live + today, history per interval or
per day, and the trends of the week."""

from __future__ import annotations

import re

from aiohttp import web

from acd.api.conditional import respond
from acd.api.errors import ApiError, bad_request
from acd.api.handlers import cached_body, json_ok, time_span
from acd.api.keys import BACKEND
from acd.api.route import QueryParam
from acd.stats.reason_schema import HistoryStep

_REASON = re.compile(r"^([A-Za-z0-9_.-]{1,64}|\(none\))$")

HISTORY_QUERY = (
    QueryParam("reason", "one reason, or (none) for calls without one (default: every "
               "reason)", "refund"),
    QueryParam("step", "interval (15 minutes, the default) or day (local days)", "day"),
    QueryParam("from", "ISO 8601 or epoch seconds (default: `to` - 24 h); a time without an "
               "offset is in the centre's time zone", "2025-01-31T08:00:00+01:00"),
    QueryParam("to", "ISO 8601 or epoch seconds (default: now); at most 31 days after `from`",
               "1738339200"),
)


async def get_reasons(request: web.Request) -> web.Response:
    out = request.app[BACKEND].reasons()
    if not out:
        raise ApiError(503, "not_ready", "no figures yet: the service is starting")
    # made with each snapshot: conditional and compressed like the figures (the wallboard
    # polls it, and its browser revalidates by itself)
    return await respond(request, cached_body(request, "reasons", out))


async def get_reason_history(request: web.Request) -> web.Response:
    query = request.query
    reason = query.get("reason") or None
    if reason is not None and not _REASON.match(reason):
        raise bad_request("reason", "reason: letters, digits, '_', '.', '-' only (1-64), or "
                          "(none)")
    raw_step = query.get("step", "interval")
    if raw_step not in ("interval", "day"):
        raise bad_request("step", "step: interval or day")
    step: HistoryStep = "day" if raw_step == "day" else "interval"
    start, end = time_span(request)
    rows = await request.app[BACKEND].reason_history(reason, start, end, step)
    return json_ok({"reason": reason, "step": step, "start": start, "end": end, "rows": rows})


async def get_reason_trends(request: web.Request) -> web.Response:
    return json_ok(await request.app[BACKEND].reason_trends())
