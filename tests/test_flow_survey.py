"""The post-call survey end to end: callers answer by DTMF in acd-after (the simulated PBX runs
the dialplan), acd stores each answer once, and the CSAT index and NPS per queue, per agent and
for the centre are exactly what a hand computation gives."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from acd.testing.harness import Harness, wait_for
from tests.flowkit import answer, call_of, centre, lab, login, place, truth_of

__all__ = ["lab"]

SURVEY = {"csat": True, "nps": True, "timeout_s": 2}


async def talk_then_agent_hangs_up(h: Harness, number: str, agent_id: str,
                                   *inputs: str | None) -> str:
    place(h, number, *inputs)
    await answer(h, number, agent_id)
    call_id = call_of(h, number).id  # type: ignore[union-attr]
    caller = h.sim.pbx.channels[truth_of(h, number)["channel"]]
    await wait_for(lambda: caller.variables.get("ACD_DONE") == "1", 10, "ACD_DONE")
    h.sim.agent_hangup(h.cfg.agents[agent_id].interface)
    await wait_for(lambda: truth_of(h, number)["ended_at"] is not None, 15,
                   f"{number} through the survey")
    return call_id


async def test_survey_answers_feed_csat_and_nps_exactly(lab: Any) -> None:
    cfg = centre(sales={"survey": {"csat": True, "timeout_s": 2}}, support={"survey": SURVEY})
    cfg["integrations"] = {"records": {"maxlen": 5000}}
    h: Harness = await lab(cfg)
    await login(h, "a1")
    await login(h, "a2")
    # support, a2: CSAT 4, 2, 5 -> 75, 25, 100; NPS 10 (promoter), 6 (detractor), none.
    first = await talk_then_agent_hangs_up(h, "7001", "a2", "2", "4", "10")
    await talk_then_agent_hangs_up(h, "7002", "a2", "2", "2", "6#")
    await talk_then_agent_hangs_up(h, "7003", "a2", "2", "5", None)
    # Out of the scales: CSAT 9 and NPS 12 are not counted.
    await talk_then_agent_hangs_up(h, "7004", "a2", "2", "9", "12")
    # sales, a1: CSAT 3 -> 50 (no NPS question in sales).
    await talk_then_agent_hangs_up(h, "7005", "a1", "1", "3")
    surveys = h.engine.flow.surveys
    await wait_for(lambda: surveys.stored == 6 and surveys.refused == 2, 10, "every answer")
    heard = [w for _, w in truth_of(h, "7005")["heard"]]
    assert any(w.startswith("Read(ACD_CSAT,acd/survey-csat,1") for w in heard)
    assert not any(w.startswith("Read(ACD_NPS") for w in heard)
    assert "Playback(acd/survey-thanks)" in heard

    # A replayed answer (the same UserEvent again) changes nothing: once per call.
    await h.engine.send({"Action": "UserEvent", "UserEvent": "AcdSurvey", "Call": first,
                         "Question": "csat", "Answer": "1"})
    await wait_for(lambda: surveys.ignored == 1, 10, "the replay to be seen")
    answered = [e for _, e in await h.engine.store.read_events()
                if e["type"] == "survey_answered"]
    assert len(answered) == 6

    assert h.service.backend is not None
    snap = await h.service.backend.refresh()
    for window in ("15m", "60m", "today"):
        support = next(q for q in snap.queues if q.name == "support").windows[window].survey
        sales = next(q for q in snap.queues if q.name == "sales").windows[window].survey
        assert (support.csat_answers, support.csat_index) == (3, pytest.approx(200 / 3))
        assert (support.nps_answers, support.promoters, support.detractors) == (2, 1, 1)
        assert support.nps == 0.0
        assert (sales.csat_answers, sales.csat_index, sales.nps) == (1, 50.0, None)
        total = snap.centre.windows[window].survey
        assert (total.csat_answers, total.csat_index) == (4, 62.5)
        agents = {a.id: a.survey[window] for a in snap.agents}  # type: ignore[index]
        assert (agents["a2"].csat_answers, agents["a2"].csat_index) == (3, pytest.approx(200 / 3))
        assert agents["a2"].nps == 0.0
        assert (agents["a1"].csat_index, agents["a1"].nps_answers) == (50.0, 0)
        assert agents["a3"].csat_answers == 0 and agents["a3"].csat_index is None
    stored = await h.engine.store.get_call(first)
    assert stored is not None and stored.survey == {"csat": 4, "nps": 10}

    # The call records carry the answers (amended after the call's end) and the EWT predicted.
    assert h.service.integrations is not None and h.service.integrations.records is not None
    reader = h.service.integrations.records

    async def records() -> dict[str, dict[str, Any]]:
        found = await reader.call_records(0, time.time() + 60, 100)
        return {r["caller_num"]: r for r in found}

    deadline = time.monotonic() + 10
    # (a record waits for its agent's wrap-up to end: the last ones may come a little later)
    while (len(found := await records()) < 5
           or found.get("7002", {}).get("survey_nps") != 6):
        assert time.monotonic() < deadline, "the amended records"
        await asyncio.sleep(0.05)
    recs = await records()
    assert len(recs) == 5
    assert (recs["7001"]["survey_score"], recs["7001"]["survey_nps"]) == (4, 10)
    assert (recs["7003"]["survey_score"], recs["7003"]["survey_nps"]) == (5, None)
    assert (recs["7004"]["survey_score"], recs["7004"]["survey_nps"]) == ("", None)
    assert recs["7005"]["survey_score"] == 3
    assert all(0 <= r["ewt_predicted_s"] < 1 for r in recs.values())  # agents were free


async def test_no_survey_when_the_caller_hangs_up_first(lab: Any) -> None:
    h: Harness = await lab(centre(support={"survey": SURVEY}))
    await login(h, "a2")
    caller = place(h, "7101", "2", "5", "9")
    await answer(h, "7101", "a2")
    h.sim.hangup_caller(caller)
    await wait_for(lambda: call_of(h, "7101") is None, 10, "the call to end")
    assert not any(w.startswith("Read(ACD_CSAT") for _, w in truth_of(h, "7101")["heard"])
    assert h.engine.flow.surveys.stored == 0
