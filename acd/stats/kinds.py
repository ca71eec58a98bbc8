"""Who serves each kind of waiting call (queue + required skills), and how many of them work
now: what the batch EWT (acd/stats/ewt_batch.py) shares the calls ahead out by. Pure.

- Each call's kind is a small int (`KindCache.of`), remembered while the Call object stays the
  same.
- Who could ever take a kind is worked out once per config (`agents_changed`) as a bit mask
  (an agent's bit: `_bits`): the agents holding each required skill at its level, ANDed, and
  those serving the kind's queue. The masks of a skill at a level and of a queue come from one
  pass over the agents, made when first needed.
- How many working agents (able to take calls now or later) serve each kind and each pair of
  kinds is kept from pass to pass, and follows the agents that start or stop working one by
  one.
- The working agents are a bit mask too: a count not kept is an AND and a popcount.
- `Shares` is one pass's view: the working agents of each kind, and the share of one kind's
  calls that another kind's agents take, pair by pair (`share`, with the counts kept).
  `share_row` and `share_weights` give one kind's shares of every kind waiting (the columns:
  each kind with its takers' mask and how many of them work), from the masks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from acd.core.model import Agent, Call
from acd.stats.ewt import ABLE_STATES, CallKind


class KindCache:
    """Each call's kind as a small int, remembered while the Call object stays the same, and
    who could ever take each kind (any agent state: `serves` depends only on the agents'
    skills and queues, which change with the config: call `agents_changed` then).

    Also, kept from pass to pass, how many working agents (able to take calls now or later)
    serve each kind, and each pair of kinds. Those counts follow the working set agent by
    agent: at the full bench size one agent paused after a ring-no-answer made the next
    caller's EWT count 1,000 kinds afresh (35 ms in the engine's serial loop); now it changes
    the counts of the ~70 kinds that agent serves."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Call, dict[str, int], str, int]] = {}
        self._index: dict[CallKind, int] = {}
        self.kinds: list[CallKind] = []
        self.working: frozenset[str] = frozenset()
        self._size: dict[int, int] = {}  # kind -> working agents serving it
        self._overlap: dict[int, dict[int, int]] = {}  # kind -> kind -> working serving both
        self._pairs = 0  # entries in _overlap
        # Agents as bits of masks: (a & b).bit_count() is ~0.2 us where a frozenset
        # intersection of a few hundred agents was ~7 us, and a tick of a big centre asks for
        # 150,000 of them.
        self._bits: dict[str, int] = {}
        self._ids: list[str] = []  # bit -> agent id
        self._agent_masks: _AgentMasks | None = None  # (made when first needed)
        self._level_masks: dict[tuple[str, int], int] = {}  # (skill, level) -> agents meeting it
        self._queue_masks: dict[str, int] = {}  # queue -> agents serving it
        self._masks: dict[int, int] = {}  # kind -> who could ever take it
        self._made: list[int] = []  # the kinds of _masks, in the order they were made
        # agent id -> the kinds it serves among the first n made (n: the second item); made
        # and caught up when the agent starts or stops working, for the counts that follow it
        self._served: dict[str, tuple[list[int], int]] = {}
        self._working_mask: int | None = None  # the working agents (None: to be made)
        self.generation = 0  # one more at each agents_changed

    def working_now(self, agents: Sequence[Agent]) -> frozenset[str]:
        working = frozenset(a.id for a in agents if a.state in ABLE_STATES)
        if working != self.working:
            moved = working.symmetric_difference(self.working)
            if len(moved) > RECOUNT_OVER:
                self._size.clear()
                self._forget_pairs()
                self._working_mask = None
            else:
                for agent_id in moved:
                    self._moved(agent_id, 1 if agent_id in working else -1)
                    if self._working_mask is not None:
                        self._working_mask ^= 1 << self._bit(agent_id)
            self.working = working
        if self._working_mask is None:
            self._working_mask = _mask(self._bit(agent_id) for agent_id in working)
        return working

    @property
    def working_mask(self) -> int:
        """The working agents as a bit mask (working_now called first, in the same pass)."""
        assert self._working_mask is not None, "working_now first"
        return self._working_mask

    def _bit(self, agent_id: str) -> int:
        bit = self._bits.get(agent_id)
        if bit is None:
            bit = self._bits[agent_id] = len(self._ids)
            self._ids.append(agent_id)
        return bit

    def ids(self, mask: int) -> list[str]:
        """The agents of a mask made by this cache."""
        ids = self._ids
        return [ids[bit] for bit in _bits_of(mask)]

    def takers_mask(self, kind: int, agents: Sequence[Agent]) -> int:
        """Who could ever take `kind` (any state: it depends on the agents' skills and queues
        alone), as a bit mask."""
        found = self._masks.get(kind)
        if found is None:
            queue, need = self.kinds[kind]
            found = self._queue_mask(queue, agents)
            for skill, level in need:
                if found:
                    found &= self._level_mask(skill, level, agents)
            self._masks[kind] = found
            self._made.append(kind)
        return found

    def _of_agents(self, agents: Sequence[Agent]) -> _AgentMasks:
        if self._agent_masks is None:
            self._agent_masks = _AgentMasks(agents, self._bit)
        return self._agent_masks

    def _level_mask(self, skill: str, level: int, agents: Sequence[Agent]) -> int:
        """The agents holding `skill` at `level` or above (meets(), one skill)."""
        if level <= 0:  # (a skill not held counts as level 0)
            return self._of_agents(agents).every
        found = self._level_masks.get((skill, level))
        if found is None:
            found = self._level_masks[skill, level] = _mask(
                bit for bit, held in self._of_agents(agents).by_skill.get(skill, ())
                if held >= level)
        return found

    def _queue_mask(self, queue: str, agents: Sequence[Agent]) -> int:
        """The agents whose queues allow `queue` (serves() without `now`: none listed is any)."""
        found = self._queue_masks.get(queue)
        if found is None:
            of = self._of_agents(agents)
            found = self._queue_masks[queue] = of.open | _mask(of.listed.get(queue, ()))
        return found

    def _moved(self, agent_id: str, step: int) -> None:
        """An agent started (+1) or stopped (-1) working: the counts of the kinds it serves."""
        size, overlap = self._size, self._overlap
        if not size and not overlap:
            return
        kinds = self._served_by(agent_id)
        for kind in kinds:
            if kind in size:
                size[kind] += step
            pairs = overlap.get(kind)
            if pairs is not None:
                for other in kinds:
                    if other in pairs:
                        pairs[other] += step

    def _served_by(self, agent_id: str) -> list[int]:
        """The kinds with a mask made that the agent serves: caught up with the masks made
        since it last moved (a cold cache makes a thousand at once; each agent then tests
        them when it first moves, not each new mask every agent)."""
        kinds, known = self._served.get(agent_id, ([], 0))
        made = self._made
        if known < len(made):
            bit = self._bits.get(agent_id)
            if bit is not None:
                one, masks = 1 << bit, self._masks
                kinds.extend(kind for kind in made[known:] if masks[kind] & one)
            self._served[agent_id] = kinds, len(made)
        return kinds

    def size(self, kind: int, agents: Sequence[Agent]) -> int:
        """Working agents serving `kind` (working_now called first, in the same pass)."""
        found = self._size.get(kind)
        if found is None:
            found = self._size[kind] = (self.working_mask
                                        & self.takers_mask(kind, agents)).bit_count()
        return found

    def overlap(self, kind: int, ours: int, other: int, agents: Sequence[Agent]) -> int:
        """Working agents serving both kinds; `ours`: the working agents serving `kind`, as a
        bit mask (Shares.takers_mask)."""
        pairs = self._overlap.get(kind)
        found = None if pairs is None else pairs.get(other)
        if found is None:
            found = (ours & self.takers_mask(other, agents)).bit_count()
            if self._pairs < PAIRS_KEPT:  # (past it, the pairs kept are still followed)
                self._overlap.setdefault(kind, {})[other] = found
                self._pairs += 1
        return found

    def _forget_pairs(self) -> None:
        self._overlap.clear()
        self._pairs = 0

    def of(self, call: Call) -> int:
        seen = self._seen.get(call.id)
        if seen is not None and seen[0] is call and seen[1] is call.required \
                and seen[2] == call.queue:
            return seen[3]
        index = self.index_of((call.queue, frozenset(call.required.items())))
        if len(self._seen) > 4 * 65_536:  # ended calls pile up: start afresh now and then
            self._seen.clear()
        self._seen[call.id] = (call, call.required, call.queue, index)
        return index

    def index_of(self, kind: CallKind) -> int:
        index = self._index.get(kind)
        if index is None:
            index = self._index[kind] = len(self.kinds)
            self.kinds.append(kind)
        return index

    def agents_changed(self) -> None:
        """Agents' skills or queues changed (a config reload), or agents came or went."""
        self.generation += 1
        self._size.clear()
        self._forget_pairs()
        self._bits.clear()
        self._ids.clear()
        self._agent_masks = None
        self._level_masks.clear()
        self._queue_masks.clear()
        self._masks.clear()
        self._made.clear()
        self._served.clear()
        self._working_mask = None


