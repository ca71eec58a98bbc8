"""The wallboard shows the caller-facing figures (today's CSAT index, NPS, EWT accuracy and the
callbacks waiting) in real headless Chromium, from the snapshots pushed on the stream."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import playwright.async_api as playwright_api
import pytest

from acd.api import create_app
from acd.api.testing import FakeBackend, launch_chromium, open_wallboard, queue, serving
from acd.config import HttpConfig, TokenConfig
from acd.stats.schema import EwtAccuracy, QueueFigures, Snapshot, SurveyFigures

TOKEN = "flow-wallboard-token"
HTTP = HttpConfig(tokens=[TokenConfig(name="wall", role="viewer",
                                      sha256=hashlib.sha256(TOKEN.encode()).hexdigest())])


def with_today(q: QueueFigures, survey: SurveyFigures, mae_s: float | None,
               callbacks: int) -> QueueFigures:
    today = q.windows["today"].model_copy(update={
        "survey": survey, "ewt_accuracy": EwtAccuracy(answered=4, mean_abs_error_s=mae_s)})
    return q.model_copy(update={"windows": {**q.windows, "today": today},
                                "callbacks_waiting": callbacks})


def board(nps: float) -> dict[str, Any]:
    sales = with_today(queue("sales", waiting=2),
                       SurveyFigures(csat_answers=3, csat_index=200 / 3, nps_answers=2, nps=nps),
                       83.4, 1)
    support = with_today(queue("support"), SurveyFigures(), None, 0)
    centre = with_today(queue("*", waiting=2), SurveyFigures(csat_answers=3, csat_index=66.7),
                        83.4, 1)
    return Snapshot(generated_at=0.0, timezone="UTC", centre=centre, queues=[sales, support],
                    agents=[], calls=[], ivr_funnel={}).model_dump(mode="json")


@pytest.fixture
async def chromium() -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            yield browser
        finally:
            await browser.close()


async def test_tiles_show_survey_ewt_accuracy_and_callbacks(chromium: object) -> None:
    expect = playwright_api.expect
    backend = FakeBackend(board(nps=50.0))
    async with serving(create_app(backend, HTTP)) as url:
        page = await open_wallboard(chromium, url, TOKEN)  # type: ignore[arg-type]
        sales = page.locator('[data-queue="sales"]')
        await expect(sales.locator('[data-field="csat"]')).to_have_text("67")
        await expect(sales.locator('[data-field="nps"]')).to_have_text("+50")
        await expect(sales.locator('[data-field="ewt_error"]')).to_have_text("1:23")
        await expect(sales.locator('[data-field="callbacks"]')).to_have_text("1")
        support = page.locator('[data-queue="support"]')
        await expect(support.locator('[data-field="csat"]')).to_have_text("–")
        await expect(support.locator('[data-field="ewt_error"]')).to_have_text("–")
        await expect(page.locator('[data-queue="*"] [data-field="csat"]')).to_have_text("67")
        backend.publish(board(nps=-25.0))
        await expect(sales.locator('[data-field="nps"]')).to_have_text("-25", timeout=5000)
        assert page.console_errors == []  # type: ignore[attr-defined]
        await page.close()


async def test_prometheus_exports_the_caller_facing_figures() -> None:
    import aiohttp
    from prometheus_client.parser import text_string_to_metric_families

    async with serving(create_app(FakeBackend(board(nps=50.0)), HTTP)) as url, \
            aiohttp.ClientSession() as session, \
            session.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200
        text = await resp.text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    today = (("queue", "sales"), ("window", "today"))
    assert samples[("acd_queue_csat_index", today)] == pytest.approx(200 / 3)
    assert samples[("acd_queue_nps", today)] == 50.0
    assert samples[("acd_queue_ewt_mean_abs_error_seconds", today)] == 83.4
    assert samples[("acd_queue_voicemail", today)] == 0
    assert ("acd_queue_csat_index", (("queue", "support"), ("window", "today"))) not in samples
