"""The event loop a service process runs on: uvloop when it is installed (it is a dependency),
the standard asyncio loop when `ACD_EVENT_LOOP=asyncio` asks for it or uvloop is missing.

Why uvloop: every routing decision and every API answer is mostly socket work on the loop
(an AMI frame read, a Redis reply, an AMI action written, an HTTP request parsed and answered),
and uvloop does that work in C on libuv. The benchmark measured it (BENCHMARKS.md, session 10).
The standard loop stays one variable away, for a platform without uvloop's wheels or to tell
a loop problem from ours; the tests run the service processes they start on both.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "ACD_EVENT_LOOP"
CHOICES = ("uvloop", "asyncio")


def chosen() -> str:
    """'uvloop' or 'asyncio': what `run` would use in this process. A value of ACD_EVENT_LOOP
    that is neither is an error that names it (never silently the other loop)."""
    wanted = os.environ.get(ENV, "").strip().lower() or "uvloop"
    if wanted not in CHOICES:
        raise ValueError(f"{ENV}={os.environ[ENV]!r}: expected one of {', '.join(CHOICES)}")
    if wanted == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            return "asyncio"
    return wanted


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory for asyncio.Runner: None is the standard loop."""
    if chosen() == "asyncio":
        return None
    import uvloop

    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, on the chosen loop."""
    try:
        factory = loop_factory()
    except ValueError:
        main.close()  # (never awaited: no "coroutine was never awaited" warning)
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def name() -> str:
    """The running loop's kind, for logs and the benchmark's result."""
    loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
