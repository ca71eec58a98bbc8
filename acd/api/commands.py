"""Supervisor and admin actions: thin wrappers over the Backend; CommandError is mapped to its
status with `{"code", "message"}` by the error middleware."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from acd.api.auth import PRINCIPAL
from acd.api.backend import AgentAction
from acd.api.call_models import TransferBody, WrapupBody
from acd.api.errors import bad_request, from_validation
from acd.api.handlers import json_ok
from acd.api.keys import BACKEND
from acd.api.models import EmptyBody, NotReadyBody, PriorityBody
from acd.api.route import Handler

M = TypeVar("M", bound=BaseModel)


async def read_body(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    data: object = {}
    if raw.strip():
        try:
            data = json.loads(raw)
        except ValueError:
            raise bad_request("body", "body: not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("body", "body: must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None


def agent_action(action: AgentAction) -> Handler:
    body_model: type[BaseModel] = NotReadyBody if action == "not_ready" else EmptyBody

    async def handler(request: web.Request) -> web.Response:
        body = await read_body(request, body_model)
        reason = body.reason if isinstance(body, NotReadyBody) else ""
        agent = await request.app[BACKEND].agent_command(request.match_info["id"], action, reason)
        return json_ok(agent)

    handler.__name__ = f"agent_{action}"
    return handler


async def call_priority(request: web.Request) -> web.Response:
    body = await read_body(request, PriorityBody)
    call = await request.app[BACKEND].set_call_priority(request.match_info["id"], body.priority)
    return json_ok(call)


def call_recording(pause: bool) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        await read_body(request, EmptyBody)
        principal = request.get(PRINCIPAL)
        agent_id = principal.agent if principal is not None else None
        return json_ok(await request.app[BACKEND].recording_command(
            request.match_info["id"], pause, agent_id))

    handler.__name__ = "recording_pause" if pause else "recording_resume"
    return handler


async def agent_wrapup(request: web.Request) -> web.Response:
    body = await read_body(request, WrapupBody)
    out = await request.app[BACKEND].set_wrapup(request.match_info["id"], list(body.codes),
                                                body.resolved, body.done)
    return json_ok(out)


async def call_transfer(request: web.Request) -> web.Response:
    body = await read_body(request, TransferBody)
    out = await request.app[BACKEND].transfer_call(request.match_info["id"], body.queue,
                                                   body.agent, body.mode)
    return json_ok(out)


async def call_escalate(request: web.Request) -> web.Response:
    await read_body(request, EmptyBody)
    return json_ok(await request.app[BACKEND].escalate_call(request.match_info["id"]))


async def transfer_complete(request: web.Request) -> web.Response:
    await read_body(request, EmptyBody)
    return json_ok(await request.app[BACKEND].finish_transfer(request.match_info["id"], True))


async def transfer_cancel(request: web.Request) -> web.Response:
    await read_body(request, EmptyBody)
    return json_ok(await request.app[BACKEND].finish_transfer(request.match_info["id"], False))


async def config_reload(request: web.Request) -> web.Response:
    await read_body(request, EmptyBody)
    return json_ok(await request.app[BACKEND].reload_config())
