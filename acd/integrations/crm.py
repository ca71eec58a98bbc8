"""CRM lookup for the IVR's lookup nodes: one HTTP GET with aiohttp's client, bounded in time,
answers cached in Redis (found and not found, each with its TTL).

`lookup()` never raises: a slow CRM (over `timeout_ms`, Redis cache read included), a refused
connection, a 5xx, a body that is not JSON or not what the mapping expects all come back as the
outcome "timeout" or "error", and the IVR goes on with the node's defaults. A 404 (or a false
`map.found`) is a "miss".

The token (`token_env` / `token_file`) is sent in `token_header` and never logged; logs name the
CRM's host, never the URL's path or query (they hold the caller's number).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from acd.config import CrmConfig
from acd.core.crm import AnswerError, caller_info
from acd.core.ivr_state import CallerInfo, LookupResult
from acd.store import BackendError, Store

log = logging.getLogger("acd.integrations.crm")

MAX_BODY = 256 * 1024  # a CRM answer about one caller is small; more is garbage
_INFO_KEYS = ("language", "queue", "customer_name", "account", "reason")


def encode(info: CallerInfo | None) -> str:
    """The cache's form of an answer."""
    if info is None:
        return '{"found":false}'
    body: dict[str, Any] = {"found": True, "vip": info.vip}
    body.update({k: getattr(info, k) for k in _INFO_KEYS})
    return json.dumps(body, separators=(",", ":"))


def decode(raw: str) -> CallerInfo | None:
    """Raises ValueError (or KeyError/TypeError) on a bad entry: treated as no entry."""
    body = json.loads(raw)
    if not body["found"]:
        return None
    vip = body.get("vip")
    return CallerInfo(vip=None if vip is None else bool(vip),
                      **{k: str(body.get(k) or "") for k in _INFO_KEYS})


class CrmClient:
    """One per service; `close()` when done. `render` needs the call's fields for the URL."""

    def __init__(self, cfg: CrmConfig, token: str | None) -> None:
        self.cfg = cfg
        self._headers = dict(cfg.headers)
        self._headers.setdefault("Accept", "application/json")
        if token is not None:
            self._headers[cfg.token_header] = cfg.token_prefix + token
        self._session: aiohttp.ClientSession | None = None
        self.host = urlsplit(cfg.url_template.split("{", 1)[0]).netloc or "?"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, by: str, key: str, fields: dict[str, str]) -> str:
        values = {name: quote(fields.get(name, ""), safe="")
                  for name in ("caller_num", "account", "dnis", "flow")}
        values["key"] = quote(key, safe="")
        values[by] = values["key"]
        return self.cfg.url_template.format_map(values)

    async def lookup(self, store: Store, by: str, key: str, fields: dict[str, str],
                     ref: str = "") -> LookupResult:
        """What the CRM (or the cache) says about the caller whose `by` is `key`. `fields`:
        caller_num, account, dnis, flow (for the URL); `ref` names the call in logs."""
        if not key:
            return LookupResult("skipped")
        answered: CallerInfo | None = None
        try:
            async with asyncio.timeout(self.cfg.timeout_ms / 1000):
                cached = await self._cached(store, by, key)
                if cached is not None:
                    return cached
                answered = await self._ask(self.url(by, key, fields))
        except TimeoutError:
            log.warning("CRM lookup for call %s: no answer from %s within %d ms", ref,
                        self.host, self.cfg.timeout_ms)
            return LookupResult("timeout")
        except _Failed as exc:
            log.warning("CRM lookup for call %s: %s", ref, exc)
            return LookupResult("error")
        ttl = self.cfg.cache_ttl_s if answered is not None else self.cfg.negative_ttl_s
        try:
            await store.crm_cache(by, key, encode(answered), ttl)
        except BackendError as exc:
            log.warning("CRM answer not cached: %s", exc)
        return LookupResult("hit" if answered is not None else "miss", answered)

    async def _cached(self, store: Store, by: str, key: str) -> LookupResult | None:
        try:
            raw = await store.crm_cached(by, key)
        except BackendError as exc:
            log.warning("CRM cache not read: %s", exc)
            return None
        if raw is None:
            return None
        try:
            return LookupResult("cache", decode(raw))
        except (ValueError, KeyError, TypeError):
            return None  # an entry of another version: ask the CRM

    async def _ask(self, url: str) -> CallerInfo | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.cfg.timeout_ms / 1000 + 1),
                connector=aiohttp.TCPConnector(limit=100), trust_env=False)
        # (the session's own timeout is a spare: lookup()'s asyncio.timeout decides)
        try:
            async with self._session.request(self.cfg.method, url, headers=self._headers,
                                             allow_redirects=False) as resp:
                status = resp.status
                body = await resp.content.read(MAX_BODY + 1)
        except TimeoutError:
            raise
        except aiohttp.ClientError as exc:
            raise _Failed(f"{self.host} not reached ({type(exc).__name__})") from None
        if status == 404:
            return None
        if status != 200:
            raise _Failed(f"{self.host} answered HTTP {status}")
        if len(body) > MAX_BODY:
            raise _Failed(f"{self.host} answered more than {MAX_BODY} bytes")
        try:
            return caller_info(json.loads(body), self.cfg.map)
        except ValueError as exc:  # not JSON (JSONDecodeError), or AnswerError
            what = exc if isinstance(exc, AnswerError) else "not JSON"
            raise _Failed(f"{self.host} answered what the mapping cannot read: {what}") \
                from None


class _Failed(Exception):
    """The CRM could not be asked or its answer is unusable (the message is safe to log)."""
