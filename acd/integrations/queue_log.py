"""An Asterisk-compatible queue_log, derived from the store's events.

Lines are what app_queue writes to its queue_log file: ``epoch|callid|queuename|agent|event``
then that event's data fields, `|`-separated (only as many as the event has):

=============== ===================================== =========================================
event           data                                  from
=============== ===================================== =========================================
ENTERQUEUE      url|callerid|position                 call_queued
RINGNOANSWER    ringtime (ms)                         call_requeued
RINGCANCELED    ringtime (ms)                         call_ended while ringing
CONNECT         holdtime|bridged uniqueid|ringtime    call_answered
COMPLETECALLER  holdtime|calltime|origposition        call_ended from connected (see below)
COMPLETEAGENT   holdtime|calltime|origposition        call_ended from connected, ended_by=agent
ABANDON         position|origposition|waittime        call_ended waiting/ringing, abandoned/lost
EXITWITHTIMEOUT position|origposition|waittime        call_ended waiting/ringing, timeout
EXITEMPTY       position|origposition|waittime        call_ended waiting/ringing, fallback
AGENTLOGIN      channel                               agent logged_out -> any
AGENTLOGOFF     channel|logintime                     agent any -> logged_out
PAUSE           reason                                agent -> not_ready (and RONA's pause)
UNPAUSE         reason                                agent not_ready -> any but logged_out
BLINDTRANSFER   extension|context|holdtime|calltime|  call_transferred blind / escalation: the
                origposition                          target queue (context acd-hold) or agent
                                                      (context acd-agent); then ENTERQUEUE in
                                                      a target queue
ATTENDEDTRANSFER method|method-data|holdtime|calltime| call_transferred warm: APP|Bridge (the
                origposition                          consulted leg's Bridge() takes the
                                                      caller); then ENTERQUEUE in the queue it
                                                      goes to (and CONNECT if answered)
=============== ===================================== =========================================

callid is the caller channel's uniqueid; times are whole seconds (ringtime of RINGNOANSWER /
RINGCANCELED in ms, as Asterisk writes it); agent lines have queue and callid NONE.

A transfer ends the first agent's conversation without a COMPLETE line (as app_queue does);
holdtime is that conversation's wait (from its queue entry, or from the previous transfer),
calltime its talk.

Who hung up: the store's call_ended event carries ``ended_by`` (the engine knows whether the
agent leg or the caller channel hung up first): ``agent`` gives COMPLETEAGENT, anything else
COMPLETECALLER.

Two service instances each write their own file (the one of the instance that handled the
event); concatenate and sort by epoch for one view.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO

from acd import contract
from acd.config import QueueLogConfig
from acd.integrations.runner import Event

log = logging.getLogger("acd.integrations.queue_log")

NONE = "NONE"


def line(epoch: float, callid: str, queue: str, agent: str, event: str, *data: object) -> str:
    """One queue_log line (with its newline). `|` and newlines inside a value would break the
    format: they are replaced by blanks."""
    parts = [str(int(epoch)), callid or NONE, queue or NONE, agent or NONE, event]
    parts += ["" if d is None else str(d) for d in data]
    return "|".join(p.replace("|", " ").replace("\n", " ").replace("\r", " ")
                    for p in parts) + "\n"


def _secs(value: float | None) -> int:
    return max(0, round(value)) if value is not None else 0


class QueueLogWriter:
    name = "queue_log"

    def __init__(self, cfg: QueueLogConfig) -> None:
        self.cfg = cfg
        self.path = Path(cfg.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        self._names: dict[str, str] = {}
        self.lines = 0

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, text: str) -> None:
        if self._file is None:
            return
        self._file.write(text)
        self._file.flush()
        self.lines += 1

    async def _agent_name(self, ev: Event, agent_id: str) -> str:
        if not agent_id:
            return NONE
        if agent_id not in self._names:
            agent = await ev.agent() if agent_id == ev.agent_id else None
            if agent is None:
                return agent_id
            value = {"interface": agent.interface, "id": agent.id,
                     "name": agent.name or agent.interface}[self.cfg.agent_name]
            self._names[agent_id] = value or agent_id
        return self._names[agent_id]

    async def handle(self, ev: Event) -> None:
        if ev.type == "agent_state_changed":
            await self._agent_line(ev)
            return
        if ev.type not in ("call_queued", "call_requeued", "call_answered", "call_ended",
                           "call_transferred"):
            return
        call = await ev.call()
        callid = (call.uniqueid if call is not None and call.uniqueid else "") or ev.call_id
        queue = ev.fields.get("queue", "") or (call.queue if call is not None else "")
        t = ev.track
        agent = await self._agent_name(ev, ev.agent_id)
        if ev.type == "call_queued":
            caller = call.caller_num if call is not None else ""
            self._write(line(ev.at, callid, queue, NONE, "ENTERQUEUE", "", caller,
                             t.get("origposition", 1)))
        elif ev.type == "call_requeued":
            self._write(line(ev.at, callid, queue, agent, "RINGNOANSWER",
                             round(t.get("ring_s", 0.0) * 1000)))
            if ev.fields.get("agent_state") == "not_ready":
                self._write(line(ev.at, NONE, NONE, agent, "PAUSE",
                                 ev.fields.get("reason", "")))
        elif ev.type == "call_transferred":
            await self._transferred(ev, callid, agent, call.caller_num if call else "")
        elif ev.type == "call_answered":
            entered = t.get("segment_at") or ev.float_field("entered_at")
            self._write(line(ev.at, callid, queue, agent, "CONNECT",
                             _secs(ev.at - entered if entered else None),
                             ev.fields.get("leg_id", ""), _secs(t.get("ring_s"))))
        else:
            self._ended(ev, callid, queue, agent)

    def _ended(self, ev: Event, callid: str, queue: str, agent: str) -> None:
        t = ev.track
        from_state, outcome = ev.fields.get("from_state", ""), ev.fields.get("outcome", "")
        entered = ev.float_field("entered_at")
        answered = ev.float_field("answered_at")
        orig = t.get("origposition", 1)
        if from_state == "connected":
            event = "COMPLETEAGENT" if ev.fields.get("ended_by") == "agent" else "COMPLETECALLER"
            hold = answered - entered if answered and entered else None
            talk = ev.at - answered if answered else None
            self._write(line(ev.at, callid, queue, agent, event, _secs(hold), _secs(talk), orig))
            return
        if from_state not in ("waiting", "ringing"):
            return  # never queued (IVR): app_queue never saw it
        if from_state == "ringing":
            self._write(line(ev.at, callid, queue, agent, "RINGCANCELED",
                             round(t.get("ring_s", 0.0) * 1000)))
        event = {"timeout": "EXITWITHTIMEOUT", "fallback": "EXITEMPTY"}.get(outcome, "ABANDON")
        wait = ev.at - entered if entered else None
        self._write(line(ev.at, callid, queue, NONE, event, t.get("position", 1), orig,
                         _secs(wait)))

    async def _transferred(self, ev: Event, callid: str, agent: str, caller: str) -> None:
        """BLINDTRANSFER / ATTENDEDTRANSFER in the queue left, then the call's entry in the
        queue it goes to (issue 9)."""
        t, f = ev.track, ev.fields
        src, dst, to_agent = f.get("from_queue", ""), f.get("queue", ""), f.get("to_agent", "")
        answered = ev.float_field("answered_at")
        hold_from = t.get("hold_from")
        hold = answered - float(hold_from) if answered and hold_from else None
        talk = ev.at - answered if answered else None
        orig = t.get("origposition", 1)
        if f.get("kind") == "warm":
            self._write(line(ev.at, callid, src, agent, "ATTENDEDTRANSFER", "APP", "Bridge",
                             _secs(hold), _secs(talk), orig))
        else:
            exten, context = (self._names.get(to_agent, to_agent), contract.CTX_AGENT) \
                if to_agent else (dst, contract.CTX_HOLD)
            self._write(line(ev.at, callid, src, agent, "BLINDTRANSFER", exten, context,
                             _secs(hold), _secs(talk), orig))
        if f.get("state") == "ringing":
            return  # rings an agent: CONNECT (or RINGNOANSWER) follows
        self._write(line(ev.at, callid, dst, NONE, "ENTERQUEUE", "", caller,
                         t.get("position", 1)))
        if f.get("state") == "connected":
            self._write(line(ev.at, callid, dst, self._names.get(to_agent, to_agent),
                             "CONNECT", 0, f.get("leg_id", ""), 0))

    async def _agent_line(self, ev: Event) -> None:
        before, after = ev.fields.get("from_state", ""), ev.fields.get("state", "")
        agent = await self._agent_name(ev, ev.agent_id)
        a = await ev.agent()
        channel = a.interface if a is not None else ""
        if before == "logged_out" and after != "logged_out":
            self._write(line(ev.at, NONE, NONE, agent, "AGENTLOGIN", channel))
            if after == "not_ready":
                self._write(line(ev.at, NONE, NONE, agent, "PAUSE", ev.fields.get("reason", "")))
        elif after == "logged_out" and before != "logged_out":
            self._write(line(ev.at, NONE, NONE, agent, "AGENTLOGOFF", channel,
                             _secs(ev.track.get("login_s"))))
        elif after == "not_ready" and before != "not_ready":
            self._write(line(ev.at, NONE, NONE, agent, "PAUSE", ev.fields.get("reason", "")))
        elif before == "not_ready" and after != "not_ready":
            self._write(line(ev.at, NONE, NONE, agent, "UNPAUSE", ev.fields.get("reason", "")))
