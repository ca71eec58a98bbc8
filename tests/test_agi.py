"""AGI result parsing and command building: tables of what Asterisk 20 sends and expects."""

from __future__ import annotations

import pytest

from acd.core.agi import (
    AgiParseError,
    AgiResult,
    digit_from_code,
    get_data,
    hangup,
    parse_agi_result,
    quote,
    set_variable,
    stream_file,
    wait_for_digit,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("200 result=1234\n", AgiResult(200, "1234")),
    ("200 result=0042\n", AgiResult(200, "0042")),
    ("200 result=0 endpos=3520\n", AgiResult(200, "0", extra={"endpos": "3520"})),
    ("200 result=-1\n", AgiResult(200, "-1")),
    ("200 result=53\n", AgiResult(200, "53")),
    ("200 result= (timeout)\n", AgiResult(200, "", True, "timeout")),
    ("200 result=12 (timeout)\n", AgiResult(200, "12", True, "timeout")),
    ("200 result=1 (5551234)\n", AgiResult(200, "1", False, "5551234")),
    ("200 result=1 (a (b) c)\n", AgiResult(200, "1", False, "a (b) c")),
    ("200 result=0 (timeout) endpos=160\n",
     AgiResult(200, "0", True, "timeout", {"endpos": "160"})),
    ("200 result=#\n", AgiResult(200, "#")),
    ("200 result=1", AgiResult(200, "1")),  # no trailing newline
    ("  200 result=1  \r\n", AgiResult(200, "1")),
    ("510 Invalid or unknown command\n", AgiResult(510, "", data="Invalid or unknown command")),
    ("511 Command Not Permitted on a dead channel or intercept routine\n",
     AgiResult(511, "", data="Command Not Permitted on a dead channel or intercept routine")),
    ("520-Invalid command syntax.  Proper usage follows:\nUsage: GET DATA\n"
     "520 End of proper usage.\n",
     AgiResult(520, "", data="Invalid command syntax.  Proper usage follows:")),
])
def test_parse(raw: str, expected: AgiResult) -> None:
    assert parse_agi_result(raw) == expected


@pytest.mark.parametrize(("raw", "message"), [
    ("", "empty"),
    ("\n\n", "empty"),
    ("hello", "3-digit code"),
    ("20 result=1", "3-digit code"),
    ("200 foo=1", "without 'result='"),
    ("200 result=1 junk", "unexpected text"),
    ("200 result=1 (unclosed", "unexpected text"),
])
def test_parse_garbage(raw: str, message: str) -> None:
    with pytest.raises(AgiParseError, match=message):
        parse_agi_result(raw)


@pytest.mark.parametrize(("raw", "hung_up", "digit"), [
    ("200 result=-1\n", True, None),
    ("511 Command Not Permitted on a dead channel\n", True, None),
    ("200 result=0 endpos=3520\n", False, None),
    ("200 result=53\n", False, "5"),
    ("200 result=35 endpos=100\n", False, "#"),
    ("200 result=1234\n", False, None),  # not an ASCII DTMF code
    ("510 Invalid or unknown command\n", False, None),
])
def test_result_helpers(raw: str, hung_up: bool, digit: str | None) -> None:
    res = parse_agi_result(raw)
    assert res.hung_up is hung_up
    assert res.digit == digit


@pytest.mark.parametrize(("code", "digit"), [
    (48, "0"), (53, "5"), (57, "9"), (42, "*"), (35, "#"), (65, "A"),
    (0, None), (-1, None), (49 + 1000, None), (97, None),
])
def test_digit_from_code(code: int, digit: str | None) -> None:
    assert digit_from_code(code) == digit


@pytest.mark.parametrize(("command", "expected"), [
    (stream_file("beep"), 'STREAM FILE beep ""'),  # as in the recorded trace
    (stream_file("acd/main-menu", "0"), "STREAM FILE acd/main-menu 0"),
    (stream_file("my prompt", "0#"), 'STREAM FILE "my prompt" 0#'),
    (get_data("beep", 6, 4), "GET DATA beep 6000 4"),
    (get_data("acd/menu", 2.5, 1), "GET DATA acd/menu 2500 1"),
    (wait_for_digit(6), "WAIT FOR DIGIT 6000"),
    (wait_for_digit(-1), "WAIT FOR DIGIT -1"),
    (hangup(), "HANGUP"),
    (set_variable("ACD_INPUT", "1234"), "SET VARIABLE ACD_INPUT 1234"),
    (set_variable("CHANNEL(language)", "es"), "SET VARIABLE CHANNEL(language) es"),
    (set_variable("X", ""), 'SET VARIABLE X ""'),
    (set_variable("X", 'say "hi" \\ bye'), 'SET VARIABLE X "say \\"hi\\" \\\\ bye"'),
])
def test_commands(command: str, expected: str) -> None:
    assert command == expected


@pytest.mark.parametrize("bad", ["a\nb", "a\rb"])
def test_quote_refuses_line_breaks(bad: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        quote(bad)


@pytest.mark.parametrize("name", ["", "A B", "A\tB"])
def test_set_variable_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="variable name"):
        set_variable(name, "1")
