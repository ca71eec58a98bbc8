"""The post-call survey: reading the caller's answers, and what they count for. Pure.

Definitions (METRICS.md): CSAT answers 1..5 map evenly onto 0..100 (1 -> 0, 2 -> 25, ...,
5 -> 100) and the CSAT index is their mean over all answers; NPS answers 0..10 are promoters
(9-10), passives (7-8) or detractors (0-6), and NPS = % promoters - % detractors.
"""

from __future__ import annotations

from typing import Literal

from acd.config_policies import SurveyConfig

Question = Literal["csat", "nps"]
QUESTIONS: tuple[Question, ...] = ("csat", "nps")
SCALES: dict[Question, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10)}


class SurveyError(ValueError):
    """An answer that cannot be counted; the message says what is wrong with it."""


def read_answer(question: str, answer: str) -> tuple[Question, int]:
    """The question and the answer's value, or SurveyError naming the problem."""
    if question not in SCALES:
        raise SurveyError(f"unknown survey question {question!r} (known: csat, nps)")
    q: Question = "csat" if question == "csat" else "nps"
    lo, hi = SCALES[q]
    text = answer.strip()
    if not text.isascii() or not text.isdigit():
        raise SurveyError(f"{q} answer {answer!r} is not a number {lo}-{hi}")
    value = int(text)
    if not lo <= value <= hi:
        raise SurveyError(f"{q} answer {value} is outside {lo}-{hi}")
    return q, value


def csat_points(value: int) -> int:
    """A CSAT answer 1..5 on the 0..100 scale."""
    return (value - 1) * 25


def nps_class(value: int) -> Literal["promoter", "passive", "detractor"]:
    if value >= 9:
        return "promoter"
    return "passive" if value >= 7 else "detractor"


def pack(cfg: SurveyConfig) -> str:
    """The value of ACD_SURVEY for the hold loop's acd-after context."""
    return ":".join([cfg.csat_prompt if cfg.csat else "", cfg.nps_prompt if cfg.nps else "",
                     str(cfg.timeout_s), cfg.thanks_prompt])
