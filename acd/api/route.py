"""One row of the route table: what `create_app` registers, the auth middleware enforces and
the OpenAPI document describes (one source, so they cannot drift)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from acd.api.auth import Access, AgentScope

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    description: str
    example: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    access: Access
    summary: str
    response: type[BaseModel] | None = None  # the JSON body of a 200 (None: see media_type)
    media_type: str = "application/json"
    body: type[BaseModel] | None = None
    query: tuple[QueryParam, ...] = ()
    errors: tuple[int, ...] = ()  # statuses besides the auth ones
    token_in_query: bool = False  # ?token= accepted (EventSource, the wallboard page)
    agent_scope: AgentScope = ""  # where an agent desktop's token is admitted (auth.py)
    tag: str = "figures"
