"""What the store's atomic steps return, decoded from the Lua replies."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from acd.core.model import Agent, AgentState, Call, CallState
from acd.store.codec import decode_agent, decode_call, pairs

ClaimReason = Literal["ok", "call_not_waiting", "agent_not_ready", "no_such_call", "no_such_agent"]


class StoreError(RuntimeError):
    """The store could not do what was asked (not a refusal: those are return values)."""


@dataclass(frozen=True, slots=True)
class ClaimResult:
    ok: bool
    reason: ClaimReason
    call: Call | None  # the call as it is now (claimed or not), None if unknown or lean
    agent: Agent | None  # the agent as it is now, None if unknown or lean
    at: float | None = None  # the claim's time (`now`), given with a lean result

    @property
    def lean(self) -> bool:
        """A won lean claim (Store.prepare_claim): neither hash came back."""
        return self.ok and self.call is None

    def claimed(self, call: Call, agent: Agent, leg_id: str) -> tuple[Call, Agent]:
        """The waiting call and the ready agent as the claim left them (what claim.lua
        changes, and nothing else): a lean result's call and agent, from the caller's
        copies of them before it."""
        if self.at is None:
            raise StoreError("the claim's time is unknown: not a lean result")
        return (replace(call, state=CallState.RINGING, agent_id=agent.id, leg_id=leg_id),
                replace(agent, state=AgentState.RESERVED, reason="", state_since=self.at,
                        call_id=call.id, leg_id=leg_id))


@dataclass(frozen=True, slots=True)
class EndResult:
    call: Call
    agent: Agent | None  # the agent freed by the end (ready or wrap_up), None if none was


def is_stale(reply: Any) -> bool:
    """A script saw that the keys store.py derived from a read had changed since: retry."""
    return isinstance(reply, list) and len(reply) == 1 and reply[0] == "stale"


def _fields(reply: Any) -> dict[str, str]:
    # HGETALL from Python gives a dict; from Lua, a flat list (k1, v1, k2, v2, ...).
    return dict(reply) if isinstance(reply, dict) else pairs(reply)


def call_of(reply: Any) -> Call | None:
    """None for an empty reply (no such hash)."""
    return decode_call(_fields(reply)) if reply else None


def agent_of(reply: Any) -> Agent | None:
    return decode_agent(_fields(reply)) if reply else None


_REASONS: dict[str, ClaimReason] = {r: r for r in get_args(ClaimReason)}


def claim_result(reply: list[Any], now: float | None = None) -> ClaimResult:
    """{reason, call, agent}, or {'ok'} alone from a lean claim made at `now`."""
    reason = _REASONS.get(reply[0])
    if reason is None:
        raise StoreError(f"unexpected claim reply: {reply!r}")
    if len(reply) == 1 and reason == "ok":
        if now is None:
            raise StoreError("a lean claim's reply, without the claim's time")
        return ClaimResult(True, reason, None, None, now)
    return ClaimResult(reason == "ok", reason, call_of(reply[1]), agent_of(reply[2]))


def call_and_agent(reply: Any) -> tuple[Call, Agent | None] | None:
    """Decode {'ok', call, agent} or nil."""
    if reply is None:
        return None
    call = call_of(reply[1])
    if call is None:
        raise StoreError(f"script reply without the call: {reply!r}")
    return call, agent_of(reply[2])
