"""Statistics counted by the store's scripts, read back by acd/store/stats.py (real Redis)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import math
from collections.abc import AsyncIterator, Callable, Iterator
from importlib import resources

import pytest
import redis
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.core.model import Agent, AgentState, Call, CallOutcome, CallState
from acd.stats.raw import (
    WAIT_CAP_S,
    AgentCounts,
    FunnelCounts,
    QueueCounts,
    summed,
    wait_bucket,
)
from acd.store import Store, interval_start, stats_ttl
from acd.store.base import READ_BATCH
from acd.store.stats import WINDOW_BATCH, interval_starts
from acd.testing.redis_server import RedisServer

B = 1_699_999_200.0  # an interval start (a multiple of 900)
I0, I1, I2 = int(B), int(B) + 900, int(B) + 1800
N = B + 2000  # "now" of the reads: in I2
_pbx_numbers = itertools.count()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    s = await Store.open(redis_url, pbx="pbx1", stats_ttl_s=stats_ttl(35))
    yield s
    await s.close()


def agent(agent_id: str, state: AgentState = AgentState.READY, since: float = B) -> Agent:
    return Agent(id=agent_id, interface=f"PJSIP/{agent_id}", skills={"sales": 1},
                 state=state, state_since=since, ready_since=since)


async def ivr_call(s: Store, call_id: str, at: float, flow: str = "",
                   path: list[str] | None = None) -> None:
    assert await s.create_call(Call(call_id, f"PJSIP/t-{call_id}", call_id, "555", "800",
                                    arrived_at=at))
    if flow or path:
        # As the engine does: the flow once chosen, the path when the IVR is left.
        assert await s.update_call(call_id, flow=flow)
        assert await s.update_call(call_id, ivr_path=path or [])


async def queued(s: Store, call_id: str, queue: str, at: float, flow: str = "",
                 path: list[str] | None = None) -> None:
    await ivr_call(s, call_id, at, flow, path)
    assert await s.enqueue(call_id, queue, 0, {}, at, at) is not None


async def claim(s: Store, call_id: str, agent_id: str, at: float) -> str:
    leg = f"leg-{call_id}-{agent_id}-{at}"
    result = await s.claim(call_id, agent_id, leg, at)
    assert result.ok, result
    return leg


# --- the scenario -------------------------------------------------------------------------


async def scenario(s: Store, s2: Store) -> None:
    """Explicit times; the comments give what each step counts (B = start of interval I0)."""
    for a in ("a1", "a2"):
        await s.sync_agent(agent(a))
    await s.sync_agent(agent("a3", AgentState.NOT_READY))

    # c1, sales: wait 30.5 (bucket 31), talk 60, wrap-up 10, all in I0.
    await queued(s, "c1", "sales", B + 10, "main", ["welcome", "menu"])
    leg = await claim(s, "c1", "a1", B + 30)  # a1 ready 30
    assert await s.answer("c1", leg, B + 40.5) is not None  # a1 ringing 10.5
    assert await s.end_call("c1", CallOutcome.ANSWERED, B + 100.5, 5) is not None  # talk 60
    assert await s.set_agent_state("a1", AgentState.READY, B + 110.5,
                                   expect=frozenset({AgentState.WRAP_UP})) is not None
    # Replays and refusals count nothing.
    assert await s.end_call("c1", CallOutcome.ANSWERED, B + 101, 5) is None
    assert await s2.end_call("c1", CallOutcome.ABANDONED, B + 101, 5) is None
    assert await s.answer("c1", leg, B + 41) is None
    assert await s.enqueue("c1", "sales", 0, {}, B + 10, B + 111) is None
    assert not (await s.claim("c1", "a2", "x", B + 111)).ok
    again = await s.set_agent_state("a1", AgentState.READY, B + 112)  # same state: no change
    assert again is not None and again.state_since == B + 110.5

    # c2, sales: RONA on a2, answered by a1 (wait 40.0, bucket 40), ends in I1 (talk 710).
    await queued(s, "c2", "sales", B + 200, "main", ["welcome", "menu", "sales"])
    leg2 = await claim(s, "c2", "a2", B + 210)  # a2 ready 210
    assert await s.requeue("c2", leg2, B + 225) is not None  # a2 ringing 15, then not_ready
    assert await s.requeue("c2", leg2, B + 226) is None  # replay
    leg = await claim(s, "c2", "a1", B + 230)  # a1 ready 119.5
    assert await s2.answer("c2", leg, B + 240) is not None  # another instance; a1 ringing 10

    # c3, sales: abandoned while waiting after 20.25 s (bucket 21).
    await queued(s, "c3", "sales", B + 300, "main", ["welcome", "menu", "sales"])
    assert await s.end_call("c3", CallOutcome.ABANDONED, B + 320.25, 0) is not None

    # c4, support: offered in I0, timed out in I1.
    await queued(s, "c4", "support", B + 400)
    # c5: hangs up in the IVR; c9: closed; c10: a loop in the IVR, hangs up in I1.
    await ivr_call(s, "c5", B + 500, "main", ["welcome"])
    assert await s.end_call("c5", CallOutcome.IVR_HANGUP, B + 510, 0) is not None
    await ivr_call(s, "c9", B + 600, "main", ["welcome", "closed_msg"])
    assert await s.end_call("c9", CallOutcome.CLOSED, B + 610, 0) is not None
    assert await s.end_call("c9", CallOutcome.CLOSED, B + 611, 0) is None  # replay

    # --- I1
    assert await s.end_call("c2", CallOutcome.ANSWERED, B + 950, 30) is not None  # a1 talk 710
    assert await s.end_call("c4", CallOutcome.TIMEOUT, B + 1000, 0) is not None
    await queued(s, "c6", "support", B + 1050)
    assert await s.set_agent_state("a2", AgentState.READY, B + 1100) is not None  # nr 875
    await queued(s, "c7", "support", B + 1100)  # exactly on the 15-minute window's edge
    # a1 wraps up 170.5 s for sales; s2 never saw a1's call: its hint is read, then retried.
    assert await s2.set_agent_state("a1", AgentState.READY, B + 1120.5,
                                    expect=frozenset({AgentState.WRAP_UP})) is not None
    await claim(s, "c6", "a2", B + 1150)  # a2 ready 50
    # The caller hangs up while a2's phone rings: abandoned after 110 s; a2 ringing 10.
    assert await s.end_call("c6", CallOutcome.ABANDONED, B + 1160, 0) is not None
    assert await s.set_agent_state("a3", AgentState.READY, B + 1200) is not None  # nr 1200
    leg = await claim(s, "c7", "a3", B + 1210)  # a3 ready 10
    assert await s.answer("c7", leg, B + 1215) is not None  # wait 115, a3 ringing 5
    await ivr_call(s, "c10", B + 1300, "main", ["welcome", "menu", "welcome", "menu"])
    assert await s.end_call("c10", CallOutcome.IVR_HANGUP, B + 1310, 0) is not None

    # --- I2
    await queued(s, "c8", "sales", B + 1850, "other", ["start"])
    assert await s.set_agent_state("a1", AgentState.NOT_READY, B + 1900,
                                   "lunch") is not None  # a1 ready 779.5


def qc(**kw: object) -> QueueCounts:
    return QueueCounts(**kw)  # type: ignore[arg-type]


SALES = {
    I0: qc(offered=3, answered=2, answered_waits={31: 1, 40: 1}, wait_sum_s=70.5, abandoned=1,
           abandoned_waits={21: 1}, handled=1, talk_sum_s=60.0, wrapup_sum_s=10.0),
    I1: qc(handled=1, talk_sum_s=710.0, wrapup_sum_s=170.5),
    I2: qc(offered=1),
}
SUPPORT = {
    I0: qc(offered=1),
    I1: qc(offered=2, timed_out=1, abandoned=1, abandoned_waits={110: 1}, answered=1,
           answered_waits={115: 1}, wait_sum_s=115.0),
    I2: qc(),
}


def hashed(c: QueueCounts, wrapups: int = 0) -> QueueCounts:
    """What an interval hash holds besides (issue 9): the wrap-up codes of the wrap-ups that
    ended ('none': no code given), and every count again under the calls' reason ('(none)'
    for these calls without one)."""
    out = dataclasses.replace(c, codes={"none": wrapups} if wrapups else {})
    if out != QueueCounts():
        out.by_reason = {"(none)": dataclasses.replace(out)}
    return out


SALES_WRAPUPS = {I0: 1, I1: 1, I2: 0}  # a1's wrap-ups of c1 and c2 ended


def total(by_interval: dict[int, QueueCounts]) -> QueueCounts:
    out = QueueCounts()
    for c in by_interval.values():
        out.add(c)
    return out


async def test_scenario_counts(store: Store, redis_url: str) -> None:
    s2 = await Store.open(redis_url, pbx="pbx1")
    try:
        await scenario(store, s2)
    finally:
        await s2.close()

    assert await store.queue_intervals(["sales", "support", "none"], B, N) == {
        "sales": {i: hashed(c, SALES_WRAPUPS[i]) for i, c in SALES.items()},
        "support": {i: hashed(c) for i, c in SUPPORT.items()},
        "none": {I0: qc(), I1: qc(), I2: qc()}}
    assert await store.queue_intervals(["sales"], B + 900, B + 1800) == {
        "sales": {I1: hashed(SALES[I1], 1)}}

    windows = await store.queue_windows(["sales", "support"], N)
    assert windows[3600] == {"sales": total(SALES), "support": total(SUPPORT)}
    # (N - 900, N]: c7's offer at exactly N - 900 is out, c6's abandon and c7's answer are in.
    assert windows[900] == {
        "sales": qc(offered=1, wrapup_sum_s=170.5),
        "support": qc(abandoned=1, abandoned_waits={110: 1}, answered=1,
                      answered_waits={115: 1}, wait_sum_s=115.0),
    }
    edge = await store.queue_windows(["support"], B + 1100, (1, 60))
    assert edge[1]["support"] == qc(offered=1)  # the upper bound is included
    assert edge[60]["support"] == qc(offered=2)  # c4 timed out at B + 1000: out
    with pytest.raises(ValueError):
        await store.queue_windows(["sales"], N, (86_400,))

    assert await store.agent_intervals(["a1", "a2", "a3", "nobody"], B, N) == {
        "a1": AgentCounts(handled=2, talk_s=770.0, wrapup_s=180.5, ready_s=929.0,
                          ringing_s=20.5),
        "a2": AgentCounts(ready_s=260.0, ringing_s=25.0, not_ready_s=875.0),
        "a3": AgentCounts(not_ready_s=1200.0, ready_s=10.0, ringing_s=5.0),
        "nobody": AgentCounts(),
    }
    by_interval = {start: await store.agent_intervals(["a1"], start, start + 900)
                   for start in (I0, I1, I2)}
    assert by_interval == {
        I0: {"a1": AgentCounts(handled=1, talk_s=60.0, wrapup_s=10.0, ready_s=149.5,
                               ringing_s=20.5)},
        I1: {"a1": AgentCounts(handled=1, talk_s=710.0, wrapup_s=170.5)},
        I2: {"a1": AgentCounts(ready_s=779.5)},
    }

    main_all = FunnelCounts(
        reached={"welcome": 6, "menu": 4, "sales": 2, "closed_msg": 1},
        left={"menu": {"queue": 1, "hangup": 1}, "sales": {"queue": 2},
              "welcome": {"hangup": 1}, "closed_msg": {"closed": 1}})
    assert await store.funnel(["main", "other", "none"], B, N) == {
        "main": main_all,
        "other": FunnelCounts(reached={"start": 1}, left={"start": {"queue": 1}}),
        "none": FunnelCounts(),
    }
    main_i0 = FunnelCounts(
        reached={"welcome": 5, "menu": 3, "sales": 2, "closed_msg": 1},
        left={"menu": {"queue": 1}, "sales": {"queue": 2}, "welcome": {"hangup": 1},
              "closed_msg": {"closed": 1}})
    assert await store.funnel(["main"], B, B + 900) == {"main": main_i0}


async def test_reads_are_one_round_trip_per_batch(store: Store,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A read of many keys is one round trip (a pipeline, or one write of HGETALLs on the
    store's lane) per READ_BATCH keys, not one per key: and each batch is short, so a big
    read never holds the event loop (or Redis) for long."""
    await queued(store, "c1", "q0", B)
    calls = 0
    real_pipeline = store._r.pipeline  # reaching in: count the round trips
    assert store._lane is not None
    real_many = store._lane.call_many

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return real_pipeline(*args, **kwargs)  # type: ignore[arg-type]

    async def counting_many(commands: list[tuple[str, ...]]) -> list[object]:
        nonlocal calls
        calls += 1
        assert len(commands) <= READ_BATCH and {c[0] for c in commands} == {"HGETALL"}
        return await real_many(commands)

    monkeypatch.setattr(store._r, "pipeline", counting)
    monkeypatch.setattr(store._lane, "call_many", counting_many)
    queues = [f"q{i}" for i in range(50)]
    assert (await store.queue_windows(queues, B + 1))[900]["q0"].offered == 1
    assert (await store.queue_intervals(queues, B - 86_400, B + 1))["q0"][I0].offered == 1
    await store.agent_intervals(["a1", "a2"], B - 86_400, B + 1)
    await store.funnel(["main"], B - 86_400, B + 1)
    intervals = len(interval_starts(B - 86_400, B + 1))
    # the recent facts: WINDOW_BATCH queues per round trip (their replies are parsed in one go)
    # and READ_BATCH interval hashes per round trip: 50 queues, 2 agents, 1 flow
    assert calls == (math.ceil(50 / WINDOW_BATCH) + math.ceil(50 * intervals / READ_BATCH)
                     + math.ceil(2 * intervals / READ_BATCH) + math.ceil(intervals / READ_BATCH))


