"""Call records: one per call, to a capped Redis Stream per PBX (`IntKeys.records`, field
`r`: the record as JSON), read back by GET /api/v1/records.

A record holds every stage's time (arrived, queued, each ring with its agent, end and result,
answered, ended), the IVR path and inputs, what a CRM lookup found, queue, agent, outcome, wait,
talk, the agent's wrap-up (start, end, seconds) and the recording (file, pauses); the call's
reason, its transfers and every agent's wrap-up (issue 9: codes, resolved yes/no).

When the call ends with its agent in wrap-up, the record waits in Redis (`IntKeys.wrapup`)
until that wrap-up ends (the agent's next state change), then it is written with the wrap-up
and its codes filled in (read back from the call); without wrap-up it is written at once
(`wrapup_s` 0 for an answered call, null otherwise). Taking the held record is a GETDEL, so of
two instances one alone writes it.
A record is therefore written up to the wrap-up's length after its call ended: the time-range
read looks `LATE_S` past its end for it.
The caller-facing policies add their fields and the survey answers (records_flow.py:
survey_score is the CSAT answer 1-5, survey_nps the NPS answer 0-10); an answer given after the
record was written amends it (the reader merges amendments).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from acd.config import RecordsConfig
from acd.core.model import Call
from acd.core.transfer import history_entry
from acd.integrations.records_flow import FLOW_FIELDS, amendment, flow_fields, merge_amendments
from acd.integrations.runner import Event
from acd.integrations.stream import IntegrationRedis, IntKeys

# The record's fields, in the CSV column order.
FIELDS = ("call_id", "pbx", "uniqueid", "caller_num", "dnis", "flow", "ivr_path", "language",
          "account", "vip", "queue", "priority", "agent_id", "outcome", "arrived_at",
          "queued_at", "rings", "rona_count", "answered_at", "ended_at", "wait_s", "talk_s",
          "wrapup_s", "wrapup_start", "wrapup_end", "recording_file", "recording_pauses",
          "customer_name", "crm_reason", "survey_score", *FLOW_FIELDS,
          # issue 9
          "reason", "first_answered_at", "transfers", "wrapups", "wrapup_codes", "resolved")
TIME_SKEW_S = 60.0  # a record is written a little after its call ended (and clocks differ)
LATE_S = 6 * 3600.0  # ... at most this long after (a wrap-up), for the time range of a read
HELD_TTL_S = 86_400  # a record held for a wrap-up that never ends (agent gone) expires


async def build_record(ev: Event) -> dict[str, Any]:
    call = await ev.call()
    t = ev.track
    ended = ev.at
    entered = ev.float_field("entered_at")
    answered = ev.float_field("answered_at")
    wait = None
    if entered:
        wait = max(0.0, (answered or ended) - entered)
    talk = max(0.0, ended - answered) if answered else None
    rec: dict[str, Any] = dict.fromkeys(FIELDS)
    rec.update(call_id=ev.call_id, pbx=ev.pbx, queue=ev.fields.get("queue", ""),
               agent_id=ev.agent_id, outcome=ev.fields.get("outcome", ""),
               queued_at=entered or None, answered_at=answered or None, ended_at=ended,
               wait_s=wait, talk_s=talk, rings=t.get("rings", []), recording_file="",
               recording_pauses=[], customer_name="", crm_reason="", survey_score="",
               ivr_path=[])
    if call is not None:
        rec.update(uniqueid=call.uniqueid, caller_num=call.caller_num, dnis=call.dnis,
                   flow=call.flow, ivr_path=list(call.ivr_path), language=call.language,
                   account=call.account, vip=call.vip, priority=call.priority,
                   arrived_at=call.arrived_at or None, rona_count=call.rona_count,
                   queue=rec["queue"] or call.queue, agent_id=rec["agent_id"] or call.agent_id,
                   recording_file=call.recording_file,
                   recording_pauses=[list(p) for p in call.recording_pauses],
                   customer_name=call.customer_name, crm_reason=call.crm_reason)
        rec.update(flow_fields(call))
        _call_outcomes(rec, call)
    return rec


def _call_outcomes(rec: dict[str, Any], call: Call) -> None:
    """Issue 9: the reason, the transfers, each agent's wrap-up so far; the codes and the
    resolved answer of the agent who ended the call (once its wrap-up ended)."""
    rec.update(reason=call.reason, transfers=[history_entry(t) for t in call.transfers],
               first_answered_at=call.first_answered_at,
               wrapups=[wrapup_entry(w) for w in call.wrapups])
    final = next((w for w in reversed(call.wrapups) if w.get("final") is True), None)
    if final is not None:
        codes = final.get("codes")
        rec.update(wrapup_codes=[str(c) for c in codes] if isinstance(codes, list) else [],
                   resolved=final.get("resolved"))


def wrapup_entry(entry: dict[str, object]) -> dict[str, object]:
    """One stored wrap-up (times as strings from Lua) with numbers for numbers."""
    out = dict(entry)
    for key in ("ended_at", "wrapup_s"):
        try:
            out[key] = float(str(entry.get(key, "")))
        except ValueError:
            out[key] = None
    return out


class RecordsWriter:
    name = "records"

    def __init__(self, cfg: RecordsConfig, redis: IntegrationRedis) -> None:
        self.cfg = cfg
        self.redis = redis
        self.written = 0

    async def close(self) -> None:
        return None

    async def handle(self, ev: Event) -> None:
        keys = IntKeys(ev.store.keys)
        if ev.type in ("agent_state_changed", "agent_removed") \
                and ev.fields.get("from_state") == "wrap_up":
            await self._release(ev, keys, ev.agent_id, ev.at)
        if ev.type == "survey_answered":  # after the call ended: amends its record
            call = await ev.call()
            amend = amendment(ev.pbx, call) if call is not None else None
            if amend is not None:
                await self.redis.xadd(IntKeys(ev.store.keys).records,
                                      {"r": json.dumps(amend, separators=(",", ":")),
                                       "ended_at": repr(amend["ended_at"])}, self.cfg.maxlen)
            return
        if ev.type != "call_ended":
            return
        rec = await build_record(ev)
        agent_id = ev.agent_id
        if ev.fields.get("agent_state") != "wrap_up" or not agent_id:
            if rec["answered_at"] is not None:
                rec["wrapup_s"] = 0.0
            await self._write(keys, rec)
            return
        rec["wrapup_start"] = ev.at
        await self._release(ev, keys, agent_id, None)  # a held one left over: written as it is
        await self.redis.set(keys.wrapup(agent_id), json.dumps(rec), HELD_TTL_S)
        agent = await ev.agent()
        # (another instance may have handled the end of this wrap-up already). The wrap-up is
        # known by its call (wrap_call), else (an agent put in wrap-up by hand) by its start.
        wrapping = agent is not None and agent.state.value == "wrap_up" and (
            agent.wrap_call == ev.call_id if agent.wrap_call else agent.state_since == ev.at)
        if not wrapping:
            await self._release(ev, keys, agent_id, agent.state_since if agent else ev.at)

    async def _release(self, ev: Event, keys: IntKeys, agent_id: str,
                       ended: float | None) -> None:
        """Write the record held for the agent's wrap-up, which ended at `ended`: with the
        wrap-ups (and codes) the call has now."""
        raw = await self.redis.getdel(keys.wrapup(agent_id))
        if raw is None:
            return
        rec = json.loads(raw)
        start = rec.get("wrapup_start")
        if ended is not None and isinstance(start, float | int):
            rec["wrapup_end"] = max(ended, start)
            rec["wrapup_s"] = rec["wrapup_end"] - start
        call = await ev.store.get_call(str(rec.get("call_id", "")))
        if call is not None:
            _call_outcomes(rec, call)
        await self._write(keys, rec)

    async def _write(self, keys: IntKeys, rec: dict[str, Any]) -> None:
        await self.redis.xadd(keys.records, {"r": json.dumps(rec, separators=(",", ":")),
                                             "ended_at": repr(rec["ended_at"])}, self.cfg.maxlen)
        self.written += 1


class RecordsReader:
    """Reads the records of every PBX (the API's side)."""

    def __init__(self, redis: IntegrationRedis, streams: list[str]) -> None:
        self.redis = redis
        self.streams = streams

    async def call_records(self, start: float, end: float,
                           limit: int) -> list[dict[str, Any]]:
        """Records of calls ended in [start, end), oldest first, at most `limit`."""
        lo = max(0, int((start - TIME_SKEW_S) * 1000))
        hi = int((end + LATE_S) * 1000)
        out: list[dict[str, Any]] = []
        for stream in self.streams:
            last = str(lo)
            full = 0  # records (not amendments) found in this stream
            while True:
                entries = await self.redis.xrange(stream, last, str(hi), 1000)
                for eid, fields in entries:
                    try:
                        rec = json.loads(fields.get("r", ""))
                    except ValueError:
                        continue
                    if isinstance(rec, dict) and start <= float(rec.get("ended_at") or 0) < end:
                        out.append(rec)
                        full += not rec.get("amends")
                    last = f"({eid}"
                if len(entries) < 1000 or full > limit:
                    break
        out = merge_amendments(out)
        out.sort(key=lambda r: float(r.get("ended_at") or 0))
        return out[:limit]


def to_csv(records: list[dict[str, Any]]) -> str:
    """A header row (FIELDS), then one row per record: lists as JSON (ivr_path joined by
    '>'), booleans 1/0, null as an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for rec in records:
        row = []
        for name in FIELDS:
            value = rec.get(name)
            if name == "ivr_path" and isinstance(value, list):
                value = ">".join(str(v) for v in value)
            elif isinstance(value, list | dict):
                value = json.dumps(value, separators=(",", ":"))
            elif value is None:
                value = ""
            elif isinstance(value, bool):
                value = "1" if value else "0"
            row.append(value)
        writer.writerow(row)
    return buf.getvalue()
