"""What the caller-facing policies add to the call records (acd/integrations/records.py).

- At the end of the call (from the call's hash): the EWT predicted at its last queue entry,
  the queues it overflowed from, the survey answers given so far, and for a callback the
  number called back, when the caller left the line for it (the end of the line part: its
  outcome is "callback") and how many times the customer was called.
- The survey runs after the call ended, so its answers arrive after the record was written: each
  `survey_answered` event appends a small amendment to the same records stream
  ({"call_id", "pbx", "amends": true, "ended_at", "survey_score" / "survey_nps"}), and the
  reader merges every amendment into its call's record (`merge_amendments`). The record itself
  is never rewritten.
"""

from __future__ import annotations

from typing import Any

from acd.core.model import Call

# Appended to records.FIELDS (CSV column order). survey_score is records.py's own column: the
# CSAT answer (1-5).
FLOW_FIELDS = ("ewt_predicted_s", "overflow_path", "survey_nps", "callback_number",
               "callback_requested_at", "callback_attempts")


def flow_fields(call: Call) -> dict[str, Any]:
    calls_made = call.cb_attempts + (1 if call.callback and call.answered_at else 0)
    return {"ewt_predicted_s": call.ewt_pred_s, "overflow_path": list(call.overflow_path),
            "callback_number": call.callback or None, "callback_requested_at": call.callback_at,
            "callback_attempts": calls_made if call.callback else None, **_survey(call)}


def _survey(call: Call) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "csat" in call.survey:
        out["survey_score"] = call.survey["csat"]
    if "nps" in call.survey:
        out["survey_nps"] = call.survey["nps"]
    return out


def amendment(pbx: str, call: Call) -> dict[str, Any] | None:
    """The amendment a survey answer adds to the call's record (None: the call never ended)."""
    if call.ended_at is None:
        return None
    return {"call_id": call.id, "pbx": pbx, "amends": True, "ended_at": call.ended_at,
            **_survey(call)}


def merge_amendments(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records with their amendments applied (in stream order), amendments dropped; an
    amendment whose record is not among `found` is dropped too. An amendment may come before
    its record in the stream: a record held until its agent's wrap-up ends is written after a
    survey answered meanwhile."""
    records: dict[tuple[str, str], dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for rec in found:
        if not rec.get("amends"):
            records[(str(rec.get("pbx", "")), str(rec.get("call_id", "")))] = rec
            out.append(rec)
    for rec in found:
        target = records.get((str(rec.get("pbx", "")), str(rec.get("call_id", ""))))
        if rec.get("amends") and target is not None:
            target.update({k: v for k, v in rec.items()
                           if k not in ("amends", "call_id", "pbx", "ended_at")})
    return out