async def test_bulk_reads_are_the_same_with_or_without_the_lane(
        store: Store, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hashes read in bulk come out the same as plain HGETALLs on the lane and through the
    read_hashes script (a TLS store has no lane): in order, a missing key as {}, across the
    batches; a key of another type is an error either way, not a hash."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    keys = [f"bulk:{i}" for i in range(READ_BATCH + 5)]
    try:
        for i, key in enumerate(keys):
            if i % 7:  # (every seventh missing)
                await client.hset(key, mapping={"n": str(i), "name": f"caller é {i}"})
        await client.set("bulk:string", "not a hash")
    finally:
        await client.aclose()
    expected = [{"n": str(i), "name": f"caller é {i}"} if i % 7 else {}
                for i in range(len(keys))]

    async def read(keys: list[str]) -> list[dict[str, str]]:
        return [h async for batch in store._hgetall_chunks(keys) for h in batch]

    on_lane = await read(keys)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        await read(["bulk:1", "bulk:string"])
    monkeypatch.setattr(store, "_lane", None)
    assert await read(keys) == on_lane == expected
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        await read(["bulk:1", "bulk:string"])


async def test_keys_carry_the_tag_and_intervals_expire(store: Store, redis_url: str) -> None:
    await store.sync_agent(agent("a1"))
    await queued(store, "c1", "sales", B + 10, "main", ["welcome"])
    leg = await claim(store, "c1", "a1", B + 20)
    await store.answer("c1", leg, B + 30)
    await store.end_call("c1", CallOutcome.ANSWERED, B + 40, 5)
    await store.set_agent_state("a1", AgentState.READY, B + 50)
    k = store.keys
    stats_keys = [k.queue_interval("sales", I0), k.agent_interval("a1", I0),
                  k.funnel_interval("main", I0), k.queue_recent("sales")]
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        every = [key async for key in client.scan_iter("*")]
        assert set(stats_keys) <= set(every)
        assert all("{pbx1}" in key for key in every)
        for key in stats_keys[:3]:
            ttl = await client.ttl(key)
            assert 35 * 86_400 < ttl <= 36 * 86_400, key
        assert 3600 < await client.ttl(k.queue_recent("sales")) <= 3600 + 300
    finally:
        await client.aclose()


async def test_recent_facts_are_trimmed(store: Store, redis_url: str) -> None:
    await queued(store, "c1", "sales", B)
    await queued(store, "c2", "sales", B + 3000)
    await queued(store, "c3", "sales", B + 5000)  # c1 is older than an hour + margin: gone
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        assert await client.zrange(store.keys.queue_recent("sales"), 0, -1) == ["o|c2", "o|c3"]
    finally:
        await client.aclose()
    windows = await store.queue_windows(["sales"], B + 5000)
    assert windows[3600]["sales"].offered == 2 and windows[900]["sales"].offered == 1


# --- races between two instances ------------------------------------------------------------


async def test_two_instances_count_each_fact_once(redis_url: str) -> None:
    pbx = f"statrace{next(_pbx_numbers)}"
    s1, s2 = await Store.open(redis_url, pbx=pbx), await Store.open(redis_url, pbx=pbx)
    try:
        pair = (s1, s2)
        n = 12
        calls = [f"c{i}" for i in range(n)]
        agents = [f"a{i}" for i in range(n)]
        for a in agents:
            await s1.sync_agent(agent(a))
        for i, c in enumerate(calls):
            await queued(s1, c, "q", B + i, "f", ["start", "menu"])
        # Every agent tries every call; each call is claimed once.
        results = await asyncio.gather(*(
            pair[(i + j) % 2].claim(c, a, f"leg-{c}-{a}", B + 100)
            for i, c in enumerate(calls) for j, a in enumerate(agents)))
        legs = {r.call.id: r.call.leg_id for r in results if r.ok and r.call is not None}
        assert len(legs) == n
        answers = await asyncio.gather(*(
            pair[i % 2].answer(c, legs[c], B + 110) for c in calls for i in range(2)))
        assert sum(a is not None for a in answers) == n
        ends = await asyncio.gather(*(
            pair[i % 2].end_call(c, CallOutcome.ANSWERED, B + 170, 5)
            for c in calls for i in range(2)))
        assert sum(e is not None for e in ends) == n
        wraps = await asyncio.gather(*(
            pair[i % 2].set_agent_state(a, AgentState.READY, B + 180,
                                        expect=frozenset({AgentState.WRAP_UP}))
            for a in agents for i in range(2)))
        assert sum(w is not None for w in wraps) == n
        # IVR leavers racing too: one funnel exit each.
        for c in ("x1", "x2"):
            await ivr_call(s1, c, B + 190, "f", ["start"])
        await asyncio.gather(*(pair[i % 2].end_call(c, CallOutcome.IVR_HANGUP, B + 195, 0)
                               for c in ("x1", "x2") for i in range(3)))

        waits = {100 - i + 10 for i in range(n)}  # answered at B+110, entered at B+i
        expected = QueueCounts(offered=n, answered=n, answered_waits={w: 1 for w in waits},
                               wait_sum_s=float(sum(waits)), handled=n,
                               talk_sum_s=60.0 * n, wrapup_sum_s=10.0 * n)
        assert (await s2.queue_intervals(["q"], B, B + 900))["q"][I0] == hashed(expected, n)
        assert (await s1.queue_windows(["q"], B + 200))[900]["q"] == expected
        got = await s1.agent_intervals(agents, B, B + 900)
        assert sum(c.handled for c in got.values()) == n
        assert {c.talk_s for c in got.values()} == {60.0}
        assert {c.ringing_s for c in got.values()} == {10.0}
        assert {c.wrapup_s for c in got.values()} == {10.0}
        assert {c.ready_s for c in got.values()} == {100.0}
        assert await s1.funnel(["f"], B, B + 900) == {"f": FunnelCounts(
            reached={"start": n + 2, "menu": n},
            left={"menu": {"queue": n}, "start": {"hangup": 2}})}
    finally:
        await asyncio.gather(s1.close(), s2.close())


# --- pieces ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.one_of(
    st.floats(min_value=-5, max_value=WAIT_CAP_S + 5, allow_nan=False),
    st.integers(min_value=-2, max_value=WAIT_CAP_S + 2).map(float),
    st.sampled_from([0.0, 1e-9, 0.999999999, 1.0, 1.0000000001, 3599.5, 3600.0, 3600.25, 1e9]),
))
def test_lua_wait_bucket_is_raw_wait_bucket(lua_bucket: Callable[[float], int],
                                            wait: float) -> None:
    assert lua_bucket(wait) == wait_bucket(wait)


