"""Reading the counters behind the live figures (written by the Lua scripts, see below).

What is counted, and where (every count is made inside the script of the state change it
counts, so a refused, replayed or raced step counts nothing):

- Per queue and 15-minute interval (hash `Keys.queue_interval`, start = floor(now / 900) * 900):
  the `QueueCounts` fields. enqueue: offered. answer: answered, `aw:<bucket>`, wait_sum_s
  (wait = now - entered_at, bucket = `wait_bucket`, computed alike in Lua). end_call from
  waiting/ringing: abandoned + `bw:<bucket>` (outcome abandoned), timed_out (outcome timeout);
  from connected: handled, talk_sum_s (talk = now - answered_at). set_agent_state leaving
  wrap_up: wrapup_sum_s, charged to the queue of the agent's last answered call (last_queue).
  overflowed is not counted yet (always 0). repeat_call: repeats, charged to the queue (and
  agent) of the caller's earlier answered call, when the repeat arrives.
  answer also counts the EWT accuracy (ewt_n, ewt_abs_err_s, ewt_err_s, ewt_w30, ewt_w25).
  overflow.lua: overflowed in the old queue, offered in the new one. end_call from waiting with
  outcome voicemail / closed (admission): voicemail, closed. Callbacks: callback_requested
  (callback_request.lua), callback_answered (answer.lua), callback_failed (end_call).
  Issue 9, in the same hashes:
  - transfers: transfer_queue / transfer_agent count `transferred`, `handled` and the talk in
    the queue left, `transfers_in` in the queue the call goes to (and
    `transfers_in_answered` for a warm transfer connected at once). A transferred call is
    never offered again: its later answer counts `transfers_in_answered` (answer), its
    abandon or time-out `transfers_in_lost` (end_call), never answered / abandoned / the
    wait histograms, so each call is offered and answered once over all queues.
  - wrap-up codes: when a wrap-up ends (set_agent_state leaving wrap_up): `code:<code>` + 1
    for each code given (`none` when none was), and `resolved` / `unresolved` for the agent
    who ended the call (not for one who transferred it), in the agent's last queue.
  - per call reason: every count above is made again as `r:<reason>:<field>` (reason
    `(none)` for a call without one), in the same script, except the queue-only ones
    (transfers_in*, transferred per conversation): `r:<reason>:transferred` counts a call
    once, at its first transfer, and `r:<reason>:handled` when its last conversation ends.
    The survey answers too (survey.lua). Read back as `QueueCounts.by_reason`;
    acd/stats/reasons.py adds them over the queues.
- Per queue, recent facts (sorted set `Keys.queue_recent`, score = time of the fact, trimmed
  to the last hour + margin by the writing scripts): members `<kind>|<id>[|...]|<value>` with
  kind o (offered), a (answered, value = wait), b (abandoned, value = wait), t (timed out),
  h (handled, value = talk), w (wrap-up ended, value = its duration; id = agent|state_since),
  r (a repeat of an answered call of the queue; id = the new call).
  v (overflowed to another queue), m (sent to voicemail), x (closed message), c / k / f
  (callback requested / answered by the customer / failed after every attempt),
  e (an answered call's EWT: id|predicted|actual; see answer.lua), s (a survey answer:
  call|agent|question|value; see survey.lua), y (a conversation ended in a transfer out,
  value = its talk), i (a call transferred in), j (a transferred call answered), l (a
  transferred call lost).
- Survey answers (survey.lua, once per call and question): csat_n, csat_points (0..100 per
  answer), nps_n, nps_promoters, nps_detractors, in the interval hashes of the call's queue and
  of its agent.
  The sliding windows are summed from these, exact to the float second.
- Per agent and interval (hash `Keys.agent_interval`): handled, talk_s, wrapup_s, ready_s,
  not_ready_s, ringing_s, repeats (repeat_call: the agent answered a call that was
  repeated). Time in a state is added when the agent LEAVES it (now -
  state_since): claim (ready), answer (reserved -> ringing_s), requeue (reserved), end_call
  (on_call -> talk_s and handled + 1, or reserved), set_agent_state and remove_agent (any).
  Simplification: the whole time in a state is charged to the interval in which the state
  ends, even if it began in an earlier one. The time of the state an agent is in now is not
  in these counts: the caller adds now - state_since itself.
- Per IVR flow and interval (hash `Keys.funnel_interval`): when a call leaves the IVR (enqueue:
  exit "queue"; end_call from ivr: "closed", "fallback", or "hangup" for any other outcome),
  `r:<node>` + 1 for every distinct node of its ivr_path and `l:<last node>:<exit>` + 1. Calls
  without a flow or with an empty path count nothing.

Interval hashes expire `stats_ttl_s` after their last write (`stats_ttl(history_days)`).
Every read below is one pipelined round trip, whatever the number of queues, agents or flows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

from acd.stats.raw import (
    INTERVAL_S,
    SURVEY_FIELDS,
    AgentCounts,
    FunnelCounts,
    QueueCounts,
    SurveyCounts,
)
from acd.stats.sliding import Fact, SlidingWindows
from acd.store import codec
from acd.store.base import RECENT_KEEP_S, StoreBase, interval_start, text

WINDOW_SPANS_S = (900, 3600)

_QUEUE_INTS = ("offered", "answered", "abandoned", "timed_out", "overflowed", "handled",
               "repeats", "voicemail", "closed", "ewt_n", "ewt_w30", "ewt_w25",
               "callback_requested", "callback_answered", "callback_failed", "transferred",
               "transfers_in", "transfers_in_answered", "transfers_in_lost", "resolved",
               "unresolved")
_QUEUE_FLOATS = ("wait_sum_s", "talk_sum_s", "wrapup_sum_s", "ewt_abs_err_s", "ewt_err_s")
_AGENT_FLOATS = ("talk_s", "wrapup_s", "ready_s", "not_ready_s", "ringing_s")


def interval_starts(start: float, end: float) -> list[int]:
    """Starts of the intervals that overlap [start, end): from the one holding `start` up to the
    last one starting before `end`."""
    if end <= start:
        return []
    return list(range(interval_start(start), _ceil_interval(end), INTERVAL_S))


def _ceil_interval(t: float) -> int:
    first = interval_start(t)
    return first if first == t else first + INTERVAL_S


def queue_counts_of(h: Mapping[str, str]) -> QueueCounts:
    """One interval hash as QueueCounts; its `r:<reason>:<field>` fields (issue 9) as the
    counts of each reason (`by_reason`)."""
    c = _counts_of(h)
    per_reason: dict[str, dict[str, str]] = {}
    for field, value in h.items():
        if field.startswith("r:"):
            reason, _, name = field[2:].partition(":")
            per_reason.setdefault(reason, {})[name] = value
    c.by_reason = {reason: _counts_of(fields) for reason, fields in per_reason.items()}
    return c


def _counts_of(h: Mapping[str, str]) -> QueueCounts:
    c = QueueCounts()
    for name in _QUEUE_INTS:
        setattr(c, name, int(h.get(name) or 0))
    for name in _QUEUE_FLOATS:
        setattr(c, name, float(h.get(name) or 0.0))
    c.survey = survey_counts_of(h)
    for field, value in h.items():
        prefix, _, rest = field.partition(":")
        if prefix == "aw":
            c.answered_waits[int(rest)] = int(value)
        elif prefix == "bw":
            c.abandoned_waits[int(rest)] = int(value)
        elif prefix == "code":
            c.codes[rest] = int(value)
    return c


def agent_counts_of(h: Mapping[str, str]) -> AgentCounts:
    c = AgentCounts(handled=int(h.get("handled") or 0), repeats=int(h.get("repeats") or 0),
                    survey=survey_counts_of(h))
    for name in _AGENT_FLOATS:
        setattr(c, name, float(h.get(name) or 0.0))
    return c


def survey_counts_of(h: Mapping[str, str]) -> SurveyCounts:
    """The survey fields of a queue's or an agent's interval hash (see survey.lua)."""
    return SurveyCounts(**{name: int(h.get(name) or 0) for name in SURVEY_FIELDS})


_C = TypeVar("_C", QueueCounts, AgentCounts)


def _added(out: dict[str, _C], owner: str, counts: _C) -> None:
    """`counts` added to `out[owner]`, which it becomes if there is none yet."""
    mine = out.get(owner)
    if mine is None:
        out[owner] = counts
    else:
        mine.add(counts)


def add_funnel(into: FunnelCounts, h: Mapping[str, str]) -> None:
    """Add one funnel hash (`r:<node>`, `l:<node>:<exit>`, `x:<node>:<lookup outcome>`) to
    `into`."""
    for field, value in h.items():
        kind, _, rest = field.partition(":")
        if kind == "r":
            into.reached[rest] = into.reached.get(rest, 0) + int(value)
        elif kind in ("l", "x"):
            node, _, exit_ = rest.rpartition(":")
            left = (into.left if kind == "l" else into.lookups).setdefault(node, {})
            left[exit_] = left.get(exit_, 0) + int(value)


FACTS_PER_STEP = 200  # recent facts handed on at a time (the loop runs in between)
# Queues read per round trip by queue_windows: redis-py parses a pipeline's replies in one go,
# and an hour of facts of a few hundred queues was a stall of several ms for routing.
WINDOW_BATCH = 16


class StatsReader(StoreBase):
    async def queue_windows(self, queues: list[str], now: float,
                            spans_s: tuple[int, ...] = WINDOW_SPANS_S,
                            ) -> dict[int, dict[str, QueueCounts]]:
        """span -> queue -> counts of the facts in (now - span, now], counted from scratch
        (acd/stats/sliding.py keeps them up to date between reads instead).

        Facts are kept an hour (+ margin, RECENT_KEEP_S): a longer span is a ValueError; use
        queue_intervals for those.
        """
        if any(span > RECENT_KEEP_S for span in spans_s):
            raise ValueError(f"window spans above {RECENT_KEEP_S} s are not kept: {spans_s}")
        if not queues or not spans_s:
            return {span: {q: QueueCounts() for q in queues} for span in spans_s}
        windows = SlidingWindows(spans_s)
        windows.advance(now)
        async for facts in self.recent_facts(queues, now - windows.longest, now):
            windows.add(facts)
        return windows.all_counts(queues)

    async def recent_facts(self, queues: list[str], after: float, upto: float,
                           ) -> AsyncIterator[list[Fact]]:
        """The recent facts of the queues with a score in (after, upto], as (queue, member,
        score), a few queues' worth at a time; the loop runs between two lots (an hour of
        facts of a busy centre is many)."""
        low, high = f"({codec.enc_float(after)}", codec.enc_float(upto)
        for start in range(0, len(queues), WINDOW_BATCH):
            part = queues[start:start + WINDOW_BATCH]
            async with self._r.pipeline(transaction=False) as pipe:
                for q in part:
                    pipe.zrangebyscore(self._k.queue_recent(q), low, high, withscores=True)
                replies: list[list[tuple[Any, float]]] = await pipe.execute()
            lot: list[Fact] = []
            for q, facts in zip(part, replies, strict=True):
                lot += [(q, text(member), score) for member, score in facts]
                if len(lot) >= FACTS_PER_STEP:
                    yield lot
                    lot = []
                    await asyncio.sleep(0)
            if lot:
                yield lot
                await asyncio.sleep(0)

    async def queue_intervals(self, queues: list[str], start: float, end: float,
                              ) -> dict[str, dict[int, QueueCounts]]:
        """queue -> interval start -> counts, for every interval overlapping [start, end)
        (empty intervals included, as zero counts)."""
        starts = interval_starts(start, end)
        out: dict[str, dict[int, QueueCounts]] = {q: {} for q in queues}
        where = [(q, s) for q in queues for s in starts]
        async for i, h in self._each_hash([self._k.queue_interval(q, s) for q, s in where]):
            q, s = where[i]
            out[q][s] = queue_counts_of(h)
        return out

    async def queue_totals(self, queues: list[str], start: float, end: float,
                           ) -> dict[str, QueueCounts]:
        """queue -> counts summed over the intervals overlapping [start, end) (raw.summed of
        queue_intervals, added up batch by batch as the replies come)."""
        starts = interval_starts(start, end)
        if not starts:
            return {q: QueueCounts() for q in queues}
        # (each queue's counts made as its first reply comes, batch by batch: made all at
        # once before the reads, a big centre's were a step of several ms)
        out: dict[str, QueueCounts] = {}
        owners = [q for q in queues for _ in starts]
        async for i, h in self._each_hash(
                [self._k.queue_interval(q, s) for q in queues for s in starts]):
            _added(out, owners[i], queue_counts_of(h))
        return out

    async def agent_intervals(self, agent_ids: list[str], start: float, end: float,
                              ) -> dict[str, AgentCounts]:
        """agent -> counts summed over the intervals overlapping [start, end)."""
        starts = interval_starts(start, end)
        if not starts:
            return {a: AgentCounts() for a in agent_ids}
        out: dict[str, AgentCounts] = {}  # (made as the replies come: see queue_totals)
        owners = [a for a in agent_ids for _ in starts]
        async for i, h in self._each_hash(
                [self._k.agent_interval(a, s) for a in agent_ids for s in starts]):
            _added(out, owners[i], agent_counts_of(h))
        return out

    async def funnel(self, flows: list[str], start: float, end: float,
                     ) -> dict[str, FunnelCounts]:
        """flow -> IVR funnel summed over the intervals overlapping [start, end)."""
        starts = interval_starts(start, end)
        out = {f: FunnelCounts() for f in flows}
        owners = [f for f in flows for _ in starts]
        async for i, h in self._each_hash(
                [self._k.funnel_interval(f, s) for f in flows for s in starts]):
            add_funnel(out[owners[i]], h)
        return out
