"""The routing process's door for the figures process (`http.own_process`): supervisor commands
and the PBXs' readiness, over HTTP on the loopback interface, with a token made per start.

Only the figures process calls it (routing_client.py); the public API, its tokens and its
roles stay there. A command runs here exactly as in one process (ServiceBackend); the figures
process then shows its result from its own, fresh figures.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from acd.api.backend import CommandError
from acd.core.agent_actions import ACTIONS
from acd.service.backend import ServiceBackend

PREFIX = "/internal/v1"
_BACKEND: web.AppKey[ServiceBackend] = web.AppKey("backend", ServiceBackend)
_TOKEN: web.AppKey[str] = web.AppKey("token", str)

Command = Callable[[ServiceBackend, dict[str, Any]], Awaitable[dict[str, Any]]]


def _arg(args: dict[str, Any], name: str, kind: type, what: str, optional: bool) -> Any:
    value = args.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, kind):
        raise CommandError("bad_request", f"{name}: {what} is required", 400)
    return value


def _str(args: dict[str, Any], name: str, *, optional: bool = False) -> Any:
    return _arg(args, name, str, "a string", optional)


def _bool(args: dict[str, Any], name: str, *, optional: bool = False) -> Any:
    return _arg(args, name, bool, "true or false", optional)


async def _agent_command(b: ServiceBackend, a: dict[str, Any]) -> dict[str, Any]:
    action = _str(a, "action")
    if action not in ACTIONS:
        raise CommandError("bad_request", f"action: unknown action {action!r}", 400)
    return {"pbx": await b.apply_agent_command(_str(a, "agent_id"), action, _str(a, "reason"))}


async def _call_priority(b: ServiceBackend, a: dict[str, Any]) -> dict[str, Any]:
    priority = a.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise CommandError("bad_request", "priority: an integer is required", 400)
    return {"pbx": await b.apply_call_priority(_str(a, "call_id"), priority)}


COMMANDS: dict[str, Command] = {
    "agent_command": _agent_command,
    "set_call_priority": _call_priority,
    "recording_command": lambda b, a: b.recording_command(
        _str(a, "call_id"), _bool(a, "pause"), _str(a, "agent_id", optional=True)),
    "set_wrapup": lambda b, a: b.set_wrapup(
        _str(a, "agent_id"), [str(c) for c in a.get("codes") or []],
        _bool(a, "resolved", optional=True), _bool(a, "done")),
    "transfer_call": lambda b, a: b.transfer_call(
        _str(a, "call_id"), _str(a, "queue", optional=True), _str(a, "agent", optional=True),
        _str(a, "mode")),
    "escalate_call": lambda b, a: b.escalate_call(_str(a, "call_id")),
    "finish_transfer": lambda b, a: b.finish_transfer(_str(a, "call_id"),
                                                      _bool(a, "complete")),
    "reload_config": lambda b, a: b.reload_config(),
}


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


async def _command(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    command = COMMANDS.get(name)
    if command is None:
        return _error(404, "not_found", f"no command {name!r}")
    try:
        args = json.loads(await request.read() or b"{}")
    except ValueError:
        return _error(400, "bad_request", "the body is not JSON")
    if not isinstance(args, dict):
        return _error(400, "bad_request", "the body must be a JSON object")
    try:
        return web.json_response(await command(request.app[_BACKEND], args))
    except CommandError as exc:
        return _error(exc.status, exc.code, exc.message)


async def _ready(request: web.Request) -> web.Response:
    backend = request.app[_BACKEND]
    return web.json_response({name: list(engine.attached())
                              for name, engine in backend.engines.items()})


@web.middleware
async def _auth(request: web.Request,
                handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                ) -> web.StreamResponse:
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(given.encode(), request.app[_TOKEN].encode()):
        return _error(401, "unauthorized", "a valid internal token is required")
    return await handler(request)


def create_internal_app(backend: ServiceBackend, token: str) -> web.Application:
    app = web.Application(middlewares=[_auth])
    app[_BACKEND] = backend
    app[_TOKEN] = token
    app.router.add_post(PREFIX + "/commands/{name}", _command)
    app.router.add_get(PREFIX + "/ready", _ready)
    return app
