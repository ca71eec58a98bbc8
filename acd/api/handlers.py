"""Read-only routes: figures from the latest snapshot, history, health, the wallboard files."""

from __future__ import annotations

import json
import math
import re
import time
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from acd.api.conditional import BodyCache, Encoded, respond
from acd.api.errors import ApiError, bad_request
from acd.api.keys import BACKEND, OPENAPI
from acd.stats import jsonparts

STATIC_DIR = Path(__file__).with_name("static")
MAX_HISTORY_S = 31 * 86400
DEFAULT_HISTORY_S = 86400
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TRAILING_OFFSET = re.compile(r" (\d\d(:?\d\d)?)$")  # a '+hh:mm' that arrived as ' hh:mm'


def json_ok(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data, separators=(",", ":")),
                        content_type="application/json", headers={"Cache-Control": "no-store"})


@runtime_checkable
class PerPbx(Protocol):
    """A backend attached to several PBXs (acd/service/backend.py) keeps their figures apart
    too: None for a PBX it does not know."""

    def pbx_snapshot(self, pbx: str) -> dict[str, Any] | None: ...


def current(request: web.Request) -> dict[str, Any]:
    """The latest snapshot: every PBX merged, or with `?pbx=NAME` that PBX's alone."""
    backend = request.app[BACKEND]
    pbx = request.query.get("pbx") or None
    snap = backend.snapshot()
    if pbx is not None:
        if isinstance(backend, PerPbx):
            one = backend.pbx_snapshot(pbx)
        else:  # a backend of one PBX: the merged figures are that PBX's
            one = snap if snap.get("pbxs") == [pbx] else None
        if one is None:
            raise ApiError(404, "not_found", f"no PBX named {pbx!r}")
        snap = one
    if not snap or "queues" not in snap:
        raise ApiError(503, "not_ready", "no figures yet: the service is starting")
    return snap


# Encoded bodies of the read routes, per snapshot and part: a thousand pollers of one snapshot
# cost one encoding (and one gzip), not a thousand; a poller that has it gets a 304.
BODIES = web.AppKey("bodies", BodyCache)


def cached_body(request: web.Request, key: str, source: object) -> Encoded:
    """`source` encoded as JSON, once per source object."""
    return request.app[BODIES].get(key, source, _json_body)


def _json_body(source: object) -> bytes:
    return json.dumps(source, separators=(",", ":")).encode()


async def snapshot_part(request: web.Request, *keys: str) -> web.Response:
    snap = current(request)
    key = ",".join(keys) + "?pbx=" + (request.query.get("pbx") or "")
    parts = ("generated_at", *keys)
    body = request.app[BODIES].get(  # (from the snapshot's own JSON fragments: no encoding)
        key, snap, lambda source: jsonparts.body(source, parts))
    return await respond(request, body)


async def get_queues(request: web.Request) -> web.Response:
    return await snapshot_part(request, "centre", "queues")


async def get_queue(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    for queue in current(request)["queues"]:
        if queue["name"] == name:
            return json_ok(queue)
    raise ApiError(404, "not_found", f"no queue named {name!r}")


async def get_agents(request: web.Request) -> web.Response:
    return await snapshot_part(request, "agents")


async def get_calls(request: web.Request) -> web.Response:
    return await snapshot_part(request, "calls")


async def get_funnel(request: web.Request) -> web.Response:
    return await snapshot_part(request, "ivr_funnel")


def parse_instant(field: str, raw: str, tz: tzinfo) -> float:
    """Epoch seconds, or ISO 8601 (a time without an offset is in the centre's time zone)."""
    raw = raw.strip()
    if not raw:
        raise bad_request(field, f"{field}: empty")
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        if not math.isfinite(value) or value < 0:
            raise bad_request(field, f"{field}: epoch seconds must be finite and >= 0")
        return value
    try:
        moment = datetime.fromisoformat(_TRAILING_OFFSET.sub(r"+\1", raw))
    except ValueError:
        raise bad_request(field, f"{field}: not ISO 8601 nor epoch seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def _centre_tz(request: web.Request) -> tzinfo:
    name = request.app[BACKEND].snapshot().get("timezone") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def time_span(request: web.Request) -> tuple[float, float]:
    """`from` / `to` of the query (ISO 8601 or epoch seconds; default: the last 24 h),
    checked: from before to, at most MAX_HISTORY_S apart."""
    query = request.query
    tz = _centre_tz(request)
    end = parse_instant("to", query["to"], tz) if "to" in query else time.time()
    start = parse_instant("from", query["from"], tz) if "from" in query \
        else end - DEFAULT_HISTORY_S
    if start >= end:
        raise bad_request("from", "from: must be before to")
    if end - start > MAX_HISTORY_S:
        raise bad_request("to", f"to: the span may not exceed {MAX_HISTORY_S // 86400} days")
    return start, end


async def get_history(request: web.Request) -> web.Response:
    query = request.query
    queue = query.get("queue") or None
    if queue is not None and not _QUEUE_NAME.match(queue):
        raise bad_request("queue", "queue: letters, digits, '_', '.', '-' only (1-64)")
    start, end = time_span(request)
    intervals = await request.app[BACKEND].history(queue, start, end)
    return json_ok({"queue": queue, "start": start, "end": end, "intervals": intervals})


# --- call records (acd/integrations/records.py) -------------------------------------------

class RecordsSource(Protocol):
    async def call_records(self, start: float, end: float,
                           limit: int) -> list[dict[str, Any]]: ...


RECORDS = web.AppKey[RecordsSource | None]("records")
MAX_RECORDS = 100_000
DEFAULT_RECORDS = 10_000


def _records_query(request: web.Request) -> tuple[float, float, Literal["json", "csv"], int]:
    query = request.query
    fmt = query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise bad_request("format", "format: json or csv")
    raw_limit = query.get("limit", str(DEFAULT_RECORDS))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_RECORDS:
        raise bad_request("limit", f"limit: a whole number from 1 to {MAX_RECORDS}")
    start, end = time_span(request)
    return start, end, "csv" if fmt == "csv" else "json", int(raw_limit)


async def get_records(request: web.Request) -> web.Response:
    start, end, fmt, limit = _records_query(request)
    source = request.app.get(RECORDS)
    if source is None:
        raise ApiError(404, "not_found", "call records are not kept: configure "
                       "[integrations.records]")
    found = await source.call_records(start, end, limit + 1)
    truncated = len(found) > limit
    found = found[:limit]
    if fmt == "csv":
        from acd.integrations.records import to_csv  # only when records exist

        return web.Response(text=to_csv(found), content_type="text/csv",
                            headers={"Cache-Control": "no-store",
                                     "Content-Disposition": "attachment; filename=records.csv"})
    return json_ok({"start": start, "end": end, "records": found, "truncated": truncated})


async def healthz(request: web.Request) -> web.Response:
    return json_ok({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[BACKEND].readiness()
    body = {"ready": state.ready, "ami": state.ami, "redis": state.redis, "reason": state.reason}
    return json_ok(body, status=200 if state.ready else 503)


async def openapi(request: web.Request) -> web.Response:
    return json_ok(request.app[OPENAPI])


_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


async def wallboard(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)


_ASSETS = {p.name for p in STATIC_DIR.iterdir() if p.is_file()} if STATIC_DIR.is_dir() else set()


async def static_asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in _ASSETS:
        raise ApiError(404, "not_found", f"no file {name!r}")
    return web.FileResponse(STATIC_DIR / name, headers=_PAGE_HEADERS)
