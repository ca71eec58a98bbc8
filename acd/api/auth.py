"""Bearer tokens: `Authorization: Bearer <token>`, compared by SHA-256 with hmac.compare_digest.

Roles rank viewer < supervisor < admin. Read-only routes admit anonymous callers only when
`http.anonymous_read` is true; /healthz, /readyz and the static assets (code, no figures) are
always open. Browsers cannot set headers on EventSource, so the stream and the wallboard page
also take the token as `?token=` (nowhere else). A token is never logged nor echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from acd.api.errors import ApiError
from acd.config import HttpConfig, Role

log = logging.getLogger(__name__)

Access = Literal["open", "read", "supervisor", "admin"]
_RANK: dict[str, int] = {"read": 0, "viewer": 0, "supervisor": 1, "admin": 2}


@dataclass(frozen=True, slots=True)
class Principal:
    name: str  # the token's configured name, or "anonymous"
    role: Role | None  # None: anonymous


ANONYMOUS = Principal("anonymous", None)


def _challenge(error: str | None) -> dict[str, str]:
    value = 'Bearer realm="acd"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


class TokenTable:
    def __init__(self, http: HttpConfig) -> None:
        self._tokens = [(bytes.fromhex(t.sha256), t.name, t.role) for t in http.tokens]
        self._anonymous_read = http.anonymous_read

    def lookup(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: Principal | None = None
        for expected, name, role in self._tokens:  # no early exit: same work for every token
            if hmac.compare_digest(digest, expected) and found is None:
                found = Principal(name, role)
        return found

    def authorize(self, request: web.Request, access: Access, token_in_query: bool) -> Principal:
        """The caller, or ApiError 401 / 403."""
        if access == "open":
            return ANONYMOUS
        token, where = _presented_token(request, token_in_query)
        if token is None:
            if access == "read" and self._anonymous_read:
                return ANONYMOUS
            hint = "" if token_in_query else " (?token= is accepted on /api/v1/stream and / only)"
            raise ApiError(401, "unauthorized",
                           f"a bearer token is required: Authorization: Bearer <token>{hint}",
                           headers=_challenge(None))
        principal = self.lookup(token)
        if principal is None:
            log.warning("rejected an unknown token (%s) for %s %s", where, request.method,
                        request.path)
            raise ApiError(401, "unauthorized", "unknown token",
                           headers=_challenge("invalid_token"))
        assert principal.role is not None
        if _RANK[principal.role] < _RANK[access]:
            raise ApiError(403, "forbidden",
                           f"role {principal.role} may not do this (needs {access})")
        return principal


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
