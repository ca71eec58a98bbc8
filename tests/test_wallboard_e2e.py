"""The wallboard in real headless Chromium against the real service (simulated PBX over TCP,
real Redis): tiles update when a call arrives and when it is answered."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import playwright.async_api as pw
import pytest

from acd.api.testing import launch_chromium, open_wallboard
from acd.pbxsim import AgentPhone, CallerSpec
from acd.testing.harness import Harness, wait_for

from .test_e2e_callpath import config

ARTIFACTS = Path(__file__).parent / "artifacts"
TOKEN = "e2e-viewer-token-4411"


@pytest.fixture
async def browser() -> AsyncIterator[pw.Browser]:
    async with pw.async_playwright() as p:
        b = await launch_chromium(p)
        yield b
        await b.close()


async def test_wallboard_follows_a_call_from_arrival_to_answer(
        redis_url: str, browser: pw.Browser) -> None:
    cfg = config()
    cfg["http"] = {"port": 0, "snapshot_interval_s": 0.2, "tokens": [
        {"name": "wall", "role": "viewer", "sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}]}
    h = await Harness.start(cfg, redis_url, phone=lambda i, e: AgentPhone(
        interface=i, extension=e, answer_after_s=None, talk_s=None))
    try:
        page = await open_wallboard(browser, f"http://127.0.0.1:{h.service.http_port}", TOKEN)
        sales = page.locator('[data-queue="sales"]')
        waiting = sales.locator('[data-field="waiting"]')
        busy = sales.locator('[data-field="busy"]')
        await pw.expect(waiting).to_have_text("0")
        h.sim.place_call(CallerSpec(number="4242", dnis="100", inputs=["1"]))
        await pw.expect(waiting).to_have_text("1", timeout=10_000)
        h.sim.dial_feature("1003", "*51")  # a3 (sales) logs in and is rung
        await wait_for(lambda: h.sim.pbx.phones["PJSIP/1003"].channel is not None, 10, "ring")
        h.sim.agent_answer("PJSIP/1003")
        await pw.expect(waiting).to_have_text("0", timeout=10_000)
        await pw.expect(busy).to_have_text("1", timeout=10_000)
        await pw.expect(page.locator('[data-agent="a3"]')).to_have_attribute(
            "data-state", "on_call", timeout=10_000)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "wallboard-e2e.png"), full_page=True)
        assert page.console_errors == []  # type: ignore[attr-defined]
    finally:
        await h.stop()
