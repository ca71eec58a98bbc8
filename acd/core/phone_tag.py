"""The short tag an agent's phone shows as the caller's name ("VIP billing Ada"). Pure."""

from __future__ import annotations

from acd.core.model import Call

# Kept: letters, digits, spaces and a little punctuation. Dropped: what breaks the
# `"name" <number>` caller id syntax or an AMI header (quotes, <>, backslash, line breaks,
# control characters), and anything else unusual.
_KEEP = frozenset(" -_.,:/+#&'()")


def phone_tag(template: str, max_len: int, call: Call) -> str:
    values = {"vip": "VIP " if call.vip else "", "queue": call.queue,
              "language": call.language, "customer_name": call.customer_name,
              "account": call.account, "reason": call.crm_reason}
    text = template.format_map(values)
    kept = "".join(" " if ch.isspace() else ch for ch in text if ch.isalnum() or ch in _KEEP
                   or ch.isspace())
    return " ".join(kept.split())[:max_len].strip()
