"""Live staffing of a queue by Erlang C (pure): how many agents would meet the queue's service
level target now, and how many more than are logged in that is.

- arrival rate: the calls offered in the last 60 minutes, per hour;
- handle time: the queue's AHT (talk + wrap-up) of the last 60 minutes, else of today;
- target: the queue's sla.target_pct within sla.threshold_s.
`agents_needed_now` is None while no handled call gives an AHT. `agents_short_now` is that minus
the logged-in agents able to take the queue (ready, busy or not ready): negative means spare
agents. An agent serving several queues counts in each, so the shortfalls of queues sharing
agents do not add up.
"""

from __future__ import annotations

from functools import lru_cache

from acd.config import SlaConfig
from acd.stats import erlang
from acd.stats.schema import WindowFigures


@lru_cache(maxsize=512)  # one snapshot a second asks the same again until a call comes or ends
def _needed(offered_last_hour: int, aht_s: float, target_pct: float, threshold_s: int) -> int:
    return erlang.agents_needed(offered_last_hour * aht_s / 3600.0, aht_s, target_pct / 100,
                                threshold_s)


def agents_needed_now(sla: SlaConfig, last_hour: WindowFigures, today: WindowFigures
                      ) -> int | None:
    aht = last_hour.aht_s if last_hour.aht_s is not None else today.aht_s
    if aht is None or aht <= 0:
        return None
    return _needed(last_hour.offered, aht, sla.target_pct, sla.threshold_s)


def agents_short_now(needed: int | None, logged_in: int) -> int | None:
    return None if needed is None else needed - logged_in
