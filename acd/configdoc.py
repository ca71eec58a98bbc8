"""The config reference, generated from the config schema (so it cannot drift from the code).

`acd config-reference > docs/config-reference.md`; a test checks the committed file is current.
"""

from __future__ import annotations

from typing import Any

from acd.config import Config

_SECTIONS: list[tuple[str, str]] = [
    ("Config", "Top level"),
    ("PbxConfig", "[pbx]: the Asterisk to attach to (AMI)"),
    ("RedisConfig", "[redis]"),
    ("HttpConfig", "[http]: the live API and the wallboard"),
    ("TokenConfig", "[[http.tokens]]: API bearer tokens, kept as SHA-256 hashes"),
    ("QueueConfig", "[queues.NAME]"),
    ("SlaConfig", "[queues.NAME.sla]: service level"),
    ("ScreenPopConfig", "[queues.NAME.screen_pop]: screen-pop webhook"),
    ("QueueRoutingConfig", "[queues.NAME.routing]: routing policies"),
    ("ExpandStep", "[[queues.NAME.routing.expand]]: skill expansion steps"),
    ("RecordingConfig", "[queues.NAME.recording]: call recording (MixMonitor)"),
    ("AdmissionConfig", "[queues.NAME.admission]: admission and overflow"),
    ("AnnounceConfig", "[queues.NAME.announce]: position and EWT announcements"),
    ("SurveyConfig", "[queues.NAME.survey]: post-call survey"),
    ("CallbackConfig", "[queues.NAME.callback]: callback that keeps its place"),
    ("WrapupCodeConfig", "[queues.NAME.wrapup_codes.CODE]: wrap-up codes"),
    ("AgentConfig", "[agents.NAME]"),
    ("HoursConfig", "[hours.NAME]: business hours"),
    ("VipConfig", "[vip]"),
    ("ReasonConfig", "[reasons.NAME]: call reasons"),
    ("IntegrationsConfig", "[integrations]"),
    ("QueueLogConfig", "[integrations.queue_log]: Asterisk-compatible queue_log"),
    ("RecordsConfig", "[integrations.records]: call records"),
    ("CrmConfig", "[integrations.crm]: CRM lookup for the IVR's lookup nodes"),
    ("CrmMapConfig", "[integrations.crm.map]: where the values are in the CRM's answer"),
    ("LookupDefaults", "[flows.NAME.nodes.NODE.defaults]: a lookup node's defaults"),
    ("FlowConfig", "[flows.NAME]: IVR flows, chosen by the dialled number"),
]
_NODES = ["PlayNode", "MenuNode", "CollectNode", "SetNode", "HoursNode", "VipNode", "QueueNode",
          "HangupNode", "LookupNode"]


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        section = dict(_SECTIONS).get(name, "")
        return f"table, see {section.split(':')[0]}" if section else "table"
    if "anyOf" in prop:
        kinds = [_type(p, defs) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(kinds) + (" (optional)" if len(kinds) < len(prop["anyOf"]) else "")
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    kind = str(prop.get("type", "any"))
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if kind == "object":
        inner = prop.get("additionalProperties")
        return f"table of {_type(inner, defs)}" if isinstance(inner, dict) else "table"
    limits = [f"{word} {prop[key]}" for key, word in (
        ("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
        ("exclusiveMaximum", "<")) if key in prop]
    return kind + (f" ({', '.join(limits)})" if limits else "")


def _default(name: str, prop: dict[str, Any], required: list[str]) -> str:
    if name in required:
        return "required"
    if "default" not in prop:
        return ""
    value = prop["default"]
    if isinstance(value, dict | list) and not value:
        return "empty"
    if isinstance(value, dict):
        return "see its section"
    return "none" if value is None else f"`{value}`"


def _table(schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    required = schema.get("required", [])
    for name, prop in schema.get("properties", {}).items():
        if name == "type" and "const" in prop:
            continue
        meaning = (prop.get("description") or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{name}` | {_type(prop, defs)} | {_default(name, prop, required)} | "
                    f"{meaning} |")
    return rows


def render() -> str:
    schema = Config.model_json_schema()
    defs = schema.get("$defs", {})
    defs["Config"] = schema
    out = ["# Configuration reference", "",
           "Generated from the config schema by `acd config-reference`: do not edit by hand.",
           "Check a file with `acd check-config FILE` (exit 0, or 2 naming each bad key).", ""]
    for name, title in _SECTIONS:
        out += [f"## {title}", "", *_table(defs[name], defs), ""]
    out += ["## IVR nodes: [flows.NAME.nodes.NODE]", "",
            "Every node has a `type`, which decides its other keys.", ""]
    for name in _NODES:
        node = defs[name]
        kind = node["properties"]["type"].get("const", name)
        doc = (node.get("description") or "").strip()
        out += [f"### type = \"{kind}\"", "", *([doc, ""] if doc else []),
                *_table(node, defs), ""]
    return "\n".join(out).rstrip() + "\n"
