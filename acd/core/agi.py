"""AGI wire text: parse the result lines of AsyncAGI commands and build the command strings.

Pure. The service URL-decodes the `Result` header of `AsyncAGIExec` and hands it here.
Result lines seen from Asterisk 20 (res_agi.c)::

    200 result=1234                 GET DATA, all digits (or `#` ended the input)
    200 result=12 (timeout)         GET DATA timed out with partial digits
    200 result= (timeout)           GET DATA timed out with none
    200 result=0 endpos=3520        STREAM FILE, no digit pressed
    200 result=53                   WAIT FOR DIGIT / STREAM FILE: ASCII code of the digit ("5")
    200 result=-1                   the channel hung up (or was redirected) while the command ran
    510 Invalid or unknown command
    511 Command Not Permitted on a dead channel or intercept routine
    520-Invalid command syntax...   (multi-line usage, ends with "520 End of proper usage.")
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DTMF = "0123456789*#ABCD"
_CODE_LINE = re.compile(r"^(\d{3})(?:[ -](.*))?$")
_RESULT = re.compile(r"^result=(\S*)(.*)$")
# Text in parentheses may itself hold ")": greedy, so backtracking keeps only key=value after it.
_TAIL = re.compile(r"^(?:\s+\((.*)\))?((?:\s+[A-Za-z_][A-Za-z0-9_]*=\S*)*)\s*$")


class AgiParseError(ValueError):
    """A Result that is not an AGI result line."""


@dataclass(frozen=True)
class AgiResult:
    code: int  # 200 ok; 510/511/520 errors
    result: str  # kept as text: GET DATA digits may start with 0 ("0042")
    timeout: bool = False
    data: str = ""  # text in parentheses; for a non-200 code, the message
    extra: dict[str, str] = field(default_factory=dict)  # endpos=3520 and the like

    @property
    def hung_up(self) -> bool:
        """The caller is gone: result=-1, or 511 (command refused on a dead channel)."""
        return self.code == 511 or (self.code == 200 and self.result == "-1")

    @property
    def digit(self) -> str | None:
        """The DTMF digit of a STREAM FILE / WAIT FOR DIGIT result, None when none was pressed."""
        try:
            return digit_from_code(int(self.result))
        except ValueError:
            return None


def parse_agi_result(raw: str) -> AgiResult:
    """Parse one URL-decoded AGI result (trailing newline allowed)."""
    lines = [ln for ln in raw.strip().splitlines() if ln.strip()]
    if not lines:
        raise AgiParseError("empty AGI result")
    m = _CODE_LINE.match(lines[0].strip())
    if m is None:
        raise AgiParseError(f"AGI result does not start with a 3-digit code: {raw!r}")
    code, rest = int(m.group(1)), (m.group(2) or "").strip()
    if code != 200:
        return AgiResult(code=code, result="", data=rest)
    r = _RESULT.match(rest)
    if r is None:
        raise AgiParseError(f"AGI 200 result without 'result=': {raw!r}")
    tail = _TAIL.match(r.group(2))
    if tail is None:
        raise AgiParseError(f"unexpected text after the AGI result value: {raw!r}")
    data = tail.group(1) or ""
    extra = dict(kv.split("=", 1) for kv in tail.group(2).split())
    return AgiResult(code=200, result=r.group(1), timeout=data == "timeout", data=data,
                     extra=extra)


def digit_from_code(code: int) -> str | None:
    """The DTMF digit for an ASCII code (53 -> "5"); None for 0, -1 or a non-DTMF code."""
    if 0 < code < 128 and chr(code) in _DTMF:
        return chr(code)
    return None


def quote(arg: str) -> str:
    """One AGI argument as Asterisk's parse_args reads it: quoted only when it must be."""
    if "\r" in arg or "\n" in arg:
        raise ValueError(f"AGI argument cannot hold a line break: {arg!r}")
    if arg and not any(c in arg for c in ' \t"\\'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ms(seconds: float) -> str:
    return str(round(seconds * 1000)) if seconds >= 0 else "-1"


def stream_file(prompt: str, escape_digits: str = "") -> str:
    # The escape-digits argument is mandatory: an empty one is sent as "".
    return f"STREAM FILE {quote(prompt)} {quote(escape_digits)}"


def get_data(prompt: str, timeout_s: float, max_digits: int) -> str:
    return f"GET DATA {quote(prompt)} {_ms(timeout_s)} {int(max_digits)}"


def wait_for_digit(timeout_s: float) -> str:
    """A negative timeout waits forever."""
    return f"WAIT FOR DIGIT {_ms(timeout_s)}"


def hangup() -> str:
    return "HANGUP"


def set_variable(name: str, value: str) -> str:
    if not name or any(c.isspace() for c in name):
        raise ValueError(f"bad channel variable name: {name!r}")
    return f"SET VARIABLE {quote(name)} {quote(value)}"
