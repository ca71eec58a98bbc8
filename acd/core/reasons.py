"""Call reasons (issue 9): which reason a call has, where it goes and what it needs. Pure.

A reason is what the caller needs ([reasons.NAME]); queues are apart, so one queue serves
several reasons. The IVR records it (a menu option's `reasons`, a set node's `reason`); a CRM
lookup may name one too (`crm_reason` in the IVR's data): the caller's own choice wins. Only
configured reasons count: anything else is no reason ("").
"""

from __future__ import annotations

from collections.abc import Mapping

from acd.config import Config

NO_REASON = "(none)"  # the figures' name for calls without a reason (never a config name)
CRM_REASON_KEY = "crm_reason"  # where a CRM lookup leaves the reason it found (IVR data)


def of_call(cfg: Config, stated: str, data: Mapping[str, str] | None = None) -> str:
    """The call's reason: the one the caller stated, else the CRM's, if configured."""
    for candidate in (stated, (data or {}).get(CRM_REASON_KEY, "")):
        if candidate and candidate in cfg.reasons:
            return candidate
    return ""


def queue_for(cfg: Config, reason: str, queue: str, use_reason_queue: bool) -> str:
    """The queue a queue node sends the call to: the reason's default queue when the node
    says so and the reason has one, else the node's own."""
    rcfg = cfg.reasons.get(reason)
    if use_reason_queue and rcfg is not None and rcfg.queue is not None:
        return rcfg.queue
    return queue


def skills_of(cfg: Config, reason: str) -> dict[str, int]:
    """The skills (minimum levels) a reason needs, e.g. an authority level."""
    rcfg = cfg.reasons.get(reason)
    return dict(rcfg.skills) if rcfg is not None else {}


def label_of(cfg: Config, reason: str) -> str:
    rcfg = cfg.reasons.get(reason)
    if rcfg is None:
        return "no reason given" if reason in ("", NO_REASON) else reason
    return rcfg.label or reason


def figures_name(reason: str) -> str:
    """The name a reason is counted under (calls without one under NO_REASON)."""
    return reason or NO_REASON
