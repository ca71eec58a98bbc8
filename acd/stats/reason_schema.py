"""The shape of the figures by call reason (issue 9): what GET /api/v1/reasons,
/api/v1/reasons/history and /api/v1/reasons/trends serve and the wallboard shows. The OpenAPI
document is generated from these classes. Definitions: acd/stats/reasons.py."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from acd.stats.schema import WindowFigures, _Out

HistoryStep = Literal["interval", "day"]


class ReasonWindow(WindowFigures):
    """A queue's figures (offered, answered, SL, ASA, AHT, repeats, transfers ...) counted for
    the calls of one reason, plus what happened after the first answer. Each call counts once:
    offered, answered and abandoned at its first offer; `handled` when its last conversation
    ended; `transferred` once however often it was transferred (transfer_rate = transferred /
    answered); talk and wrap-up of every conversation (AHT: the effort of a call)."""

    resolved: int = Field(description="calls whose last agent said resolved")
    unresolved: int = Field(description="calls whose last agent said not resolved")
    resolved_rate: float | None = Field(description="resolved / (resolved + unresolved)")
    codes: dict[str, int] = Field(description="wrap-up code -> wrap-ups (every agent's; "
                                  "`none`: ended without a code)")
    csat_answers: int = Field(description="post-call survey answers to the CSAT question")
    csat_index: float | None = Field(description="0..100: answers on 1..5 mapped evenly "
                                     "(1 -> 0, 5 -> 100) and averaged")
    nps_answers: int = Field(description="answers to the 0..10 recommendation question")
    nps: float | None = Field(description="% promoters (9-10) - % detractors (0-6)")


class ReasonFigures(_Out):
    name: str = Field(description="the reason ([reasons.NAME]); '(none)': calls without one")
    label: str
    waiting: int = Field(description="calls of this reason waiting now")
    connected: int = Field(description="... ringing an agent or talking now")
    today: ReasonWindow = Field(description="since local midnight")


class ReasonsOut(_Out):
    generated_at: float
    reasons: list[ReasonFigures] = Field(description="every configured reason (config order) "
                                         "and '(none)', then any other reason counted today")


class ReasonHistoryRow(_Out):
    reason: str
    start: float = Field(description="epoch seconds: the interval's (or local day's) start")
    end: float
    figures: ReasonWindow


class ReasonHistoryOut(_Out):
    reason: str | None = Field(description="null: every reason")
    step: HistoryStep = Field(description="interval: 15 minutes; day: local days (the "
                              "centre's time zone)")
    start: float
    end: float
    rows: list[ReasonHistoryRow] = Field(description="oldest first, then by reason")


class ReasonTrend(_Out):
    name: str
    label: str
    this_week: int = Field(description="calls offered in the last 7 days")
    last_week: int = Field(description="calls offered in the 7 days before")
    change: int = Field(description="this_week - last_week")
    growth: float | None = Field(description="change / last_week (null when last_week is 0)")


class ReasonTrendsOut(_Out):
    generated_at: float
    this_week: list[float] = Field(description="[start, end) epoch seconds")
    last_week: list[float] = Field(description="[start, end) epoch seconds")
    reasons: list[ReasonTrend] = Field(description="the reasons that grew most first")
