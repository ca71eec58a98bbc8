"""Recording of answered calls (`[queues.NAME.recording]`): AMI MixMonitor on the caller
channel once the agent is bridged, and pause / resume (MixMonitorMute) for the API, e.g. while
the caller reads a card number. The file name and the pauses are kept with the call (so in its
record).

MixMonitor is sent from a task of its own (the engine's events go on meanwhile); the file name
is stored once the PBX accepted it, so a call record never names a file that was not started.
Pause and resume run inside the engine's consumer (API commands do), in order with the events.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from acd.api.backend import CommandError
from acd.core import recording
from acd.core.model import Agent, Call, CallState
from acd.service import actions

if TYPE_CHECKING:
    from acd.service.engine import Engine

log = logging.getLogger("acd.recording")


class Recorder:
    def __init__(self, engine: Engine) -> None:
        self.e = engine

    def answered(self, call: Call, agent: Agent) -> None:
        """The agent is bridged with the caller: start recording if the queue wants it."""
        qcfg = self.e.cfg.queues.get(call.queue)
        rec = qcfg.recording if qcfg is not None else None
        if rec is None or not rec.enabled:
            return
        if call.recording_file:  # answered again after a transfer: MixMonitor still runs
            return
        fields = {"call_id": call.id, "uniqueid": call.uniqueid, "queue": call.queue,
                  "agent": agent.id, "caller_num": call.caller_num, "pbx": call.pbx}
        name = recording.file_name(rec, fields, self.e.cfg.timezone, self.e.now())
        self.e.spawn(self._start(call.id, call.channel, name, rec.options), "mixmonitor")

    async def _start(self, call_id: str, channel: str, name: str, options: str) -> None:
        if not await self.e.send(actions.mixmonitor(channel, name, options)):
            log.warning("call %s: recording not started (the AMI user needs `system` in its "
                        "write privileges for MixMonitor)", call_id, extra={"call_id": call_id})
            return
        try:
            await self.e.run_in_order(lambda: self._started(call_id, name))
        except Exception:  # Redis away: the recording runs, its name is not kept
            log.exception("call %s: recording %s started but not stored", call_id, name)

    async def _started(self, call_id: str, name: str) -> None:
        if await self.e.store.update_call(call_id, recording_file=name):
            call = self.e.calls.get(call_id)
            if call is not None:
                call.recording_file = name
            log.info("call %s recorded to %s", call_id, name, extra={"call_id": call_id})

    async def pause(self, call_id: str, pause: bool, agent_id: str | None) -> dict[str, Any]:
        """Pause or resume the call's recording (inside the consumer). `agent_id`: the caller
        is that agent's desktop, which may only touch its own call. Raises CommandError."""
        call = self.e.calls.get(call_id)
        if call is None:
            raise CommandError("unknown_call", f"no live call {call_id!r}", 404)
        if agent_id is not None and call.agent_id != agent_id:
            raise CommandError("forbidden", f"call {call_id} is not agent {agent_id}'s", 403)
        if call.state is not CallState.CONNECTED:
            raise CommandError("not_connected", f"call {call_id} is {call.state.value}, "
                               "not connected to an agent", 409)
        qcfg = self.e.cfg.queues.get(call.queue)
        if qcfg is None or qcfg.recording is None or not qcfg.recording.enabled:
            raise CommandError("recording_off", f"queue {call.queue} does not record calls",
                               409)
        if not call.recording_file:
            raise CommandError("not_recording", f"call {call_id} is not being recorded "
                               "(not started yet, or the PBX refused it)", 409)
        try:
            pauses = (recording.paused if pause else recording.resumed)(
                call.recording_pauses, self.e.now())
        except ValueError as exc:
            raise CommandError("already_paused" if pause else "not_paused",
                               f"call {call_id}: {exc}", 409) from None
        if not await self.e.send(actions.mixmonitor_mute(call.channel, pause)):
            verb = "pause" if pause else "resume"
            raise CommandError("pbx_refused", f"the PBX refused to {verb} the recording of "
                               f"call {call_id}", 502)
        await self.e.store.update_call(call_id, recording_pauses=pauses)
        call.recording_pauses = pauses
        log.info("call %s: recording %s", call_id, "paused" if pause else "resumed",
                 extra={"call_id": call_id})
        return {"call_id": call_id, "recording_file": call.recording_file,
                "paused": recording.is_paused(pauses), "pauses": pauses}