class _AgentMasks:
    """One pass over the agents (once per config) for the masks of KindCache: every agent,
    those serving any queue, each listed queue's, and each skill's holders with their
    levels. With a thousand kinds waiting, working each kind's takers out agent by agent was
    ~0.35 s at the full bench size, in one step of the first EWT after a start or a reload."""

    def __init__(self, agents: Sequence[Agent], bit_of: Callable[[str], int]) -> None:
        every: list[int] = []
        open_: list[int] = []
        self.listed: dict[str, list[int]] = {}  # queue -> agents listing it
        self.by_skill: dict[str, list[tuple[int, int]]] = {}  # skill -> (agent, level)
        for agent in agents:
            bit = bit_of(agent.id)
            every.append(bit)
            if agent.queues:
                for queue in agent.queues:
                    self.listed.setdefault(queue, []).append(bit)
            else:
                open_.append(bit)
            for skill, level in agent.skills.items():
                self.by_skill.setdefault(skill, []).append((bit, level))
        self.every = _mask(every)
        self.open = _mask(open_)


def _mask(bits: Iterable[int]) -> int:
    """The bits as one int (a byte array first: OR-ing big ints one bit at a time copies them
    each time)."""
    found = list(bits)
    if not found:
        return 0
    buf = bytearray((max(found) >> 3) + 1)
    for bit in found:
        buf[bit >> 3] |= 1 << (bit & 7)
    return int.from_bytes(buf, "little")


