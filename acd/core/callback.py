"""The callback that keeps its place: who may be offered one, what the hold loop is told, when
the next attempt is. Pure.

ACD_OFFER = "<seq>:<prompt>:<timeout s>:<key>:<booked prompt>" (dialplans: [acd-offer]); a new
`seq` is a new offer, made once by the loop.
"""

from __future__ import annotations

import re

from acd.config_policies import CallbackConfig

_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


def callback_number(caller_num: str) -> str | None:
    """The number to call back: the caller's number if it can be dialled (digits, a leading
    '+'; an anonymous or odd caller id gets no offer)."""
    number = caller_num.strip()
    return number if _NUMBER.match(number) else None


def dial_string(cfg: CallbackConfig, number: str) -> str:
    return cfg.dial.replace("{number}", number)


def should_offer(cfg: CallbackConfig | None, ewt_s: float | None) -> bool:
    """The EWT trigger of the offer (admission's action = callback offers whatever the EWT)."""
    return cfg is not None and cfg.offer and ewt_s is not None and ewt_s > cfg.offer_over_ewt_s


def pack_offer(seq: int, cfg: CallbackConfig) -> str:
    return f"{seq}:{cfg.offer_prompt}:{cfg.offer_timeout_s}:{cfg.key}:{cfg.booked_prompt}"


def next_attempt_at(cfg: CallbackConfig, failed: int, now: float) -> float | None:
    """After `failed` unanswered attempts: when to try again, or None (no attempts left)."""
    return None if failed >= cfg.attempts else now + cfg.retry_after_s


# Dial statuses of acd-callback's UserEvent that mean the customer was not reached.
NOT_REACHED = frozenset({"NOANSWER", "BUSY", "CONGESTION", "CHANUNAVAIL", "CANCEL", "DONTCALL",
                         "TORTURE", "INVALIDARGS", "LOST"})