@pytest.fixture(scope="module")
def lua_bucket(redis_server: RedisServer) -> Iterator[Callable[[float], int]]:
    """The Lua wait_bucket of lua/_lib.lua, run by the real server."""
    lib = (resources.files("acd.store") / "lua" / "_lib.lua").read_text()
    client = redis.Redis.from_url(redis_server.url)
    script = client.register_script(lib + "\nreturn wait_bucket(tonumber(ARGV[1]))")

    def bucket(wait: float) -> int:
        return int(script(args=[repr(wait)]))

    yield bucket
    client.close()


def test_interval_starts() -> None:
    assert interval_start(B + 899.999) == I0 and interval_start(B + 900) == I1
    assert interval_starts(B, B + 900) == [I0]
    assert interval_starts(B, B + 900.5) == [I0, I1]
    assert interval_starts(B + 10, B + 20) == [I0]
    assert interval_starts(B + 10, B + 10) == []
    assert len(interval_starts(B, B + 86_400)) == 96


async def test_time_in_a_state_is_charged_where_it_ends(store: Store) -> None:
    await store.sync_agent(agent("a1", AgentState.NOT_READY, since=B + 800))
    await store.set_agent_state("a1", AgentState.READY, B + 1000)  # 200 s, all in I1
    await store.set_agent_state("a1", AgentState.NOT_READY, B + 1100, "break")
    await store.set_agent_state("a1", AgentState.NOT_READY, B + 1150, "lunch")  # reason change
    await store.set_agent_state("a1", AgentState.LOGGED_OUT, B + 1200)
    await store.set_agent_state("a1", AgentState.READY, B + 5000)  # logged out: not counted
    assert await store.remove_agent("a1", B + 5010)  # ready 10 more, in its own interval
    got = await store.agent_intervals(["a1"], B, B + 1800)
    assert got["a1"] == AgentCounts(not_ready_s=300.0, ready_s=100.0)
    later = await store.agent_intervals(["a1"], B + 4500, B + 5400)
    assert later["a1"] == AgentCounts(ready_s=10.0)


