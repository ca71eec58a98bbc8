"""Every error is JSON `{"code", "message"}` with a stable code; no 5xx for bad input."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from acd.api.backend import CommandError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
    413: "payload_too_large", 415: "unsupported_media_type", 429: "too_many_requests",
    503: "not_ready",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def bad_request(field: str, message: str) -> ApiError:
    return ApiError(400, "bad_request", message, field=field)


def from_validation(exc: ValidationError, prefix: str = "") -> ApiError:
    """A 400 naming every bad field (never echoing the input value)."""
    parts, fields = [], []
    for err in exc.errors(include_url=False, include_input=False):
        # a JSON key may be "" (or anything): an empty part is shown as "" so `field` names it
        loc = ".".join(str(p) or '""' for p in err["loc"])
        field = prefix + loc if loc else prefix or "body"
        fields.append(field)
        parts.append(f"{field}: {err['msg']}")
    return bad_request(fields[0] if fields else "body", "; ".join(parts))


def error_response(status: int, code: str, message: str, *, field: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, field=exc.field,
                              headers=exc.headers)
    except CommandError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate")}
        message = exc.reason
        if exc.status == 404:
            message = f"no route {request.method} {request.path}"
        elif exc.status == 405:
            message = f"{request.method} is not allowed here (allowed: {headers.get('Allow')})"
        return error_response(exc.status, _CODES.get(exc.status, f"http_{exc.status}"), message,
                              headers=headers)
    except ConnectionError:
        raise
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error (see the service log)")
