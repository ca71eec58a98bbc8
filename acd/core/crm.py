"""What a CRM answer says about a caller: JSON paths and the mapping of `[integrations.crm.map]`.
Pure (no I/O): the HTTP side is acd/integrations/crm.py.

A path is a JSON pointer (RFC 6901: `/customer/vip`, `~1` for `/`, `~0` for `~`) or a dotted
path (`customer.vip`, `accounts.0.id`). Hand-written: the two forms take a dozen lines, less than
a dependency.
"""

from __future__ import annotations

import re
from typing import Any

from acd.config import CrmMapConfig
from acd.core.ivr_state import CallerInfo

MISSING = object()
_TEXT_MAX = 120  # longer values are cut: they travel to phones, pops and records
_LANGUAGE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_TRUE = frozenset({"1", "true", "yes", "y", "on", "vip"})
_FALSE = frozenset({"0", "false", "no", "n", "off", ""})


class AnswerError(ValueError):
    """The answer does not say what the mapping expects (e.g. a list where an object is)."""


def _steps(path: str) -> list[str]:
    if path.startswith("/"):
        return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
    return path.split(".")


def resolve(doc: Any, path: str) -> Any:
    """The value at `path` in `doc`, or MISSING."""
    node = doc
    for step in _steps(path):
        if isinstance(node, dict):
            if step not in node:
                return MISSING
            node = node[step]
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return MISSING
    return node


def truthy(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if value is None:
        return False
    raise AnswerError(f"{what}: not a yes/no value")


def _text(value: Any, what: str) -> str:
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise AnswerError(f"{what}: not a text")
    text = " ".join(str(value).split())  # no control characters, no line breaks
    return "".join(ch for ch in text if ch.isprintable())[:_TEXT_MAX]


def caller_info(doc: Any, mapping: CrmMapConfig) -> CallerInfo | None:
    """The caller as the answer describes it; None when the answer says "not found".
    Raises AnswerError when the answer is not what the mapping expects."""
    if not isinstance(doc, dict | list):
        raise AnswerError("the answer is not a JSON object")
    if mapping.found is not None:
        found = resolve(doc, mapping.found)
        if found is MISSING or not truthy(found, "found"):
            return None

    def get(path: str | None) -> Any:
        return MISSING if path is None else resolve(doc, path)

    vip_raw = get(mapping.vip)
    language = _text(get(mapping.language), "language")
    if language and not _LANGUAGE.match(language):
        raise AnswerError("language: not a language code")
    return CallerInfo(
        vip=None if vip_raw is MISSING else truthy(vip_raw, "vip"), language=language,
        queue=_text(get(mapping.queue), "queue"),
        customer_name=_text(get(mapping.customer_name), "customer_name"),
        account=_text(get(mapping.account), "account"), reason=_text(get(mapping.reason), "reason"))
