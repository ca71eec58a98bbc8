"""Serving the app: `start_site(app, host, port)`, with an access log that never shows a token.

aiohttp's default access log prints the request line with its query string, and the stream and
the wallboard take `?token=`; its default format also prints the Referer. This logger prints
neither a token nor the Referer.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

_TOKEN = re.compile(r"(?i)([?&]token=)[^&#]*")


def redact(path_qs: str) -> str:
    return _TOKEN.sub(r"\1REDACTED", path_qs)


class RedactingAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info('%s "%s %s" %d %d %.3fs', request.remote or "-", request.method,
                         redact(request.path_qs), response.status, response.body_length, time)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


async def start_site(app: web.Application, host: str, port: int,
                     shutdown_timeout_s: float = 5.0) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (call `await runner.cleanup()` to stop) and the bound
    port (useful with port 0)."""
    runner = web.AppRunner(app, access_log_class=RedactingAccessLogger,
                           shutdown_timeout=shutdown_timeout_s)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound: int = runner.addresses[0][1] if runner.addresses else port
    return runner, bound
