"""Admission: may a caller wait in a queue, and if not, where does it go. Pure: the caller
passes what it knows (the queue's admission config, the caller's EWT and place, the agents).

Triggers, checked in this order (the first that holds names the refusal):
- "no_agents": no logged-in agent (ready, busy or paused) could ever take the call;
- "full": the length cap. A caller arriving when `max_waiting` callers wait already is refused;
  a caller already waiting is refused when its place is beyond the cap (only after the cap was
  lowered, or callers with a higher priority came in front of it);
- "ewt": the caller's estimated wait is above `max_ewt_s` (no estimate: no refusal).

Overflow hops (`entry_route`) never go back to a queue the call was in: a chain of queues that
all refuse ends with the call admitted in the last one it could reach.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from acd.config import Config
from acd.config_policies import AdmissionConfig
from acd.core.ivr_state import merge_skills
from acd.core.model import Agent, AgentState, Call
from acd.core.routing import serves

Reason = Literal["no_agents", "full", "ewt"]
MAX_HOPS = 8  # overflow chain length at entry (each hop is a queue not visited before)


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: Reason
    action: str  # overflow | voicemail | closed (AdmissionConfig.action)
    target: str = ""  # the overflow queue


def refusal(adm: AdmissionConfig | None, *, ewt_s: float | None, agents_logged_in: bool,
            queue_length: int, position: int, entering: bool) -> Refusal | None:
    """Why `adm` refuses a caller, or None. `queue_length`: callers waiting in the queue other
    than this one; `position`: the caller's 1-based place there (waiting callers only)."""
    if adm is None:
        return None
    reason: Reason | None = None
    if adm.no_agents and not agents_logged_in:
        reason = "no_agents"
    elif adm.max_waiting is not None and (
            queue_length >= adm.max_waiting if entering else position > adm.max_waiting):
        reason = "full"
    elif adm.max_ewt_s is not None and ewt_s is not None and ewt_s > adm.max_ewt_s:
        reason = "ewt"
    if reason is None:
        return None
    return Refusal(reason, adm.action, adm.overflow_queue or "")


def someone_logged_in(call: Call, agents: Iterable[Agent]) -> bool:
    """Is any agent who could ever take `call` logged in (whatever its state)?"""
    return any(a.state is not AgentState.LOGGED_OUT and serves(a, call) for a in agents)


def overflow_skills(cfg: Config, call: Call, target: str) -> dict[str, int]:
    """The call's required skills in `target`: the target's own skills, plus what the IVR added
    to the call beyond its current queue's skills (a language, say)."""
    own = cfg.queues[call.queue].skills if call.queue in cfg.queues else {}
    extra = {s: lvl for s, lvl in call.required.items() if s not in own}
    return merge_skills(cfg.queues[target].skills, extra)


@dataclass(frozen=True, slots=True)
class Hop:
    queue: str
    required: dict[str, int]
    ewt_s: float | None
    position: int  # 1-based place the caller takes in the queue


@dataclass(frozen=True, slots=True)
class EntryRoute:
    """Where a new caller goes: `hops[0]` is the queue the IVR chose, each next one an
    overflow; `final` is the refusal of the last queue that is not an overflow (or None: the
    caller waits in the last queue)."""

    hops: list[Hop]
    final: Refusal | None


# (call placed in a queue) -> (EWT, agents logged in, queue length, position)
Assess = Callable[[Call], tuple[float | None, bool, int, int]]


def entry_route(cfg: Config, call: Call, assess: Assess) -> EntryRoute:
    """Follow the admission of the call's queue (and of overflow targets) for a new caller.
    `call` is the caller as it would wait in its first queue (queue, required, priority)."""
    hops: list[Hop] = []
    visited = set(call.overflow_path)
    current = call
    while True:
        ewt, logged_in, length, position = assess(current)
        hops.append(Hop(current.queue, dict(current.required), ewt, position))
        visited.add(current.queue)
        qcfg = cfg.queues.get(current.queue)
        refused = refusal(qcfg.admission if qcfg else None, ewt_s=ewt,
                          agents_logged_in=logged_in, queue_length=length, position=position,
                          entering=True)
        if refused is None or refused.action != "overflow":
            return EntryRoute(hops, refused)
        target = refused.target
        if target in visited or target not in cfg.queues or len(hops) >= MAX_HOPS:
            return EntryRoute(hops, None)  # nowhere new to go: wait here
        nxt = Call(id=call.id, channel=call.channel, uniqueid=call.uniqueid,
                   caller_num=call.caller_num, dnis=call.dnis, pbx=call.pbx,
                   state=call.state, queue=target, priority=call.priority,
                   required=overflow_skills(cfg, current, target), entered_at=call.entered_at)
        current = nxt
