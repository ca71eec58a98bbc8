"""The service processes' event loop (acd/eventloop.py): uvloop by default, the standard loop
on request, and a clear error for a name that is neither."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from acd import eventloop


async def _kind() -> str:
    await asyncio.sleep(0)
    return eventloop.name()


def test_uvloop_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(eventloop.ENV, raising=False)
    assert eventloop.chosen() == "uvloop"
    assert eventloop.run(_kind()) == "uvloop"


def test_the_standard_loop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV, " AsyncIO ")
    assert eventloop.chosen() == "asyncio"
    assert eventloop.run(_kind()) == "asyncio"


def test_a_loop_that_is_neither_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV, "tokio")
    with pytest.raises(ValueError, match="ACD_EVENT_LOOP='tokio': expected one of uvloop, "
                                         "asyncio"):
        eventloop.chosen()
    with pytest.raises(ValueError, match="tokio"):
        eventloop.run(_kind())  # (and the coroutine is closed, not left unawaited)


def test_acd_run_refuses_an_unknown_loop_before_starting() -> None:
    out = subprocess.run([sys.executable, "-m", "acd", "run", "-c", "/nonexistent.toml"],
                         env={"ACD_EVENT_LOOP": "tokio", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "acd run: ACD_EVENT_LOOP='tokio': expected one of uvloop, asyncio" in out.stderr
    assert "Traceback" not in out.stderr
