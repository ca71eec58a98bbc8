"""Typed application keys (aiohttp `web.AppKey`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from acd.api.auth import TokenTable
from acd.api.backend import Backend
from acd.api.route import Route
from acd.config import HttpConfig

BACKEND = web.AppKey[Backend]("backend")
HTTP = web.AppKey("http", HttpConfig)
TOKENS = web.AppKey("tokens", TokenTable)
ROUTES = web.AppKey[dict[tuple[str, str], Route]]("routes")  # (method, path) -> route
OPENAPI = web.AppKey[dict[str, Any]]("openapi")
HEARTBEAT_S = web.AppKey("heartbeat_s", float)
