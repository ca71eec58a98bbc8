"""Wrap-up codes (issue 9): what an agent may give after a call, and when its wrap-up ends.
Pure.

During wrap-up the agent gives one or more codes of the queue's list ([queues.NAME.
wrapup_codes]), through the API or from the phone (*55, the code's digits, then 1 resolved /
2 not resolved), plus "resolved: yes/no". `wrapup_mode`:
- `timeout`: the wrap-up ends after `wrapup_s` (or when the agent says it is ready); without a
  code it is recorded as `none`;
- `until_code`: the wrap-up lasts until a code is given, and then ends at once; ready and not
  ready are refused before (a log-out still ends it, as `none`).
The codes are counted once, when the wrap-up ends (acd/store/lua/set_agent_state.lua).
"""

from __future__ import annotations

from acd.config import NONE_CODE, Config, QueueConfig

__all__ = ["NONE_CODE", "code_of_digits", "needs_code", "resolved_of_digit", "unknown_codes",
           "wraps_up"]


def wraps_up(qcfg: QueueConfig | None) -> bool:
    """Does an agent wrap up after a call of this queue?"""
    if qcfg is None:
        return False
    return qcfg.wrapup_s > 0 or qcfg.wrapup_mode == "until_code"


def ends_by_timer(qcfg: QueueConfig | None) -> bool:
    return qcfg is not None and qcfg.wrapup_mode == "timeout" and qcfg.wrapup_s > 0


def needs_code(cfg: Config, queue: str) -> bool:
    """Must an agent wrapping up a call of `queue` give a code before it is ready again?"""
    qcfg = cfg.queues.get(queue)
    return qcfg is not None and qcfg.wrapup_mode == "until_code"


def unknown_codes(cfg: Config, queue: str, codes: list[str]) -> list[str]:
    """The codes that are not in the queue's list (in the order given)."""
    qcfg = cfg.queues.get(queue)
    known = qcfg.wrapup_codes if qcfg is not None else {}
    return [c for c in codes if c not in known]


def code_of_digits(cfg: Config, queue: str, digits: str) -> str | None:
    """The queue's code keyed as `digits` on the phone, or None."""
    qcfg = cfg.queues.get(queue)
    if qcfg is None or not digits:
        return None
    return next((code for code, c in qcfg.wrapup_codes.items() if c.digits == digits), None)


def resolved_of_digit(digit: str) -> bool | None:
    """The phone's answer to "resolved?": 1 yes, 2 no, anything else not said."""
    return {"1": True, "2": False}.get(digit.strip())
