"""The post-call survey on the engine's side: ACD_SURVEY is set on the caller's channel when an
agent answers (if the queue has a survey then: a reload reaches the next answered calls), and
each answer the dialplan reports (UserEvent AcdSurvey) is checked and stored once per call.

Why a UserEvent and not AGI: the survey runs in plain dialplan (Read), so it needs nothing from
acd while the caller answers, costs one AMI event per answer, and is sent as soon as each
answer is given (a caller who hangs up after the first question keeps it). Every instance sees
the event; the store keeps one answer per call and question, whoever stores it first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acd import contract
from acd.core.events import SurveyAnswered
from acd.core.model import Call
from acd.core.survey import SurveyError, pack, read_answer
from acd.service import actions

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.flow")


class Surveys:
    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.stored = 0
        self.refused = 0  # not on the scale
        self.ignored = 0  # answered already, or the call was never answered by an agent

    def answered(self, call: Call) -> None:
        """The call was answered: arm its survey (before ACD_DONE lets it leave the loop)."""
        qcfg = self.e.cfg.queues.get(call.queue)
        if qcfg is None or qcfg.survey is None or not call.channel:
            return
        self.e.send_later(actions.setvar(call.channel, contract.VAR_SURVEY, pack(qcfg.survey)),
                          quiet=True)

    async def answer(self, ev: SurveyAnswered) -> None:
        try:
            question, value = read_answer(ev.question, ev.answer)
        except SurveyError as exc:
            self.refused += 1
            log.warning("call %s: survey answer not counted: %s", ev.call_id, exc,
                        extra={"call_id": ev.call_id})
            return
        stored = await self.e.store.survey_answer(ev.call_id, question, value, self.e.now())
        if stored is None:
            self.ignored += 1
            log.info("call %s: survey %s answer %d not counted (already answered, or the call "
                     "was not answered by an agent)", ev.call_id, question, value,
                     extra={"call_id": ev.call_id})
            return
        self.stored += 1
        log.info("call %s: survey %s = %d", ev.call_id, question, value,
                 extra={"call_id": ev.call_id, "agent_id": stored.agent_id})
