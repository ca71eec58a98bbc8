"""The OpenAPI 3.1 document, generated from the route table and the pydantic models (the same
classes the figures are built with), so it cannot drift from the handlers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from acd.api.models import ErrorOut
from acd.api.route import Route
from acd.config import HttpConfig
from acd.stats.schema import Snapshot

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)}")
_STATUS_TEXT = {400: "bad input (the message names the field)", 401: "no or unknown token",
                403: "the token's role may not do this", 404: "not found",
                409: "conflict (see code)", 502: "the PBX refused the action",
                429: "too many failed authentications from this address (see Retry-After)",
                503: "not ready (see code and message)"}

DESCRIPTION = """\
Live figures, history and supervisor actions of the ACD.

Auth: `Authorization: Bearer <token>`. Roles: viewer (read), supervisor (agent and call
actions), admin (config reload). Read routes are open to anonymous callers when the service
runs with `http.anonymous_read = true`. Browsers' EventSource cannot set headers, so
`/api/v1/stream` and the wallboard page `/` also accept the token as `?token=<token>`
(it then shows in browser history: prefer anonymous_read on a trusted wall screen, or a
viewer token). `/healthz` and `/readyz` are always open.

Ten unknown tokens from one address within 60 s and that address's tokens are refused with 429
`too_many_requests` and `Retry-After` until the window has passed (a right token too; a success
clears nothing).

Errors are always JSON `{"code": ..., "message": ...}` (see Error) with stable codes.

Pollers: the figures (queues, agents, calls, ivr/funnel, reasons) change once per snapshot.
Their answers carry a strong `ETag` and `Cache-Control: no-cache`: send it back as
`If-None-Match` and an unchanged snapshot answers `304 Not Modified` without a body. With
`Accept-Encoding: gzip` they are sent gzip-compressed (compressed once per snapshot).
"""


Refs = dict[tuple[Any, str], Any]  # (model, mode) -> {"$ref": ...}


def _schemas(routes: Iterable[Route]) -> tuple[Refs, dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (ErrorOut, "serialization"), (Snapshot, "serialization")]
    for route in routes:
        if route.response is not None:
            wanted.append((route.response, "serialization"))
        if route.body is not None:
            wanted.append((route.body, "validation"))
    unique = list(dict.fromkeys(wanted))
    refs, top = models_json_schema(unique, ref_template=REF)
    return {key: value for key, value in refs.items()}, top.get("$defs", {})


def _security(route: Route, http: HttpConfig) -> list[dict[str, list[str]]]:
    if route.access == "open":
        return []
    options: list[dict[str, list[str]]] = [{"bearer": []}]
    if route.token_in_query:
        options.append({"tokenQuery": []})
    if route.access == "read" and http.anonymous_read:
        options.append({})
    return options


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(route: Route, http: HttpConfig, refs: Refs) -> dict[str, Any]:
    error = refs[(ErrorOut, "serialization")]
    responses: dict[str, Any] = {}
    if route.response is not None:
        responses["200"] = _json(refs[(route.response, "serialization")], "OK")
    else:  # no model: free-form (a JSON object such as this document, or text)
        body_type = "object" if route.media_type == "application/json" else "string"
        responses["200"] = {"description": "OK", "content": {
            route.media_type: {"schema": {"type": body_type}}}}
    statuses = set(route.errors)
    if route.access != "open":
        statuses.update((401, 429))
    if route.access in ("supervisor", "admin"):
        statuses.add(403)
    for status in sorted(statuses):
        if status == 503 and route.response is not None and route.path == "/readyz":
            responses["503"] = _json(refs[(route.response, "serialization")], "not ready")
        else:
            responses[str(status)] = _json(error, _STATUS_TEXT.get(status, "error"))
    if "429" in responses:
        responses["429"]["headers"] = {"Retry-After": {
            "description": "seconds until this address may present a token again",
            "schema": {"type": "integer", "minimum": 1}}}
    op: dict[str, Any] = {
        "operationId": route.handler.__name__, "summary": route.summary, "tags": [route.tag],
        "security": _security(route, http), "responses": responses,
        "x-acd-access": route.access}
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in _PATH_PARAM.findall(route.path)]
    params += [{"name": q.name, "in": "query", "required": False, "description": q.description,
                "schema": {"type": "string"}, **({"example": q.example} if q.example else {})}
               for q in route.query]
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": False, "content": {
            "application/json": {"schema": refs[(route.body, "validation")]}}}
    return op


def _version() -> str:
    try:
        return version("acd")
    except PackageNotFoundError:
        return "0+unknown"


def build_openapi(routes: list[Route], http: HttpConfig) -> dict[str, Any]:
    refs, schemas = _schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, http, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "acd", "version": _version(), "description": DESCRIPTION},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "a token of http.tokens (stored there as SHA-256)"},
                "tokenQuery": {"type": "apiKey", "in": "query", "name": "token",
                               "description": "the same token, for EventSource and the "
                                              "wallboard page only"},
            },
        },
    }
