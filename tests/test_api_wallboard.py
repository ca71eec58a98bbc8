"""The wallboard in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
tiles follow the snapshots pushed on the stream, waits tick locally, the page reconnects."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import playwright.async_api as playwright_api
import pytest

from acd.api import create_app
from acd.api.testing import (
    CHROMIUM,
    FakeBackend,
    agent,
    call,
    launch_chromium,
    open_wallboard,
    queue,
    reason_board,
    serving,
    snapshot,
    trend_board,
)
from acd.config import HttpConfig, TokenConfig

# No skipping: the wallboard test is part of the suite (./dev installs Debian's chromium).
assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} missing: apt-get install chromium"

ARTIFACTS = Path(__file__).parent / "artifacts"
TOKEN = "wallboard-viewer-token"
HTTP = HttpConfig(tokens=[TokenConfig(name="wall", role="viewer",
                                      sha256=hashlib.sha256(TOKEN.encode()).hexdigest())])
TIMEOUT_MS = 5000

AGENTS = [("a1", "Alice Martin", ["sales"]), ("a2", "Bruno Costa", ["sales"]),
          ("a3", "Chen Wei", ["support"]), ("a4", "Dana Kowalski", ["support"]),
          ("a5", "Emeka Obi", ["billing"]), ("a6", "Fatima Zahra", ["support", "billing"])]


def board(sales_waiting: int, sales_longest_s: float, a1_state: str,
          sales_needed: int = 2) -> dict[str, object]:
    """Sales (SL green), support (amber), billing (red); agent a1 ready or on a call. Erlang C
    staffing: sales needs `sales_needed` of its 2 agents, support 6 of its 4, billing unknown."""
    on_call = 1 if a1_state == "on_call" else 0
    queues = [
        queue("sales", waiting=sales_waiting, longest_wait_s=sales_longest_s, ready=2 - on_call,
              on_call=on_call, sl=0.86, asa_s=9, offered=58, answered=52, abandoned=2,
              agents_needed_now=sales_needed),
        queue("support", waiting=3, longest_wait_s=47, ready=0, on_call=2, wrap_up=1,
              not_ready=1, sl=0.74, asa_s=23, offered=41, answered=35, abandoned=4,
              agents_needed_now=6),
        queue("billing", waiting=1, longest_wait_s=95, ready=0, on_call=1, sl=0.55, asa_s=61,
              offered=12, answered=9, abandoned=3),
    ]
    states = {"a1": a1_state, "a2": "ready", "a3": "on_call", "a4": "wrap_up",
              "a5": "on_call", "a6": "not_ready"}
    agents = [agent(i, n, states[i], queues=q, time_in_state_s=30 + 17 * k,
                    reason="training" if states[i] == "not_ready" else "")
              for k, (i, n, q) in enumerate(AGENTS)]
    calls = [call(f"s{k}", "sales", wait_s=sales_longest_s) for k in range(sales_waiting)]
    return snapshot(queues, agents, calls)


@pytest.fixture
async def chromium() -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            yield browser
        finally:
            await browser.close()


async def test_wallboard_follows_the_stream(chromium: object) -> None:
    expect = playwright_api.expect
    backend = FakeBackend(board(0, 0, "ready"))
    async with serving(create_app(backend, HTTP)) as url:
        page = await open_wallboard(chromium, url, TOKEN)  # type: ignore[arg-type]
        sales = page.locator('[data-queue="sales"]')
        centre = page.locator('[data-queue="*"]')
        await expect(sales.locator('[data-field="waiting"]')).to_have_text("0")
        await expect(sales.locator('[data-field="busy"]')).to_have_text("0")
        await expect(sales.locator('[data-field="sl_box"]')).to_have_attribute("data-sl", "green")
        await expect(page.locator('[data-queue="support"] [data-field="sl_box"]')
                     ).to_have_attribute("data-sl", "amber")
        await expect(page.locator('[data-queue="billing"] [data-field="sl_box"]')
                     ).to_have_attribute("data-sl", "red")
        await expect(centre.locator('[data-field="waiting"]')).to_have_text("4")
        # Erlang C staffing on each queue tile
        await expect(sales.locator('[data-field="staffing"]')).to_have_text(
            "needs 2 agents · staffed")
        support = page.locator('[data-queue="support"]')
        await expect(support.locator('[data-field="staffing"]')).to_have_text(
            "needs 6 agents · 2 short")
        await expect(support.locator('[data-field="staffing_box"]')).to_have_attribute(
            "data-short", "true")
        await expect(page.locator('[data-queue="billing"] [data-field="staffing_box"]')
                     ).to_have_attribute("data-short", "unknown")

        backend.publish(board(1, 0, "ready"))  # a call arrives in sales
        await expect(sales.locator('[data-field="waiting"]')).to_have_text("1", timeout=TIMEOUT_MS)
        await expect(centre.locator('[data-field="waiting"]')).to_have_text("5")
        # its wait ticks up between snapshots
        await expect(sales.locator('[data-field="longest_wait"]')).not_to_have_text(
            "0:00", timeout=TIMEOUT_MS)

        backend.publish(board(0, 0, "on_call", sales_needed=3))  # Alice answers it
        await expect(sales.locator('[data-field="staffing"]')).to_have_text(
            "needs 3 agents · 1 short", timeout=TIMEOUT_MS)
        await expect(sales.locator('[data-field="staffing_box"]')).to_have_attribute(
            "data-short", "true")
        await expect(sales.locator('[data-field="waiting"]')).to_have_text("0", timeout=TIMEOUT_MS)
        await expect(sales.locator('[data-field="busy"]')).to_have_text("1")
        await expect(sales.locator('[data-field="ready"]')).to_have_text("1")
        await expect(page.locator('[data-agent="a1"]')).to_have_attribute("data-state", "on_call")
        await expect(page.locator('[data-agent="a1"] [data-field="state"]')).to_have_text(
            "On call")
        await expect(page.locator("#banner")).to_be_hidden()

        backend.publish(board(2, 38, "on_call"))  # the picture for the screenshot
        await expect(sales.locator('[data-field="waiting"]')).to_have_text("2", timeout=TIMEOUT_MS)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "wallboard.png"))
        assert page.console_errors == []  # type: ignore[attr-defined]
        await page.close()


async def test_wallboard_shows_reconnecting_and_recovers(chromium: object) -> None:
    expect = playwright_api.expect
    backend = FakeBackend(board(0, 0, "ready"))
    async with serving(create_app(backend, HTTP)) as url:
        page = await open_wallboard(chromium, url, TOKEN)  # type: ignore[arg-type]
    # the server is gone
    await expect(page.locator("#banner")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("body")).to_have_attribute("data-connection", "reconnecting")
    port = int(url.rsplit(":", 1)[1])
    backend.publish(board(1, 5, "ready"))
    from acd.api.server import start_site
    runner, _ = await start_site(create_app(backend, HTTP), "127.0.0.1", port, 1.0)
    try:
        await expect(page.locator("#banner")).to_be_hidden(timeout=10_000)
        await expect(page.locator('[data-queue="sales"] [data-field="waiting"]')
                     ).to_have_text("1")
    finally:
        await page.close()
        await runner.cleanup()


async def test_wallboard_shows_the_reasons_and_their_trend(chromium: object) -> None:
    """Issue 9: today's figures per reason and how each grew this week, read from the API."""
    expect = playwright_api.expect
    backend = FakeBackend(board(0, 0, "ready"))
    backend.reason_snapshot = reason_board([
        ("refund", "Refund", 2, 14, 0.5, 0.75, 0.25, 80.0),
        ("invoice", "Invoice question", 0, 30, 0.9, None, 0.0, None),
        ("quiet", "Never called", 0, 0, None, None, None, None),
    ])
    backend.trends = trend_board([("refund", "Refund", 40, 20), ("quiet", "Never called", 0, 0),
                                  ("invoice", "Invoice question", 60, 66)])
    async with serving(create_app(backend, HTTP)) as url:
        page = await open_wallboard(chromium, url, TOKEN)  # type: ignore[arg-type]
        section = page.locator("#reasons")
        await expect(section).to_be_visible(timeout=TIMEOUT_MS)
        refund = page.locator('[data-reason="refund"]')
        await expect(refund.locator('[data-field="label"]')).to_have_text("Refund")
        await expect(refund.locator('[data-field="waiting"]')).to_have_text("2")
        await expect(refund.locator('[data-field="sl"]')).to_have_text("50%")
        await expect(refund.locator('[data-field="resolved"]')).to_have_text("75%")
        await expect(refund.locator('[data-field="transfers"]')).to_have_text("25%")
        await expect(refund.locator('[data-field="csat"]')).to_have_text("80")
        await expect(refund.locator('[data-field="trend"]')).to_have_text("▲ 40 · +20 (+100%)")
        await expect(refund).to_have_attribute("data-trend", "up")
        invoice = page.locator('[data-reason="invoice"]')
        await expect(invoice).to_have_attribute("data-trend", "down")
        await expect(invoice.locator('[data-field="resolved"]')).to_have_text("–")
        await expect(page.locator('[data-reason="quiet"]')).to_have_count(0)  # nothing yet
        await expect(page.locator('[data-field="reasons_summary"]')).to_have_text(
            "grew most this week: Refund +20")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "wallboard-reasons.png"), full_page=True)
        assert page.console_errors == []  # type: ignore[attr-defined]
        assert ("reason_trends",) in backend.commands
        await page.close()
