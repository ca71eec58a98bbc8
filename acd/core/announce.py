"""What a waiting caller is told: its place and its estimated wait in minutes. Pure.

The hold loop (dialplans/extensions_acd.conf, [acd-announce]) reads one channel variable,
ACD_ANNOUNCE = "<seq>:<position>:<minutes>", and plays it once (it keeps the last one played in
ACD_ANNOUNCED): a new `seq` is a new announcement. An empty field is not said. Minutes:
"0" is said "less than one minute"; otherwise the number of minutes.

Rounding (`spoken_minutes`): under a minute is "less than one minute"; up to ten minutes the
nearest whole minute; beyond, the nearest five minutes (callers hear "about 25 minutes", not a
precision the estimate does not have).
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.config_policies import AnnounceConfig


def spoken_minutes(ewt_s: float | None) -> int | None:
    """The minutes said for an estimated wait (0: "less than one minute"; None: nothing)."""
    if ewt_s is None or ewt_s != ewt_s:  # None or NaN
        return None
    if ewt_s < 60:
        return 0
    minutes = int(ewt_s / 60 + 0.5)
    if minutes <= 10:
        return minutes
    return int(ewt_s / 300 + 0.5) * 5


@dataclass(frozen=True, slots=True)
class Announcement:
    position: int | None
    minutes: int | None

    def said(self) -> tuple[int | None, int | None]:
        return (self.position, self.minutes)


def announcement(cfg: AnnounceConfig, position: int, ewt_s: float | None) -> Announcement:
    return Announcement(position if cfg.position else None,
                        spoken_minutes(ewt_s) if cfg.ewt else None)


def pack(seq: int, what: Announcement) -> str:
    """The value of ACD_ANNOUNCE."""
    def field(v: int | None) -> str:
        return "" if v is None else str(v)

    return f"{seq}:{field(what.position)}:{field(what.minutes)}"


def due(cfg: AnnounceConfig, now: float, last_at: float | None, entered_at: float,
        last: Announcement | None, current: Announcement) -> bool:
    """Is an announcement due now? `last_at`: when the caller was last told (None: never)."""
    if last_at is None:
        since = entered_at if not cfg.on_entry else None
        if since is None:
            return True
        return bool(cfg.every_s) and now - since >= cfg.every_s
    if not cfg.every_s or now - last_at < cfg.every_s:
        return False
    return not (cfg.only_changes and last is not None and last.said() == current.said())