def _bits_of(mask: int) -> list[int]:
    """The bits set in a mask, lowest first (a byte at a time: shifting a 5,000-bit int once
    per bit copies it each time)."""
    out = []
    for at, byte in enumerate(mask.to_bytes((mask.bit_length() + 7) // 8, "little")):
        while byte:
            low = byte & -byte
            out.append(8 * at + low.bit_length() - 1)
            byte ^= low
    return out


# More agents than this starting or stopping work between two passes (a shift logging in):
# the counts are made afresh as they are asked for, not followed agent by agent.
RECOUNT_OVER = 32
# Pairs of kinds whose counts are kept and followed at most (a thousand queues' callers each
# told their EWT would ask for a million), ~10 MB: others are counted each time they are asked.
PAIRS_KEPT = 250_000


class Shares:
    """For one pass: the working agents, who serves each kind, and kind-to-kind shares."""

    def __init__(self, agents: Sequence[Agent], cache: KindCache,
                 by_id: Mapping[str, Agent] | None = None) -> None:
        self.agents = agents
        self._by_id = by_id
        cache.working_now(agents)
        # (kept: the cache's follows the agents, and a pass run in steps reads it later)
        self.working_mask = cache.working_mask
        self.cache = cache
        self._masks: dict[int, int] = {}

    def takers_mask(self, kind: int) -> int:
        """The working agents (able to take calls now or after their call) serving `kind`, as
        a bit mask (KindCache's bits)."""
        found = self._masks.get(kind)
        if found is None:
            found = self._masks[kind] = (self.working_mask
                                         & self.cache.takers_mask(kind, self.agents))
        return found

    def able(self, kind: int) -> list[Agent]:
        """takers_mask(kind) as agents."""
        if self._by_id is None:
            self._by_id = {a.id: a for a in self.agents}
        by_id = self._by_id
        return [by_id[i] for i in self.cache.ids(self.takers_mask(kind))]

    def share(self, kind: int, other: int) -> tuple[int, int]:
        """The share of `other`'s calls the agents of `kind` are expected to take, as
        (numerator, denominator), not reduced; (0, 1) for none."""
        mine = self.cache.overlap(kind, self.takers_mask(kind), other, self.agents)
        if not mine:
            return 0, 1
        return mine, self.cache.size(other, self.agents)


def share_row(ours: int, columns: Sequence[tuple[int, int, int]]
              ) -> dict[int, tuple[int, int]]:
    """The share of each column's kind's calls that the working agents `ours`
    (a bit mask: Shares.takers_mask of one kind) take, as (numerator, denominator) by column
    index, for the columns it is not (0, 1) for: counted from the masks and not kept. The tick
    of a big centre asks for 150,000 pairs at once, more than are worth keeping, and each
    through Shares.share cost ~5 us."""
    out: dict[int, tuple[int, int]] = {}
    for j, (_other, theirs, size) in enumerate(columns):
        mine = (ours & theirs).bit_count()
        if mine:
            out[j] = (mine, size)
    return out


def share_weights(ours: int, columns: Sequence[tuple[int, int, int]]) -> list[float]:
    """share_row as a float for every column (0.0 for none), to be multiplied by counts."""
    return [(ours & theirs).bit_count() / size if size else 0.0
            for _other, theirs, size in columns]
