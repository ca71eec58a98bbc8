"""Figures by call reason (issue 9), exact by hand: a scenario of store steps at explicit
times on a real Redis (reasons, a transfer, wrap-up codes, a repeat call, survey answers), read
back and turned into figures; each call counts once in the reasons and in the centre's
totals. Then the history per day and the trends of the week, from synthetic counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from acd.config import Config, parse_config
from acd.core.model import Agent, AgentState, Call, CallOutcome
from acd.core.steps import ITEMS_PER_STEP, QUEUES_PER_STEP
from acd.service.reasons import day_period, live_and_today, live_and_today_steps
from acd.stats import reasons
from acd.stats.fig_window import centre_window_figures, window_figures
from acd.stats.raw import QueueCounts
from acd.stats.reason_schema import ReasonsOut
from acd.store import Store, stats_ttl

B = 1_699_999_200.0  # an interval start (a multiple of 900)


def config() -> Config:
    return parse_config({
        "pbx": {"secret": "x"},
        "queues": {"billing": {"skills": {"billing": 1}, "sla": {"threshold_s": 20}},
                   "support": {"skills": {"support": 1}, "sla": {"threshold_s": 30}}},
        "reasons": {"refund": {"label": "Refund", "queue": "billing"},
                    "invoice": {"label": "Invoice"}, "quiet": {}},
        "flows": {"f": {"dnis": ["1"], "start": "q",
                        "nodes": {"q": {"type": "queue", "queue": "billing"}}}},
    })


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    s = await Store.open(redis_url, pbx="pbx1", stats_ttl_s=stats_ttl(35))
    yield s
    await s.close()


async def queued(s: Store, call_id: str, number: str, reason: str, queue: str,
                 at: float) -> None:
    assert await s.create_call(Call(call_id, f"PJSIP/t-{call_id}", call_id, number, "1",
                                    arrived_at=at))
    if reason:
        assert await s.update_call(call_id, reason=reason)
    assert await s.enqueue(call_id, queue, 0, {}, at, at) is not None


async def answered(s: Store, call_id: str, agent_id: str, claim_at: float, at: float,
                   reason: str, keep_s: float = 86_400) -> None:
    leg = f"leg-{call_id}-{agent_id}-{at}"
    assert (await s.claim(call_id, agent_id, leg, claim_at)).ok
    pair = await s.answer(call_id, leg, at)
    assert pair is not None
    call = pair[0]
    # as the engine does at every answer: the number's last answered call
    await s.remember_answer(call.caller_num, call_id, call.queue, agent_id, at, keep_s, reason)


async def wrap(s: Store, agent_id: str, codes: list[str], resolved: bool | None,
               at: float, end: float) -> None:
    assert await s.set_wrapup(agent_id, codes, resolved, at) is not None
    assert await s.set_agent_state(agent_id, AgentState.READY, end,
                                   expect=frozenset({AgentState.WRAP_UP})) is not None


async def scenario(s: Store) -> None:
    """c1 refund: billing, answered by a1 (wait 10), talk 60, transferred to support, a1
    wraps up 10 s (callback, not said); answered by a2, talk 60, a2 wraps up 20 s (refund_done,
    resolved); CSAT 5, NPS 10. c2 refund: abandoned after 30 s. c3 invoice: answered by a1
    after 80 s, talk 90, wrap-up 10 s (invoice, not resolved); CSAT 2, NPS 6. c4, no reason,
    support: abandoned after 5 s (short). c5 refund, from c1's number: a repeat, waits."""
    for a in ("a1", "a2"):
        await s.sync_agent(Agent(id=a, interface=f"PJSIP/{a}", state=AgentState.READY,
                                 state_since=B, ready_since=B))
    await queued(s, "c1", "5551", "refund", "billing", B)
    await queued(s, "c2", "5552", "refund", "billing", B + 20)
    await queued(s, "c3", "5553", "invoice", "billing", B + 30)
    await queued(s, "c4", "5554", "", "support", B + 40)
    assert await s.end_call("c4", CallOutcome.ABANDONED, B + 45, 1) is not None
    await answered(s, "c1", "a1", B + 5, B + 10, "refund")
    assert await s.end_call("c2", CallOutcome.ABANDONED, B + 50, 1) is not None
    moved = await s.transfer_to_queue("c1", "support", {"support": 1}, "blind", B + 70, True)
    assert moved.refused == "" and moved.agent is not None and moved.agent.wrap_call == "c1"
    # a transfer of a call no longer connected is refused and counts nothing
    assert (await s.transfer_to_queue("c1", "billing", {}, "blind", B + 71, True)).refused
    await wrap(s, "a1", ["callback"], None, B + 75, B + 80)
    await answered(s, "c1", "a2", B + 90, B + 95, "refund")
    assert await s.end_call("c1", CallOutcome.ANSWERED, B + 155, 1) is not None
    await wrap(s, "a2", ["refund_done"], True, B + 160, B + 175)
    await answered(s, "c3", "a1", B + 100, B + 110, "invoice")
    assert await s.end_call("c3", CallOutcome.ANSWERED, B + 200, 1) is not None
    await wrap(s, "a1", ["invoice"], False, B + 205, B + 210)
    # the post-call survey's one store step (flow's survey.lua) counts per reason too
    assert await s.survey_answer("c1", "csat", 5, B + 220) is not None
    assert await s.survey_answer("c1", "nps", 10, B + 220) is not None
    assert await s.survey_answer("c1", "csat", 1, B + 221) is None  # once per call and question
    assert await s.survey_answer("c1", "nps", 0, B + 221) is None
    assert await s.survey_answer("c3", "csat", 2, B + 230) is not None
    assert await s.survey_answer("c3", "nps", 6, B + 230) is not None
    await queued(s, "c5", "5551", "refund", "billing", B + 300)
    assert await s.count_repeat("c5", "5551", B + 300, 86_400)