async def test_calls_without_a_flow_or_path_count_no_funnel(store: Store) -> None:
    await ivr_call(store, "c1", B)  # no flow
    await store.end_call("c1", CallOutcome.FALLBACK, B + 1, 0)
    await ivr_call(store, "c2", B, "main", [])  # a flow but no node reached
    await store.end_call("c2", CallOutcome.IVR_HANGUP, B + 1, 0)
    await ivr_call(store, "c3", B, "main", ["welcome"])
    await store.end_call("c3", CallOutcome.FALLBACK, B + 2, 0)
    await ivr_call(store, "c4", B, "main", ["welcome"])
    await store.end_call("c4", CallOutcome.LOST, B + 3, 0)  # any other outcome: a hang-up
    assert await store.funnel(["main", ""], B, B + 900) == {
        "main": FunnelCounts(reached={"welcome": 2},
                             left={"welcome": {"fallback": 1, "hangup": 1}}),
        "": FunnelCounts()}


async def test_lost_waiting_call_counts_only_the_offer(store: Store) -> None:
    await queued(store, "c1", "q", B)
    await store.end_call("c1", CallOutcome.LOST, B + 5, 0)
    assert (await store.queue_windows(["q"], B + 10))[900]["q"] == qc(offered=1)


async def test_flow_round_trips_and_is_hinted(store: Store, redis_url: str) -> None:
    call = Call("c1", "PJSIP/t", "c1", "555", "800", arrived_at=B, flow="main",
                ivr_path=["welcome"])
    assert await store.create_call(call)
    assert await store.get_call("c1") == call
    # Another instance, with no hint, enqueues: it reads the flow, then counts the funnel.
    other = await Store.open(redis_url, pbx="pbx1")
    try:
        assert await other.enqueue("c1", "q", 0, {}, B + 1, B + 1) is not None
    finally:
        await other.close()
    assert (await store.funnel(["main"], B, B + 1))["main"].left == {"welcome": {"queue": 1}}


