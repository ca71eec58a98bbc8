"""Bearer tokens: `Authorization: Bearer <token>`, compared by SHA-256 with hmac.compare_digest.

Roles rank viewer < supervisor < admin. Read-only routes admit anonymous callers only when
`http.anonymous_read` is true; /healthz, /readyz and the static assets (code, no figures) are
always open. Browsers cannot set headers on EventSource, so the stream and the wallboard page
also take the token as `?token=` (nowhere else). A token is never logged nor echoed.

Guessing is rate-limited per client address (`AuthLimiter`): after `max_failures` unknown
tokens within `window_s` seconds (default 10 in 60 s), every request from that address that
presents a token is answered 429 `too_many_requests` with `Retry-After` until the oldest of those
failures is `window_s` old, even with a right token (else the limit would still be an oracle). A
success does not clear failures (its own address's nor any other's): only time does. Requests
without a token (open routes, anonymous reads) are not limited. Behind a reverse proxy every
client shares the proxy's address: the limit then applies to all of them together (this API never
trusts X-Forwarded-For).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from acd.api.errors import ApiError
from acd.config import HttpConfig, Role

log = logging.getLogger(__name__)

Access = Literal["open", "read", "supervisor", "admin"]
# Where an agent-desktop token (role agent) is admitted: nowhere (""), on a route whose {id} is
# its agent ("path"), or on a call route whose handler checks the call is its agent's ("call").
AgentScope = Literal["", "path", "call"]
_RANK: dict[str, int] = {"read": 0, "viewer": 0, "supervisor": 1, "admin": 2}


@dataclass(frozen=True, slots=True)
class Principal:
    name: str  # the token's configured name, or "anonymous"
    role: Role | None  # None: anonymous
    agent: str | None = None  # role agent: the agent the token belongs to


ANONYMOUS = Principal("anonymous", None)
PRINCIPAL = web.RequestKey("principal", Principal)  # who asks (set by the auth middleware)


def _challenge(error: str | None) -> dict[str, str]:
    value = 'Bearer realm="acd"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


class AuthLimiter:
    """Failed authentications per client address in a sliding window; `clock` is injectable
    (monotonic seconds) so tests need no sleeping. At most `max_clients` addresses are kept
    (the oldest are forgotten first), so a flood of addresses cannot exhaust memory."""

    def __init__(self, max_failures: int = 10, window_s: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000) -> None:
        if max_failures < 1 or window_s <= 0:
            raise ValueError("max_failures must be >= 1 and window_s > 0")
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def retry_after(self, client: str) -> int:
        """0 when `client` may try; else whole seconds until it may."""
        now = self.clock()
        times = self._recent(client, now)
        if times is None or len(times) < self.max_failures:
            return 0
        return max(1, math.ceil(times[-self.max_failures] + self.window_s - now))

    def failed(self, client: str) -> None:
        now = self.clock()
        times = self._recent(client, now)
        if times is None:
            if len(self._failures) >= self.max_clients:
                self._failures.pop(next(iter(self._failures)))
            times = self._failures[client] = deque()
        times.append(now)
        while len(times) > self.max_failures:
            times.popleft()
        if len(times) == self.max_failures:
            log.warning("%d failed authentications from %s within %.0f s: refusing its tokens "
                        "for a while", self.max_failures, client, self.window_s)


class TokenTable:
    def __init__(self, http: HttpConfig, limiter: AuthLimiter | None = None) -> None:
        self._tokens = [(bytes.fromhex(t.sha256), t.name, t.role, t.agent) for t in http.tokens]
        self._anonymous_read = http.anonymous_read
        self.limiter = limiter or AuthLimiter()

    def lookup(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: Principal | None = None
        for expected, name, role, agent in self._tokens:  # same work for every token
            if hmac.compare_digest(digest, expected) and found is None:
                found = Principal(name, role, agent)
        return found

    def authorize(self, request: web.Request, access: Access, token_in_query: bool,
                  agent_scope: AgentScope = "") -> Principal:
        """The caller, or ApiError 401 / 403."""
        if access == "open":
            return ANONYMOUS
        token, where = _presented_token(request, token_in_query)
        if token is None:
            if access == "read" and self._anonymous_read:
                return ANONYMOUS
            hint = "" if token_in_query else " (?token= is accepted on the streams and / only)"
            raise ApiError(401, "unauthorized",
                           f"a bearer token is required: Authorization: Bearer <token>{hint}",
                           headers=_challenge(None))
        client = request.remote or "-"
        wait_s = self.limiter.retry_after(client)
        if wait_s:
            raise ApiError(429, "too_many_requests",
                           f"too many failed authentications from this address: retry in "
                           f"{wait_s} s", headers={"Retry-After": str(wait_s)})
        principal = self.lookup(token)
        if principal is None:
            self.limiter.failed(client)
            log.warning("rejected an unknown token (%s) for %s %s", where, request.method,
                        request.path)
            raise ApiError(401, "unauthorized", "unknown token",
                           headers=_challenge("invalid_token"))
        assert principal.role is not None
        if principal.role == "agent":
            return _agent_allowed(request, principal, access, agent_scope)
        if _RANK[principal.role] < _RANK[access]:
            raise ApiError(403, "forbidden",
                           f"role {principal.role} may not do this (needs {access})")
        return principal


def _agent_allowed(request: web.Request, principal: Principal, access: Access,
                   agent_scope: AgentScope) -> Principal:
    """An agent desktop's token: its own stream, its own call's recording, nothing else."""
    if access == "admin" or not agent_scope:
        raise ApiError(403, "forbidden", "an agent token may only read its own stream and "
                       "pause or resume its own call's recording")
    if agent_scope == "path" and request.match_info.get("id") != principal.agent:
        raise ApiError(403, "forbidden", f"this token belongs to agent {principal.agent}")
    return principal  # "call": the handler checks the call is this agent's


def _presented_token(request: web.Request, token_in_query: bool) -> tuple[str | None, str]:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "Authorization must be: Bearer <token>",
                           headers=_challenge("invalid_request"))
        return token.strip(), "header"
    if token_in_query and "token" in request.query:
        return request.query["token"], "query"
    return None, ""
