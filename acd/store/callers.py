"""What the store remembers about caller numbers across calls: the last answered call (for
last-agent routing and repeat-call figures)."""

from __future__ import annotations

from dataclasses import dataclass

from acd.store import codec
from acd.store.base import RECENT_KEEP_S, StoreBase, interval_start, text


@dataclass(frozen=True, slots=True)
class LastAnswer:
    call_id: str
    at: float
    queue: str
    agent_id: str


class CallerSteps(StoreBase):
    async def remember_answer(self, caller_num: str, call_id: str, queue: str, agent_id: str,
                              now: float, keep_s: float, reason: str = "") -> None:
        """The call was answered: it is the number's last answered call from now on."""
        if not caller_num:
            return
        key = self._k.last_answer(caller_num)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"call": call_id, "at": codec.enc_float(now), "queue": queue,
                                    "agent": agent_id, "repeated": "0", "reason": reason})
            pipe.expire(key, max(1, int(keep_s)))
            await pipe.execute()

    async def last_answer(self, caller_num: str) -> LastAnswer | None:
        if not caller_num:
            return None
        h = {text(f): text(v) for f, v in
             (await self._r.hgetall(self._k.last_answer(caller_num))).items()}
        if not h.get("call"):
            return None
        return LastAnswer(h["call"], float(h.get("at") or 0.0), h.get("queue", ""),
                          h.get("agent", ""))

    async def count_repeat(self, call_id: str, caller_num: str, now: float,
                           window_s: float) -> bool:
        """Count the number's last answered call as repeated (once), if it is recent."""
        k = self._k
        for _ in range(3):
            last = await self.last_answer(caller_num)
            if last is None or last.call_id == call_id or last.at < now - window_s:
                return False
            start = interval_start(now)
            reply = await self._lua.repeat_call(
                keys=[k.call(call_id), k.last_answer(caller_num),
                      k.queue_interval(last.queue, start), k.queue_recent(last.queue),
                      k.agent_interval(last.agent_id, start)],
                args=[*self._head(now), call_id, codec.enc_float(now - window_s), last.call_id,
                      self._stats_ttl_s, RECENT_KEEP_S])
            if not isinstance(reply, list):
                return bool(reply)
        return False
