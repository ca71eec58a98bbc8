"""The IVR engine walked through the example config's `main` flow, the way the service drives it."""

from __future__ import annotations

from datetime import datetime

import pytest

from acd.config import Config, HoursConfig
from acd.core.ivr import Agi, Awaiting, EndCall, LookupVip, ToQueue
from tests.test_ivr_helpers import CALLER, Call, example_config

ASK_LANGUAGE = Agi("GET DATA acd/choose-language 5000 1")
ASK_ACCOUNT = Agi("GET DATA acd/enter-account 6000 8")
ASK_MENU = Agi("GET DATA acd/main-menu 5000 1")
SET_EN = Agi("SET VARIABLE CHANNEL(language) en")
EN = {"lang_en": 1}


@pytest.fixture
def cfg(monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("ACD_AMI_SECRET", "test-secret")
    return example_config()


def to_main_menu(call: Call, account: str = "12345") -> None:
    """hours (open) -> language 1 -> english -> account -> vipcheck (normal) -> main_menu."""
    assert call.last == ASK_LANGUAGE
    assert call.agi("200 result=1\n") == SET_EN
    assert call.agi("200 result=1\n") == ASK_ACCOUNT
    assert call.agi(f"200 result={account}\n") == LookupVip(CALLER, account)
    assert call.vip() == ASK_MENU


def test_happy_path_to_sales(cfg: Config) -> None:
    call = Call(cfg)
    to_main_menu(call)
    assert call.agi("200 result=1\n") == ToQueue("sales", 0, {"sales": 1, **EN}, "en", False)
    assert call.path == ["hours", "language", "english", "account", "vipcheck", "main_menu",
                         "to_sales"]
    assert call.state.data == {"account": "12345"}
    assert call.state.awaiting == Awaiting.DONE


def test_spanish_sets_language_and_skill(cfg: Config) -> None:
    call = Call(cfg)
    assert call.agi("200 result=2\n") == Agi("SET VARIABLE CHANNEL(language) es")
    assert call.agi("200 result=1\n") == ASK_ACCOUNT
    assert call.agi("200 result=1234\n") == LookupVip(CALLER, "1234")
    assert call.vip() == ASK_MENU
    assert call.agi("200 result=2\n") == ToQueue("support", 0, {"support": 1, "lang_es": 1}, "es",
                                                 False)


def test_invalid_digit_then_valid(cfg: Config) -> None:
    call = Call(cfg)
    assert call.agi("200 result=7\n") == Agi("STREAM FILE acd/invalid 0")
    assert call.state.attempts == 1
    assert call.agi("200 result=0 endpos=8000\n") == ASK_LANGUAGE
    assert call.agi("200 result=1\n") == SET_EN
    assert call.path == ["hours", "language", "english"]


def test_timeouts_until_default(cfg: Config) -> None:
    call = Call(cfg)
    # retries = 2: the first ask and two more; no timeout_prompt, so the menu is just asked again
    assert call.agi("200 result= (timeout)\n") == ASK_LANGUAGE
    assert call.agi("200 result= (timeout)\n") == ASK_LANGUAGE
    assert call.agi("200 result= (timeout)\n") == SET_EN  # default: english
    assert call.agi("200 result=1\n") == ASK_ACCOUNT
    assert call.agi("200 result=1234\n") == LookupVip(CALLER, "1234")
    assert call.vip() == ASK_MENU
    for _ in range(3):
        last = call.agi("200 result= (timeout)\n")
    assert last == ToQueue("support", 0, {"support": 1, **EN}, "en", False)  # default
    assert call.path[-2:] == ["main_menu", "to_support"]


def test_invalid_then_timeouts_share_the_retries(cfg: Config) -> None:
    call = Call(cfg)
    to_main_menu(call)
    assert call.agi("200 result=9\n") == Agi("STREAM FILE acd/invalid 0")
    assert call.agi("200 result=0 endpos=1\n") == ASK_MENU
    assert call.agi("200 result= (timeout)\n") == ASK_MENU
    assert isinstance(call.agi("200 result=*\n"), ToQueue)  # third failure: default


@pytest.mark.parametrize("bad", [
    "200 result=12 (timeout)\n",  # too short
    "200 result=123456789\n",  # too long (cannot happen with max 8, but checked)
    "200 result=12*4\n",  # pattern ^[0-9]+$
    "200 result=#\n",  # `#` alone
])
def test_collect_account_invalid_then_valid(cfg: Config, bad: str) -> None:
    call = Call(cfg)
    call.agi("200 result=1\n")
    assert call.agi("200 result=1\n") == ASK_ACCOUNT
    assert call.agi(bad) == Agi("STREAM FILE acd/invalid-account 0")
    assert call.agi("200 result=0 endpos=1\n") == ASK_ACCOUNT
    # partial digits on timeout are fine when long enough: no `#` needed
    assert call.agi("200 result=4567 (timeout)\n") == LookupVip(CALLER, "4567")
    assert call.state.data == {"account": "4567"}


def test_collect_exhausted_goes_on_fail(cfg: Config) -> None:
    call = Call(cfg)
    call.agi("200 result=1\n")
    call.agi("200 result=1\n")
    assert call.agi("200 result= (timeout)\n") == ASK_ACCOUNT  # no input: asked again
    assert call.agi("200 result=12\n") == Agi("STREAM FILE acd/invalid-account 0")
    assert call.agi("200 result=0 endpos=1\n") == ASK_ACCOUNT
    assert call.agi("200 result= (timeout)\n") == LookupVip(CALLER, "")  # on_fail: vipcheck
    assert "account" not in call.state.data


def test_vip_account_goes_to_vip_queue(cfg: Config) -> None:
    call = Call(cfg)
    call.agi("200 result=1\n")
    call.agi("200 result=1\n")
    assert call.agi("200 result=9001\n") == LookupVip(CALLER, "9001")
    assert call.vip() == Agi('STREAM FILE acd/vip-welcome ""')
    assert call.state.vip and call.state.priority == 10
    assert call.agi("200 result=0 endpos=12000\n") == ToQueue(
        "vip", 10, {"support": 4, **EN}, "en", True)
    assert call.path[-2:] == ["vipcheck", "to_vip"]


def test_vip_caller_number(cfg: Config) -> None:
    call = Call(cfg, caller="+15550001")
    call.agi("200 result=1\n")
    call.agi("200 result=1\n")
    assert call.agi("200 result=1234\n") == LookupVip("+15550001", "1234")
    assert call.vip() == Agi('STREAM FILE acd/vip-welcome ""')


def test_escape_from_main_menu(cfg: Config) -> None:
    call = Call(cfg)
    to_main_menu(call)
    assert call.agi("200 result=0\n") == ToQueue("support", 0, {"support": 1, **EN}, "en", False)
    assert call.path[-1] == "main_menu"


def test_escape_from_first_menu_has_no_gathered_skills(cfg: Config) -> None:
    call = Call(cfg)
    assert call.agi("200 result=0\n") == ToQueue("support", 0, {"support": 1}, "", False)


def test_escape_while_invalid_prompt_plays(cfg: Config) -> None:
    call = Call(cfg)
    call.agi("200 result=5\n")
    assert call.agi("200 result=48 endpos=300\n") == ToQueue("support", 0, {"support": 1}, "",
                                                             False)


def test_escape_from_account_entry(cfg: Config) -> None:
    call = Call(cfg)
    call.agi("200 result=1\n")
    call.agi("200 result=1\n")
    assert call.agi("200 result=0\n") == ToQueue("support", 0, {"support": 1, **EN}, "en", False)
    assert call.state.data == {}


@pytest.mark.parametrize("raw", ["200 result=-1\n", "511 Command Not Permitted on a dead "
                                 "channel or intercept routine\n"])
def test_caller_hangs_up_mid_menu(cfg: Config, raw: str) -> None:
    call = Call(cfg)
    to_main_menu(call)
    assert call.agi(raw) == EndCall("hangup", "")
    assert call.state.awaiting == Awaiting.DONE
    assert call.path[-1] == "main_menu"


def test_closed_hours(cfg: Config) -> None:
    closed_now = HoursConfig(timezone="UTC", weekly={"mon": ["08:00-09:00"]})
    closed_cfg = cfg.model_copy(update={"hours": {"office": closed_now}})
    call = Call(closed_cfg)
    assert call.last == EndCall("closed", "acd/closed")
    assert call.path == ["hours", "closed"]


def test_holiday_is_closed(cfg: Config) -> None:
    christmas = datetime.fromisoformat("2026-12-25T10:00:00+00:00").timestamp()
    assert Call(cfg, now=christmas).last == EndCall("closed", "acd/closed")
