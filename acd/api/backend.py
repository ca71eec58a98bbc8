"""What the HTTP API needs from the service: the contract between acd/api and acd/service.

The API never talks to AMI or Redis itself: it reads the latest figures snapshot (recomputed at
most every `http.snapshot_interval_s`, so a thousand pollers cost Redis nothing more) and asks
the service to carry out supervisor commands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from acd.core.agent_actions import AgentAction
from acd.stats.reason_schema import HistoryStep

__all__ = ["AgentAction", "Backend", "CommandError", "PublishHook", "Publishing", "Readiness"]


class CommandError(Exception):
    """A supervisor command that cannot be carried out. `code` is stable (part of the API)."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    ami: bool
    redis: bool
    reason: str  # empty when ready; else what is missing, for /readyz


# Called with {id(replaced object): its successor} (the snapshot, each PBX's, the reasons'
# figures) before a refresh is published, so that what readers are served can be made ahead.
PublishHook = Callable[[Mapping[int, object]], Awaitable[None]]


@runtime_checkable
class Publishing(Protocol):
    """A backend that calls its `before_publish` hooks with each refresh."""

    before_publish: list[PublishHook]


class Backend(Protocol):
    def snapshot(self) -> dict[str, Any]:
        """The latest figures (the JSON shape of acd/stats/figures.py: generated_at, centre,
        queues, agents, calls, ivr_funnel)."""

    def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        """Each new snapshot as it is made (at most one per snapshot interval)."""

    async def history(self, queue: str | None, start: float, end: float) -> list[dict[str, Any]]:
        """15-minute intervals [start, end) for one queue or all: one dict per interval."""

    def reasons(self) -> dict[str, Any]:
        """Live calls and today's figures per call reason (the ReasonsOut shape), made with
        the latest snapshot; {} before the first."""

    async def reason_history(self, reason: str | None, start: float, end: float,
                             step: HistoryStep) -> list[dict[str, Any]]:
        """Figures per reason per 15-minute interval or local day (ReasonHistoryRow)."""

    async def reason_trends(self) -> dict[str, Any]:
        """This week against last week per reason (the ReasonTrendsOut shape)."""

    def readiness(self) -> Readiness: ...

    async def agent_command(self, agent_id: str, action: AgentAction,
                            reason: str) -> dict[str, Any]:
        """Log in / log out / ready / not ready; returns the agent as the snapshot shows agents.
        Raises CommandError (unknown_agent 404, agent_busy 409, bad_transition 409)."""

    async def set_call_priority(self, call_id: str, priority: int) -> dict[str, Any]:
        """Change a waiting call's priority (its place follows); returns the call.
        Raises CommandError (unknown_call 404, not_waiting 409)."""

    async def recording_command(self, call_id: str, pause: bool,
                                agent_id: str | None) -> dict[str, Any]:
        """Pause (or resume) the recording of a connected call; `agent_id`: asked by that
        agent's desktop token, which may only touch its own call. Returns the recording.
        Raises CommandError (unknown_call 404, forbidden 403, not_connected, recording_off,
        not_recording, already_paused, not_paused 409, pbx_refused 502)."""

    async def set_wrapup(self, agent_id: str, codes: list[str], resolved: bool | None,
                         done: bool) -> dict[str, Any]:
        """Wrap-up codes of the agent's last call (issue 9); returns the WrapupOut shape.
        Raises CommandError (unknown_agent 404, not_in_wrapup 409, bad_code 400,
        code_required 409)."""

    async def transfer_call(self, call_id: str, queue: str | None, agent: str | None,
                            mode: str) -> dict[str, Any]:
        """Transfer a connected call to a queue or an agent, blind or warm (a consultation
        first); returns the TransferOut shape. Raises CommandError (unknown_call 404,
        unknown_queue 404, unknown_agent 404, not_connected 409, callback_call 409 (a
        callback: the customer is on the agent's own Dial), consult_in_progress 409,
        agent_not_ready 409, no_agent_ready 409, same_agent 409)."""

    async def escalate_call(self, call_id: str) -> dict[str, Any]:
        """Blind transfer to the supervisors' queue (no_escalation_queue 409 if none)."""

    async def finish_transfer(self, call_id: str, complete: bool) -> dict[str, Any]:
        """Complete (or cancel) the warm transfer of the call (no_consultation 409)."""

    async def reload_config(self) -> dict[str, Any]:
        """Re-read the config file; a bad config keeps the running one and raises
        CommandError(code="bad_config", status=400) listing the problems."""
