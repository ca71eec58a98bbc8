"""manager.conf `eventfilter` for the simulated PBX, as Asterisk 20 applies it to a manager
user's events (main/manager.c, match_filter): a filter is a regular expression searched in the
event's text; one starting with `!` excludes. With no filter every event passes; with
including filters an event must match one of them; an excluding filter that matches drops it.

Our shipped dialplans/manager_acd.conf lists the events acd uses, so a PBX set up as the admin
guide says sends only those: the simulator honours the same lines (the benchmark reads that
file), and does not build the frames of events it would not send.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from acd.pbxsim import frames
from acd.pbxsim.dialplan import strip_comment
from acd.pbxsim.frames import Headers

_NAME_ONLY = "^Event: "  # a filter on the first line only: judged once per event name


class EventFilter:
    def __init__(self, filters: Sequence[str] = ()) -> None:
        self.including = [re.compile(f) for f in filters if not f.startswith("!")]
        self.excluding = [re.compile(f[1:]) for f in filters if f.startswith("!")]
        self.active = bool(filters)
        self._by_name_only = all(f.lstrip("!").startswith(_NAME_ONLY) for f in filters)
        self._names: dict[str, bool] = {}
        self.dropped: dict[str, int] = {}  # events not sent, by name

    def passes(self, event: str, headers: Headers) -> bool:
        if not self.active:
            return True
        if self._by_name_only:
            ok = bool(self.by_name(event))
        else:
            ok = self.passes_text(frames.event_frame(event, headers))
        if not ok:
            self.dropped[event] = self.dropped.get(event, 0) + 1
        return ok

    def by_name(self, event: str) -> bool | None:
        """Whether an event of this name passes, when the name alone decides (None: the
        filters look at other headers too). Counts nothing."""
        if not self.active:
            return True
        if not self._by_name_only:
            return None
        ok = self._names.get(event)
        if ok is None:
            ok = self._names[event] = self.passes_text(f"Event: {event}\r\n")
        return ok

    def skipped(self, event: str) -> None:
        """An event not built (no listener wanted it) that this filter would have dropped."""
        self.dropped[event] = self.dropped.get(event, 0) + 1

    def passes_text(self, text: str) -> bool:
        """Whether an event, as the text of its frame, passes."""
        if self.including and not any(f.search(text) for f in self.including):
            return False
        return not any(f.search(text) for f in self.excluding)


Includes = Callable[[str, Path], "Path | None"]


def beside(name: str, conf: Path) -> Path | None:
    """An #include's file: relative to the including file (None: not there)."""
    target = conf.parent / name
    return target if target.exists() else None


def manager_conf_filters(path: Path | str, user: str = "acd",
                         includes: Includes = beside) -> list[str]:
    """The `eventfilter` values of a manager.conf's [user] (also `[user](+)`), following
    `#include "file"` lines (`includes` finds the file; None: skipped)."""
    path = Path(path)
    out: list[str] = []
    section = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = strip_comment(raw).strip()
        if not line:
            continue
        include = re.fullmatch(r'#include\s+"([^"]+)"', line)
        if include:
            target = includes(include.group(1), path)
            if target is not None:
                out += manager_conf_filters(target, user, includes)
            continue
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            section = header.group(1)
        elif section == user:
            key, _, value = line.partition("=")
            if key.strip() == "eventfilter":
                out.append(value.strip())
    return out
