"""Stopping asyncio tasks, whatever a library does with the cancellation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("acd.tasks")

AGAIN_S = 0.5
GIVE_UP_S = 10.0


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any] | None], *, again_s: float = AGAIN_S,
                          give_up_s: float = GIVE_UP_S) -> list[asyncio.Task[Any]]:
    """Cancel the tasks and wait for them, cancelling again every `again_s` those still
    running; after `give_up_s`, leave them with a warning. Returns those left.

    Once is not always enough: redis-py's asyncio client can lose a cancellation (one that
    arrives as its socket time-out fires comes back as a TimeoutError, which its retry, or a
    loop's `except Exception`, then takes). A service's stop was seen waiting for ever on a
    task that had so gone back to its loop."""
    given = [t for t in tasks if t is not None]
    pending = {t for t in given if not t.done()}
    loop = asyncio.get_running_loop()
    give_up = loop.time() + give_up_s
    while pending and loop.time() < give_up:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=min(again_s,
                                                                 give_up - loop.time()))
    for task in pending:
        log.warning("task %s did not stop in %.0f s", task.get_name(), give_up_s)
    for task in given:  # (retrieved, so that asyncio does not warn of it later)
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("task %s had failed: %r", task.get_name(), task.exception())
    return list(pending)
