"""Config of the caller-facing policies of a queue (issue 4): admission and overflow,
position and EWT announcements, the callback that keeps its place, the post-call survey.

Kept apart from acd/config.py (which holds them as QueueConfig fields) so that the policies'
schema reads as one piece. Every table is optional: a queue without it has the policy off.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_NAME = r"^[A-Za-z0-9_.-]+$"
QueueName = Annotated[str, Field(pattern=_NAME, min_length=1, max_length=64)]
# A sound file name as Playback() takes it (no extension). No ':' or ',': prompts travel to the
# dialplan inside packed channel variables (see acd/core/announce.py) and application arguments.
Prompt = Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+$", max_length=128)]
# app_voicemail's mailbox[@context].
Mailbox = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+(@[A-Za-z0-9_.-]+)?$", max_length=80)]

AdmissionAction = Literal["overflow", "voicemail", "closed", "callback"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AdmissionConfig(_Model):
    """When a caller may not wait in this queue (any trigger given), and where it goes instead
    (`action`). Checked when the caller enters the queue and, every `check_every_s`, while it
    waits: a lowered limit (config reload) or the last able agent logging out reaches callers
    already waiting."""

    max_ewt_s: float | None = Field(None, gt=0, description="the caller's estimated wait (its "
                                    "position, the agents able to take it, recent handle "
                                    "times) is above this: no estimate, no refusal")
    max_waiting: int | None = Field(None, ge=0, description="length cap: a caller arriving "
                                    "when this many wait already is refused; while waiting, "
                                    "the callers placed beyond the cap are")
    no_agents: bool = Field(False, description="refuse when no logged-in agent (ready, busy or "
                            "paused) could ever take the call")
    action: AdmissionAction = Field(description="overflow: to `overflow_queue` (offered to "
                                    "both, counted overflowed here); voicemail: to `mailbox`; "
                                    "closed: `closed_prompt`, then hang up; callback: the "
                                    "callback offer of [queues.NAME.callback] at once (the "
                                    "caller waits if it does not take it)")
    overflow_queue: QueueName | None = Field(None, description="the queue for `overflow`; the "
                                             "caller keeps its entry time and data there")
    mailbox: Mailbox | None = Field(None, description="mailbox[@context] for `voicemail`")
    closed_prompt: Prompt = Field("acd/closed", description="played by `closed`")
    while_waiting: bool = Field(True, description="check callers already waiting too")
    check_every_s: float = Field(10.0, gt=0, le=3600, description="how often waiting callers "
                                 "are checked")

    @model_validator(mode="after")
    def _complete(self) -> AdmissionConfig:
        if self.max_ewt_s is None and self.max_waiting is None and not self.no_agents:
            raise ValueError("give at least one of max_ewt_s, max_waiting, no_agents = true")
        if self.action == "overflow" and self.overflow_queue is None:
            raise ValueError("action overflow needs overflow_queue")
        if self.action == "voicemail" and self.mailbox is None:
            raise ValueError("action voicemail needs mailbox")
        return self


class AnnounceConfig(_Model):
    """Position and estimated wait announced to waiting callers, between music slices of the
    hold loop (stock Asterisk sounds: queue-thereare, queue-callswaiting, queue-youarenext,
    queue-holdtime, queue-minutes, queue-less-than, queue-minute). Never delays a connect: an
    agent's Bridge() takes the caller out of an announcement as out of the music."""

    position: bool = Field(True, description="say the caller's place in the queue")
    ewt: bool = Field(True, description="say the estimated wait, in minutes (\"less than a "
                      "minute\" below one; nothing when there is no estimate)")
    on_entry: bool = Field(True, description="announce as soon as the caller enters the queue")
    every_s: float = Field(60.0, ge=0, le=3600, description="then again this often (0: only "
                           "on entry)")
    only_changes: bool = Field(False, description="repeat only when the place or the minutes "
                               "said changed")

    @model_validator(mode="after")
    def _says_something(self) -> AnnounceConfig:
        if not (self.position or self.ewt):
            raise ValueError("announce at least one of position, ewt")
        if not self.on_entry and not self.every_s:
            raise ValueError("on_entry = false needs every_s > 0")
        return self


