"""Post-call survey answers counted in the figures (issue 9's seam for the survey of issue 4:
the survey calls `count_survey` once it has an answer)."""

from __future__ import annotations

from typing import Any

from acd.store.base import StoreBase, interval_start


class SurveySteps(StoreBase):
    async def count_survey(self, call_id: str, now: float, csat: int | None = None,
                           nps: int | None = None) -> bool:
        """Count a call's survey answers (CSAT 1..5, NPS 0..10) once, for its queue and its
        reason; False when there is no such call or it was counted already."""
        if csat is not None and not 1 <= csat <= 5:
            raise ValueError(f"CSAT answer {csat} outside 1..5")
        if nps is not None and not 0 <= nps <= 10:
            raise ValueError(f"NPS answer {nps} outside 0..10")
        k = self._k

        async def run(queue: str) -> Any:
            return await self._lua.survey(
                keys=[k.call(call_id), k.queue_interval(queue, interval_start(now)), k.events],
                args=[*self._head(now), call_id, queue, "" if csat is None else str(csat),
                      "" if nps is None else str(nps), self._stats_ttl_s])

        return bool(await self._with_hint(k.call(call_id), ("queue",), run))