async def test_set_priority(store: Store) -> None:
    for i, c in enumerate(("c1", "c2", "c3")):
        await queued(store, c, "q", B + i)
    moved = await store.set_priority("c3", 10, B + 5)
    assert moved is not None and moved.priority == 10 and moved.entered_at == B + 2
    assert await store.waiting_ids("q") == ["c3", "c1", "c2"]
    back = await store.set_priority("c3", 0, B + 6)
    assert back is not None and await store.waiting_ids("q") == ["c1", "c2", "c3"]
    with pytest.raises(ValueError):
        await store.set_priority("c1", 10_000, B + 7)
    await store.end_call("c2", CallOutcome.ABANDONED, B + 8, 0)
    assert await store.set_priority("c2", 10, B + 9) is None
    assert await store.set_priority("nope", 10, B + 9) is None
    events = [f for _, f in await store.read_events() if f["type"] == "call_priority_changed"]
    assert [(e["call"], e["priority"], e["old_priority"]) for e in events] == [
        ("c3", "10", "0"), ("c3", "0", "10")]
    got = await store.get_call("c3")
    assert got is not None and got.state is CallState.WAITING



async def test_queue_totals_are_the_intervals_summed(store: Store) -> None:
    await queued(store, "c1", "q0", B)
    await queued(store, "c2", "q0", B + 900)
    await queued(store, "c3", "q1", B + 1800)
    queues = ["q0", "q1", "q2"]
    by_interval = await store.queue_intervals(queues, B - 3600, B + 2700)
    totals = await store.queue_totals(queues, B - 3600, B + 2700)
    assert totals == {q: summed(by.values()) for q, by in by_interval.items()}
    assert (totals["q0"].offered, totals["q1"].offered, totals["q2"].offered) == (2, 1, 0)