class SurveyConfig(_Model):
    """Post-call survey: when the agent hangs up first, the caller answers by DTMF. CSAT: one
    key 1-5; NPS: 0-10 (one or two keys, then '#' or a pause). Answers outside the scale, or
    none, are not counted (and logged)."""

    csat: bool = Field(True, description="ask the satisfaction question (1-5)")
    nps: bool = Field(False, description="ask the recommendation question (0-10)")
    csat_prompt: Prompt = Field("acd/survey-csat", description="\"How satisfied were you, "
                                "from 1 (not at all) to 5 (very)?\"")
    nps_prompt: Prompt = Field("acd/survey-nps", description="\"How likely are you to "
                               "recommend us, from 0 to 10?\"")
    thanks_prompt: Prompt = Field("acd/survey-thanks", description="played at the end")
    timeout_s: int = Field(5, ge=1, le=30, description="seconds to wait for a key")

    @model_validator(mode="after")
    def _asks_something(self) -> SurveyConfig:
        if not (self.csat or self.nps):
            raise ValueError("ask at least one of csat, nps")
        return self


class CallbackConfig(_Model):
    """A callback that keeps the caller's place: offered (one key) while the caller waits;
    taken, the caller hangs up and its call stays in the queue with its entry time. When its
    turn comes an agent is rung first; once the agent answers, the agent's leg dials the
    customer through `dial`. No answer (or busy): tried again `retry_after_s` later, at most
    `attempts` times in all."""

    dial: str = Field(pattern=r"^[A-Za-z0-9]+/[^,\s]*\{number\}[^,\s]*$", max_length=120,
                      description="dial string of the customer through your trunk, with "
                      "{number} for the caller's number, e.g. PJSIP/{number}@trunk")
    offer: bool = Field(True, description="offer it to callers whose estimated wait is over "
                        "`offer_over_ewt_s` (else only through admission's action = callback)")
    offer_over_ewt_s: float = Field(120.0, ge=0, description="the estimated wait above which "
                                    "the offer is made (once per caller)")
    key: Annotated[str, Field(pattern=r"^[0-9*]$")] = Field("1", description="the key that "
                                                            "takes the offer")
    offer_prompt: Prompt = Field("acd/callback-offer", description="\"Press 1 to be called "
                                 "back without losing your place\"")
    offer_timeout_s: int = Field(5, ge=1, le=30, description="seconds to press the key after "
                                 "the prompt")
    booked_prompt: Prompt = Field("acd/callback-booked", description="\"We will call you "
                                  "back\", then the line is freed")
    attempts: int = Field(3, ge=1, le=10, description="calls to the customer at most")
    retry_after_s: float = Field(300.0, ge=1, le=86_400, description="wait after an "
                                 "unanswered (or busy) attempt")
    customer_ring_s: int = Field(30, ge=1, le=300, description="how long the customer's "
                                 "phone rings")


def policy_problems(queues: dict[str, object]) -> list[str]:
    """What a schema cannot see: references from one queue's policies to other queues."""
    out: list[str] = []
    for name, qcfg in queues.items():
        adm = getattr(qcfg, "admission", None)
        if isinstance(adm, AdmissionConfig) and adm.overflow_queue is not None:
            where = f"queues.{name}.admission.overflow_queue"
            if adm.overflow_queue not in queues:
                out.append(f"{where}: unknown queue {adm.overflow_queue!r}")
            elif adm.overflow_queue == name:
                out.append(f"{where}: a queue cannot overflow to itself")
        if isinstance(adm, AdmissionConfig) and adm.action == "callback" \
                and getattr(qcfg, "callback", None) is None:
            out.append(f"queues.{name}.admission.action: callback needs "
                       f"[queues.{name}.callback]")
    return out
