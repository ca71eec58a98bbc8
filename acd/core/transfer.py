"""Transfers and escalation (issue 9): where a call may go and what it needs there. Pure.

A transferred call keeps its data (reason, IVR inputs, VIP flag, priority) and its original
entry time, so it keeps its seniority in the queue it goes to. Its required skills there are
that queue's own plus what the caller brought (its language, from the IVR) and, except for an
escalation, what its reason needs (an authority): the receiving agent must hold those too. An
escalation goes to the supervisors' queue (the queue's `escalation_queue`, else the centre's),
whose own skills stand for the authority.
"""

from __future__ import annotations

from typing import Literal

from acd.config import Config
from acd.core.ivr_state import merge_skills
from acd.core.model import Call
from acd.core.reasons import skills_of

TargetKind = Literal["queue", "agent"]
TransferKind = Literal["blind", "warm", "escalation"]


def escalation_queue(cfg: Config, queue: str) -> str | None:
    """The supervisors' queue a call of `queue` escalates to, or None."""
    qcfg = cfg.queues.get(queue)
    if qcfg is not None and qcfg.escalation_queue is not None:
        return qcfg.escalation_queue
    return cfg.escalation_queue


def brought_skills(cfg: Config, call: Call) -> dict[str, int]:
    """The skills the caller brought (IVR set nodes: a language): the call's requirement
    without its queue's and its reason's own skills."""
    qcfg = cfg.queues.get(call.queue)
    own = set(qcfg.skills) if qcfg is not None else set()
    own |= set(skills_of(cfg, call.reason))
    return {skill: level for skill, level in call.required.items() if skill not in own}


def required_in(cfg: Config, call: Call, queue: str, kind: TransferKind) -> dict[str, int]:
    """The call's required skills once it is in `queue` after a transfer of `kind`."""
    qcfg = cfg.queues.get(queue)
    reason = {} if kind == "escalation" else skills_of(cfg, call.reason)
    return merge_skills(qcfg.skills if qcfg is not None else {}, brought_skills(cfg, call),
                        reason)


def target_of_digits(cfg: Config, digits: str) -> tuple[TargetKind, str] | None:
    """What an agent keyed after *56 / *57: a queue's transfer_code, else an agent's
    extension (the config checks they never clash)."""
    if not digits:
        return None
    queue = next((name for name, q in cfg.queues.items() if q.transfer_code == digits), None)
    if queue is not None:
        return "queue", queue
    agent = next((aid for aid, a in cfg.agents.items() if a.extension == digits), None)
    return ("agent", agent) if agent is not None else None


def history_entry(entry: dict[str, object]) -> dict[str, object]:
    """One stored transfer (strings from Lua) in the shape the API and screen pops show."""
    at = entry.get("at")
    return {"at": float(at) if isinstance(at, str | int | float) and str(at) else None,
            "kind": str(entry.get("kind", "")), "from_queue": str(entry.get("from_queue", "")),
            "to_queue": str(entry.get("to_queue", "")),
            "from_agent": str(entry.get("from_agent", "")),
            "to_agent": str(entry.get("to_agent", ""))}
