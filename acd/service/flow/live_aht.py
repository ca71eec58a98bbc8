"""The handle time the caller-facing policies estimate waits with: measured over the last hour
per queue (talk + wrap-up of the calls handled, as the 60-minute AHT figure), else the queue's
`assumed_aht_s`.

The figures count that hour anyway, so they hand it over (`ServiceBackend` at each refresh:
to the engine in the same process, or through the store to the routing process when the
figures run in a process of their own, `follow_offsets`). The routing process used to read
the hour's facts itself every 15 s: ~28 MB of its heap at the benchmark's full size, and a
read of ~290,000 facts (1.2 s) at each start (BENCHMARKS.md, session 18). Without figures
(an own_process service with the HTTP API off) the assumed times are used."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING

from acd.config import QueueConfig

if TYPE_CHECKING:
    from acd.service.engine import Engine


class LiveAht:
    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self._measured: dict[str, float] = {}

    def set_measured(self, times: Mapping[str, float]) -> None:
        """The handle times of the latest figures (replaced whole, never changed in place:
        a tick worked out in slices keeps the ones it began with, see frozen)."""
        if times != self._measured:
            self._measured = dict(times)

    def frozen(self) -> tuple[Callable[[str], float | None], Callable[[str], float]]:
        """aht_s and wrapup_s as they are now, whatever is handed or reloaded later (for a tick
        worked out in slices): the figures and the config are replaced, never changed."""
        return partial(_aht_s, self._measured, self.e.cfg.queues), \
            partial(_wrapup_s, self.e.cfg.queues)

    def aht_s(self, queue: str) -> float | None:
        return _aht_s(self._measured, self.e.cfg.queues, queue)

    def wrapup_s(self, queue: str) -> float:
        return _wrapup_s(self.e.cfg.queues, queue)


def _aht_s(measured: Mapping[str, float], queues: Mapping[str, QueueConfig],
           queue: str) -> float | None:
    found = measured.get(queue)
    if found is not None:
        return found
    qcfg = queues.get(queue)
    return qcfg.assumed_aht_s if qcfg is not None else None


def _wrapup_s(queues: Mapping[str, QueueConfig], queue: str) -> float:
    qcfg = queues.get(queue)
    return qcfg.wrapup_s if qcfg is not None else 0.0
