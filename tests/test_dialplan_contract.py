"""The dialplan in dialplans/ and the service's constants (acd/contract.py) must agree."""

from __future__ import annotations

import re
from pathlib import Path

from acd import contract

DIALPLAN = Path(__file__).resolve().parent.parent / "dialplans" / "extensions_acd.conf"


def contexts(text: str) -> set[str]:
    return set(re.findall(r"^\[([^\]]+)\]", text, flags=re.M))


def test_every_context_the_service_uses_exists() -> None:
    text = DIALPLAN.read_text()
    assert set(contract.ALL_CONTEXTS) <= contexts(text)


def test_every_variable_the_service_sets_is_read_by_the_dialplan() -> None:
    text = DIALPLAN.read_text()
    for var in contract.SERVICE_VARIABLES:
        assert re.search(r"\$\{(GLOBAL\()?" + var + r"\)?\}", text) or f"{var}=" in text, var


def test_hold_loop_leaves_on_done_and_falls_back_on_stale_heartbeat() -> None:
    text = DIALPLAN.read_text()
    hold = text.split(f"[{contract.CTX_HOLD}]", 1)[1].split("\n[", 1)[0]
    assert f'"${{{contract.VAR_DONE}}}" = "1"' in hold
    assert f"{contract.HEARTBEAT_STALE_S}]?{contract.CTX_FALLBACK}" in hold
    # The caller resumes at the priority after MusicOnHold once a bridge ends: the loop must go
    # back to the ACD_DONE check from there (the step after MusicOnHold = Goto(loop)).
    lines = [ln for ln in hold.splitlines() if ln.strip().startswith(("exten", "same"))]
    music = next(i for i, ln in enumerate(lines) if "MusicOnHold" in ln)
    assert "Goto(loop)" in lines[music + 1]
    assert f'"${{{contract.VAR_DONE}}}" = "1"' in lines[0]


def test_every_announcement_step_is_followed_by_the_done_check() -> None:
    """A Bridge() can pull the caller out of any prompt of the announcement; it then resumes at
    the next step, which must check ACD_DONE before anything more is played."""
    text = DIALPLAN.read_text()
    ctx = text.split(f"[{contract.CTX_ANNOUNCE}]", 1)[1].split("\n[", 1)[0]
    lines = [ln for ln in ctx.splitlines() if ln.strip().startswith(("exten", "same"))]
    played = [i for i, ln in enumerate(lines) if "Playback(" in ln or "SayNumber(" in ln]
    assert played
    for i in played:
        after = lines[i + 1]
        assert f'"${{{contract.VAR_DONE}}}" = "1"' in after or "Goto(wait)" in after \
            or f"Goto({contract.CTX_HOLD},s,1)" in after, lines[i]


def test_feature_codes_match() -> None:
    text = DIALPLAN.read_text()
    features = text.split(f"[{contract.CTX_FEATURES}]", 1)[1]
    for code, action in contract.FEATURE_CODES.items():
        block = features.split(f"exten => {code},", 1)[1].split("exten =>", 1)[0]
        assert f"UserEvent({contract.USEREVENT_AGENT},Action: {action}," in block