async def test_figures_by_reason_by_hand(store: Store) -> None:
    cfg = config()
    await scenario(store)
    per_queue = (await store.queue_intervals(["billing", "support"], B, B + 900))
    today = {q: by_start[int(B)] for q, by_start in per_queue.items()}
    by_reason = reasons.by_reason(today.values())
    assert set(by_reason) == {"refund", "invoice", "(none)"}

    refund = reasons.reason_window(cfg, "refund", by_reason["refund"])
    assert (refund.offered, refund.answered, refund.abandoned, refund.handled) == (3, 1, 1, 1)
    # SL at billing's 20 s (its default queue): 1 answered within / (1 answered + 1 abandoned)
    assert refund.service_level.value == 0.5 and refund.service_level.threshold_s == 20
    assert refund.asa_s == 10.0
    assert refund.aht_s == (60 + 60 + 10 + 20) / 1  # both talks, both wrap-ups: one call
    assert (refund.transferred, refund.transfer_rate) == (1, 1.0)
    assert (refund.resolved, refund.unresolved, refund.resolved_rate) == (1, 0, 1.0)
    assert refund.codes == {"callback": 1, "refund_done": 1}
    assert (refund.repeats, refund.repeat_rate) == (1, 1.0)
    assert (refund.csat_answers, refund.csat_index, refund.nps_answers, refund.nps) == (
        1, 100.0, 1, 100.0)

    invoice = reasons.reason_window(cfg, "invoice", by_reason["invoice"])
    assert (invoice.offered, invoice.answered, invoice.asa_s) == (1, 1, 80.0)
    assert invoice.service_level.value == 0.0  # 80 s > 20 s (the default SLA: no queue)
    assert invoice.aht_s == 90 + 10
    assert (invoice.resolved_rate, invoice.codes, invoice.transfer_rate) == (
        0.0, {"invoice": 1}, 0.0)
    assert (invoice.csat_index, invoice.nps) == (25.0, -100.0)

    nothing = reasons.reason_window(cfg, "(none)", by_reason["(none)"])
    assert (nothing.offered, nothing.abandoned, nothing.short_abandoned) == (1, 1, 1)
    assert nothing.service_level.value is None  # only a short abandon: nothing to count

    # The queues: c1 was offered (and answered) once, in billing; support got it transferred.
    billing = window_figures(today["billing"], cfg.queues["billing"].sla, 5)
    support = window_figures(today["support"], cfg.queues["support"].sla, 5)
    assert (billing.offered, billing.answered, billing.transferred) == (4, 2, 1)
    assert (support.offered, support.answered, support.transfers_in) == (1, 0, 1)
    assert today["support"].transfers_in_answered == 1
    assert billing.transfer_rate == 0.5  # 1 of the 2 conversations answered in billing
    assert billing.handled == 2 and support.handled == 1  # conversations
    # The centre: each call once, and the reasons add up to it.
    centre = centre_window_figures([(today[q], cfg.queues[q].sla) for q in today], 5)
    assert (centre.offered, centre.answered, centre.abandoned, centre.handled) == (5, 2, 2, 2)
    assert centre.offered == sum(r.offered for r in by_reason.values())
    assert centre.answered == sum(r.answered for r in by_reason.values())
    assert centre.handled == sum(r.handled for r in by_reason.values())
    assert centre.aht_s == (60 + 60 + 90 + 10 + 20 + 10) / 2
    assert centre.transferred == 1 and centre.transfers_in == 1


