"""Call records: one per call, written when it ends, to a capped Redis Stream per PBX
(`IntKeys.records`, field `r`: the record as JSON), read back by GET /api/v1/records.

A record holds every stage's time (arrived, queued, each ring with its agent, end and result,
answered, ended), the IVR path and inputs, queue, agent, outcome, wait and talk. Wrap-up is not
known when the call ends (the agent's wrap-up ends later): `wrapup_s` stays null for now, as
does the recording. The caller-facing policies add their fields and the survey answers
(records_flow.py: survey_score is the CSAT answer 1-5, survey_nps the NPS answer 0-10).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from acd.config import RecordsConfig
from acd.integrations.records_flow import FLOW_FIELDS, amendment, flow_fields, merge_amendments
from acd.integrations.runner import Event
from acd.integrations.stream import IntegrationRedis, IntKeys

# The record's fields, in the CSV column order.
FIELDS = ("call_id", "pbx", "uniqueid", "caller_num", "dnis", "flow", "ivr_path", "language",
          "account", "vip", "queue", "priority", "agent_id", "outcome", "arrived_at",
          "queued_at", "rings", "rona_count", "answered_at", "ended_at", "wait_s", "talk_s",
          "wrapup_s", "recording_url", "survey_score", *FLOW_FIELDS)
TIME_SKEW_S = 60.0  # a record is written a little after its call ended (and clocks differ)
LATE_S = 600.0  # ... at most this long after, for the time range of a read


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
               wait_s=wait, talk_s=talk, rings=t.get("rings", []), recording_url="",
               survey_score="", ivr_path=[])
    if call is not None:
        rec.update(uniqueid=call.uniqueid, caller_num=call.caller_num, dnis=call.dnis,
                   flow=call.flow, ivr_path=list(call.ivr_path), language=call.language,
                   account=call.account, vip=call.vip, priority=call.priority,
                   arrived_at=call.arrived_at or None, rona_count=call.rona_count,
                   queue=rec["queue"] or call.queue, agent_id=rec["agent_id"] or call.agent_id)
        rec.update(flow_fields(call))
    return rec


class RecordsWriter:
    name = "records"

    def __init__(self, cfg: RecordsConfig, redis: IntegrationRedis) -> None:
        self.cfg = cfg
        self.redis = redis
        self.written = 0

    async def close(self) -> None:
        return None

    async def handle(self, ev: Event) -> None:
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
        await self.redis.xadd(IntKeys(ev.store.keys).records,
                              {"r": json.dumps(rec, separators=(",", ":")),
                               "ended_at": repr(ev.at)}, self.cfg.maxlen)
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
    """A header row, then one row per record (lists as JSON, ivr_path joined by '>')."""
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
