"""Call and Agent <-> Redis hash fields (all strings).

Rules: None is "", floats are `repr` (exact round trip), bools are "1"/"0", dicts and lists are
compact JSON. Lua scripts store the strings they are given and never format floats with
`tostring` (it keeps only 14 digits); the statistics they compute (waits, durations) are
written with '%.17g', which reads back as the same double.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping

from acd.core.model import Agent, AgentState, Call, CallOutcome, CallState

Fields = dict[str, str]


def enc_float(value: float) -> str:
    return repr(float(value))


def enc_opt_float(value: float | None) -> str:
    return "" if value is None else enc_float(value)


def enc_bool(value: bool) -> str:
    return "1" if value else "0"


def enc_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _opt_float(raw: str) -> float | None:
    return float(raw) if raw else None


def _skills(raw: str) -> dict[str, int]:
    return dict(_skills_of(raw))  # a copy: the caller may change its dict


# Decoded JSON fields that repeat across calls and agents (skill sets, queue lists, empty
# lists): every claim and state change decodes a call and an agent, and parsing the same few
# strings again was a tenth of the service's time per decision. Room for a big centre's
# every agent: with 4,096 entries, 5,000 agents' skill sets (each agent's its own) missed
# at every decision.
_DECODED = 32_768


@functools.lru_cache(maxsize=_DECODED)
def _skills_of(raw: str) -> tuple[tuple[str, int], ...]:
    return tuple((str(k), int(v)) for k, v in json.loads(raw or "{}").items())


@functools.lru_cache(maxsize=_DECODED)
def _strs(raw: str) -> tuple[str, ...]:
    """A JSON list of strings."""
    return tuple(str(x) for x in json.loads(raw or "[]"))


# Issue 9's call fields, left out of a new call's hash while empty (most calls are never
# transferred): ~250 bytes per call less in Redis; decode_call and the scripts read a missing
# field as empty.
_SPARSE = {"reason": "", "leg_channel": "", "first_answered_at": "", "transfers": "[]",
           "wrapups": "[]", "consult_agent": "", "consult_leg": "", "consult_queue": "",
           "consult_channel": ""}


def encode_call(call: Call) -> Fields:
    fields = _encode_call(call)
    return {k: v for k, v in fields.items() if _SPARSE.get(k) != v}


def _encode_call(call: Call) -> Fields:
    return {
        "id": call.id, "channel": call.channel, "uniqueid": call.uniqueid,
        "caller_num": call.caller_num, "dnis": call.dnis, "pbx": call.pbx,
        "state": call.state.value, "arrived_at": enc_float(call.arrived_at),
        "queue": call.queue, "priority": str(int(call.priority)),
        "required": enc_json(call.required), "entered_at": enc_opt_float(call.entered_at),
        "vip": enc_bool(call.vip), "language": call.language, "account": call.account,
        "ivr_path": enc_json(list(call.ivr_path)), "agent_id": call.agent_id,
        "leg_id": call.leg_id, "answered_at": enc_opt_float(call.answered_at),
        "ended_at": enc_opt_float(call.ended_at),
        "outcome": "" if call.outcome is None else call.outcome.value,
        "rona_count": str(int(call.rona_count)), "flow": call.flow,
        "last_agent": call.last_agent,
        "customer_name": call.customer_name, "crm_reason": call.crm_reason,
        "recording_file": call.recording_file,
        "recording_pauses": enc_json(call.recording_pauses),
        "ewt_pred_s": enc_opt_float(call.ewt_pred_s),
        "ewt_pred_at": enc_opt_float(call.ewt_pred_at),
        "overflow_path": enc_json(list(call.overflow_path)),
        "callback": call.callback, "callback_at": enc_opt_float(call.callback_at),
        "cb_attempts": str(int(call.cb_attempts)), "retry_at": enc_opt_float(call.retry_at),
        "reason": call.reason, "leg_channel": call.leg_channel,
        "first_answered_at": enc_opt_float(call.first_answered_at),
        "transfers": enc_json(call.transfers), "wrapups": enc_json(call.wrapups),
        "consult_agent": call.consult_agent, "consult_leg": call.consult_leg,
        "consult_queue": call.consult_queue, "consult_channel": call.consult_channel,
    }


_SURVEY = (("csat", "survey_csat"), ("nps", "survey_nps"))


def decode_call(h: Mapping[str, str]) -> Call:
    outcome = h.get("outcome", "")
    return Call(
        id=h["id"], channel=h.get("channel", ""), uniqueid=h.get("uniqueid", ""),
        caller_num=h.get("caller_num", ""), dnis=h.get("dnis", ""),
        pbx=h.get("pbx", "default"), state=CallState(h.get("state", "ivr")),
        arrived_at=float(h.get("arrived_at") or 0.0), queue=h.get("queue", ""),
        priority=int(h.get("priority") or 0), required=_skills(h.get("required", "")),
        entered_at=_opt_float(h.get("entered_at", "")), vip=h.get("vip") == "1",
        language=h.get("language", ""), account=h.get("account", ""),
        ivr_path=list(_strs(h.get("ivr_path", ""))),
        agent_id=h.get("agent_id", ""), leg_id=h.get("leg_id", ""),
        answered_at=_opt_float(h.get("answered_at", "")),
        ended_at=_opt_float(h.get("ended_at", "")),
        outcome=CallOutcome(outcome) if outcome else None,
        rona_count=int(h.get("rona_count") or 0), flow=h.get("flow", ""),
        last_agent=h.get("last_agent", ""),
        customer_name=h.get("customer_name", ""), crm_reason=h.get("crm_reason", ""),
        recording_file=h.get("recording_file", ""),
        recording_pauses=_pauses(h.get("recording_pauses", "")),
        ewt_pred_s=_opt_float(h.get("ewt_pred_s", "")),
        ewt_pred_at=_opt_float(h.get("ewt_pred_at", "")),
        overflow_path=list(_strs(h.get("overflow_path", ""))),
        # written by survey.lua only (never by encode_call)
        survey={q: int(h[field]) for q, field in _SURVEY if h.get(field)},
        callback=h.get("callback", ""), callback_at=_opt_float(h.get("callback_at", "")),
        cb_attempts=int(h.get("cb_attempts") or 0), retry_at=_opt_float(h.get("retry_at", "")),
        reason=h.get("reason", ""), leg_channel=h.get("leg_channel", ""),
        first_answered_at=_opt_float(h.get("first_answered_at", "")),
        transfers=_dicts(h.get("transfers", "")), wrapups=_dicts(h.get("wrapups", "")),
        consult_agent=h.get("consult_agent", ""), consult_leg=h.get("consult_leg", ""),
        consult_queue=h.get("consult_queue", ""),
        consult_channel=h.get("consult_channel", ""),
    )


def _pauses(raw: str) -> list[list[float]]:
    if not raw or raw == "[]":  # (most calls: no JSON parse on every claim)
        return []
    return [[float(t) for t in pause] for pause in json.loads(raw)]


def _dicts(raw: str) -> list[dict[str, object]]:
    """A JSON list of objects (the transfer and wrap-up histories); anything else: empty."""
    if not raw or raw == "[]":  # (most calls: left out of the hash while empty)
        return []
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [dict(item) for item in value if isinstance(item, dict)] \
        if isinstance(value, list) else []


def _enc_str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {value!r}")
    return value


def _enc_priority(value: object) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"priority must be an int, got {value!r}")
    return str(value)


def _enc_vip(value: object) -> str:
    if not isinstance(value, bool):
        raise TypeError(f"vip must be a bool, got {value!r}")
    return enc_bool(value)


def _enc_required(value: object) -> str:
    if not isinstance(value, dict):
        raise TypeError(f"required must be a dict, got {value!r}")
    return enc_json(value)


def _enc_ivr_path(value: object) -> str:
    if not isinstance(value, list | tuple):
        raise TypeError(f"ivr_path must be a list, got {value!r}")
    return enc_json([str(step) for step in value])


def _enc_pauses(value: object) -> str:
    if not isinstance(value, list) or not all(
            isinstance(p, list) and 1 <= len(p) <= 2
            and all(isinstance(t, float | int) and not isinstance(t, bool) for t in p)
            for p in value):
        raise TypeError(f"recording_pauses must be a list of [start] or [start, end], "
                        f"got {value!r}")
    return enc_json([[float(t) for t in p] for p in value])


# update_call may change only these; the state machine fields belong to the scripts.
_UPDATABLE: dict[str, Callable[[object], str]] = {
    "ivr_path": _enc_ivr_path, "language": _enc_str, "account": _enc_str, "vip": _enc_vip,
    "required": _enc_required, "queue": _enc_str, "priority": _enc_priority, "flow": _enc_str,
    "last_agent": _enc_str,
    "customer_name": _enc_str, "crm_reason": _enc_str, "recording_file": _enc_str,
    "recording_pauses": _enc_pauses, "reason": _enc_str, "leg_channel": _enc_str,
}


def encode_call_update(fields: Mapping[str, object]) -> Fields:
    unknown = set(fields) - set(_UPDATABLE)
    if unknown:
        raise ValueError(f"update_call cannot change {sorted(unknown)}")
    return {name: _UPDATABLE[name](value) for name, value in fields.items()}


def encode_agent_config(agent: Agent) -> Fields:
    """The fields that come from configuration (sync_agent overwrites these)."""
    return {
        "id": agent.id, "interface": agent.interface, "skills": enc_json(agent.skills),
        "queues": enc_json(list(agent.queues)), "name": agent.name,
    }


def encode_agent(agent: Agent) -> Fields:
    return {
        **encode_agent_config(agent),
        "state": agent.state.value, "reason": agent.reason,
        "state_since": enc_float(agent.state_since), "ready_since": enc_float(agent.ready_since),
        "call_id": agent.call_id, "leg_id": agent.leg_id,
        "calls_handled": str(int(agent.calls_handled)), "last_queue": agent.last_queue,
        "wrap_call": agent.wrap_call, "wrap_codes": enc_json(list(agent.wrap_codes)),
        "wrap_resolved": _enc_opt_bool(agent.wrap_resolved),
    }


def _enc_opt_bool(value: bool | None) -> str:
    return "" if value is None else enc_bool(value)


def _opt_bool(raw: str) -> bool | None:
    return None if raw == "" else raw == "1"


def decode_agent(h: Mapping[str, str]) -> Agent:
    return Agent(
        id=h["id"], interface=h.get("interface", ""), skills=_skills(h.get("skills", "")),
        queues=_strs(h.get("queues", "")),
        name=h.get("name", ""), state=AgentState(h.get("state", "logged_out")),
        reason=h.get("reason", ""), state_since=float(h.get("state_since") or 0.0),
        ready_since=float(h.get("ready_since") or 0.0), call_id=h.get("call_id", ""),
        leg_id=h.get("leg_id", ""), calls_handled=int(h.get("calls_handled") or 0),
        last_queue=h.get("last_queue", ""), wrap_call=h.get("wrap_call", ""),
        wrap_codes=list(_strs(h.get("wrap_codes", ""))),
        wrap_resolved=_opt_bool(h.get("wrap_resolved", "")),
    )


def pairs(flat: list[str]) -> dict[str, str]:
    """A Lua HGETALL reply (k1, v1, k2, v2, ...) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))