async def test_live_and_today_lists_every_reason(store: Store) -> None:
    cfg = config()
    await scenario(store)
    today = {q: by[int(B)] for q, by in
             (await store.queue_intervals(["billing", "support"], B, B + 900)).items()}
    waiting = await store.get_call("c5")
    assert waiting is not None
    out = live_and_today(cfg, B + 400, [waiting], today)
    names = [r["name"] for r in out["reasons"]]
    assert names == ["refund", "invoice", "quiet", "(none)"]  # config order, then (none)
    refund = out["reasons"][0]
    assert (refund["label"], refund["waiting"], refund["connected"]) == ("Refund", 1, 0)
    assert refund["today"]["offered"] == 3
    assert out["reasons"][2]["today"]["offered"] == 0  # configured, nothing yet
    # In the refresh's steps, across many steps' worth of calls and queues: every call and
    # queue counted once, in the ReasonsOut shape
    copies = 2 * QUEUES_PER_STEP + 1
    calls = [waiting] * (2 * ITEMS_PER_STEP + 1)
    many = {f"{q}-{i}": counts for i in range(copies) for q, counts in today.items()}
    stepped = live_and_today_steps(cfg, B + 400, calls, many)
    steps = 0
    while True:
        try:
            next(stepped)
            steps += 1
        except StopIteration as done:
            big: dict[str, Any] = done.value
            break
    assert steps > 6  # (not one step)
    assert ReasonsOut.model_validate(big).model_dump(mode="json") == big
    assert [r["name"] for r in big["reasons"]] == names
    refund = big["reasons"][0]
    assert refund["waiting"] == len(calls)
    assert refund["today"]["offered"] == 3 * copies


def counts(offered: int, **reason_parts: int) -> QueueCounts:
    c = QueueCounts(offered=offered)
    c.by_reason = {r: QueueCounts(offered=n, answered=n) for r, n in reason_parts.items()}
    return c


def test_history_per_interval_and_per_local_day() -> None:
    cfg = parse_config({**config().model_dump(mode="json", exclude={"pbx"}),
                        "pbx": {"secret": "x"}, "timezone": "Europe/Paris"})
    paris = ZoneInfo("Europe/Paris")
    # 23:45 and 00:00 Paris time: two intervals, two local days
    late = int(datetime(2026, 3, 3, 23, 45, tzinfo=paris).timestamp())
    next_day = late + 900
    per_interval = {late: {"refund": QueueCounts(offered=2), "invoice": QueueCounts(offered=1)},
                    next_day: {"refund": QueueCounts(offered=3)}}
    rows = reasons.history(cfg, per_interval, None)
    assert [(r.reason, r.start, r.figures.offered) for r in rows] == [
        ("refund", late, 2), ("invoice", late, 1), ("refund", next_day, 3)]
    days = reasons.history(cfg, per_interval, "refund", day_period(cfg.timezone))
    midnight = datetime(2026, 3, 3, tzinfo=paris).timestamp()
    assert [(r.start, r.end, r.figures.offered) for r in days] == [
        (midnight, midnight + 86_400, 2), (midnight + 86_400, midnight + 2 * 86_400, 3)]


def test_a_local_day_of_23_hours() -> None:
    period = day_period("Europe/Paris")
    paris = ZoneInfo("Europe/Paris")
    dst = int(datetime(2026, 3, 29, 12, 0, tzinfo=paris).timestamp())  # clocks go forward
    begin, end = period(dst)
    assert end - begin == 23 * 3600


def test_trends_order_the_reasons_that_grew_most() -> None:
    cfg = config()
    now = B + 14 * 86_400 + 100  # inside an interval: this week ends with it
    end = B + 14 * 86_400 + 900
    this, last = end - 7 * 86_400, end - 14 * 86_400
    offered: dict[int, dict[str, int]] = {
        int(this): {"refund": 10, "invoice": 3},  # this week's first interval
        int(end - 900): {"refund": 5, "(none)": 1},  # the current interval
        int(last): {"refund": 5, "invoice": 6},  # last week's first interval
        int(this - 900): {"invoice": 1},  # last week's last interval
        int(last - 900): {"refund": 99},  # before last week: ignored
    }
    out = reasons.trends(cfg, now, offered)
    assert (out.this_week, out.last_week) == ([this, end], [last, this])
    got = [(t.name, t.this_week, t.last_week, t.change, t.growth) for t in out.reasons]
    assert got == [("refund", 15, 5, 10, 2.0), ("(none)", 1, 0, 1, None),
                   ("quiet", 0, 0, 0, None), ("invoice", 3, 7, -4, -4 / 7)]


def test_api_shapes_validate() -> None:
    cfg = config()
    out: dict[str, Any] = live_and_today(cfg, B, [], {"billing": counts(2, refund=2)})
    from acd.stats.reason_schema import ReasonsOut

    parsed = ReasonsOut.model_validate(out)
    assert parsed.reasons[0].today.answered == 2
