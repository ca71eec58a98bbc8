"""Two service instances on the same PBX and the same Redis: each call is driven by exactly one
instance, no agent ever gets two calls, no call rings two agents; when an instance dies, the
other takes its calls over within a few seconds."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from acd.core.model import AgentState, CallState
from acd.pbxsim import AgentPhone, CallerSpec
from acd.service import leases
from acd.service.app import Service
from acd.service.engine import Engine
from acd.service.leases import keep_leases
from acd.testing.harness import Harness, wait_for

from .conftest import RECOVERY

AGENTS = 8


def centre(login: bool) -> dict[str, Any]:
    return {
        "pbx": {"name": "duo"},
        "queues": {"support": {"skills": {"support": 1}, "wrapup_s": 0, "ring_timeout_s": 5}},
        "agents": {f"a{i}": {"interface": f"PJSIP/20{i:02d}", "extension": f"20{i:02d}",
                             "skills": {"support": 1 + i % 5}, "login_at_start": login}
                   for i in range(AGENTS)},
        "flows": {"direct": {"dnis": ["100"], "start": "q",
                             "nodes": {"q": {"type": "queue", "queue": "support"}}}},
    }


async def two(redis_url: str, login: bool, phone: Any) -> tuple[Harness, Service]:
    h = await Harness.start(centre(login), redis_url, phone=phone, prompt_s=0.01)
    second = Service(h.cfg, redis_url=redis_url)
    await second.start()
    assert second.engine is not None
    engine = second.engine
    await wait_for(lambda: engine.routing_enabled, 15, "the second instance to attach")
    return h, second


async def test_many_calls_each_driven_once_no_agent_twice(redis_url: str) -> None:
    calls = 1000
    h, second = await two(redis_url, True, lambda i, e: AgentPhone(
        interface=i, extension=e, answer_after_s=0.02, talk_s=0.1))
    try:
        h.sim.record_events = True
        for n in range(calls):
            h.sim.place_call(CallerSpec(number=f"9{n:05d}", dnis="100"))
            if n % 20 == 19:  # arrivals in bursts, while earlier calls are being answered
                await wait_for(lambda n=n: sum(t["outcome"] == "answered"  # type: ignore[misc]
                                               for t in h.sim.truth()) >= n - 40, 60, "progress")
        await wait_for(lambda: sum(t["outcome"] == "answered" for t in h.sim.truth()) == calls,
                       120, "every call answered")
        assert second.engine is not None
        driven = (h.engine.driven, second.engine.driven)
        assert sum(driven) == calls and min(driven) > 0, driven  # both drove, none twice
        events = [e for _, e in await h.engine.store.read_events("0", 100_000)]
        per_call = Counter(e["call"] for e in events if e["type"] == "call_answered")
        assert len(per_call) == calls and set(per_call.values()) == {1}
        assert not [e for e in events if e["type"] == "call_requeued"]  # no busy, no RONA
        # On the PBX: an agent's phone never carried two legs at once, and no caller ever had
        # two agent legs ringing (each leg's Newchannel .. Hangup for its interface).
        live: dict[str, int] = Counter()
        legs_per_caller: Counter[str] = Counter()
        for name, headers in h.sim.events:
            hd = dict(headers)
            channel = hd.get("Channel", "")
            if not channel.startswith("PJSIP/20"):
                continue
            iface = channel.rsplit("-", 1)[0]
            if name == "Newchannel":
                live[iface] += 1
                assert live[iface] == 1, f"{iface} rang twice at once"
            elif name == "Hangup":
                live[iface] -= 1
            elif name == "VarSet" and hd.get("Variable") == "ACD_CALLER":
                legs_per_caller[hd.get("Value", "")] += 1
        assert set(legs_per_caller.values()) == {1}  # each caller: exactly one agent leg
    finally:
        await second.stop()
        await h.stop()


async def test_a_dead_instance_s_calls_are_taken_over(redis_url: str) -> None:
    h, second = await two(redis_url, False, lambda i, e: AgentPhone(
        interface=i, extension=e, answer_after_s=0.02, talk_s=None))
    try:
        for n in range(10):
            h.sim.place_call(CallerSpec(number=f"8{n:03d}", dnis="100"))
        assert second.engine is not None
        first_engine, second_engine = h.engine, second.engine
        await wait_for(lambda: len(first_engine.calls) + len(second_engine.calls) == 10
                       and all(c.state is CallState.WAITING for c in
                               [*first_engine.calls.values(), *second_engine.calls.values()]),
                       20, "ten waiting calls")
        # The instance that drives more of them dies (which one wins a lease is a race).
        if len(first_engine.calls) >= len(second_engine.calls):
            victim, survivor = h.service, second_engine
        else:
            victim, survivor = second, first_engine
        assert len(survivor.calls) < 10
        died = time.monotonic()
        await victim.stop(graceful=False)  # like a crash: its leases are left to lapse
        await wait_for(lambda: len(survivor.calls) == 10, 20, "the takeover")
        RECOVERY.append(("instance died -> its calls taken over", time.monotonic() - died))
        for i in range(AGENTS):
            h.sim.dial_feature(f"20{i:02d}", "*51")
        await wait_for(lambda: sum(a.state is AgentState.ON_CALL
                                   for a in survivor.agents.values()) == AGENTS, 20,
                       "every agent on a call")
        answered = sum(t["answered_at"] is not None for t in h.sim.truth())
        assert answered == AGENTS
    finally:
        for service in (second, h.service):
            await service.stop()
        await h.sim.stop()


async def ten_waiting(h: Harness, second: Service) -> tuple[Engine, Engine]:
    for n in range(10):
        h.sim.place_call(CallerSpec(number=f"7{n:03d}", dnis="100"))
    assert second.engine is not None
    engines = (h.engine, second.engine)
    await wait_for(lambda: sum(len(e.calls) for e in engines) == 10
                   and all(c.state is CallState.WAITING for e in engines
                           for c in e.calls.values()), 20, "ten waiting calls")
    return engines


async def test_a_paused_instance_finds_its_calls_taken_and_lets_them_go(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An instance whose key lapsed (a long pause, Redis out of reach) has lost its calls to
    the other; when it is next marked alive it learns it had lapsed, checks every lease it
    holds (not the slice a round it stamps again otherwise) and stops driving the calls
    taken: never two instances driving one call for long."""
    monkeypatch.setattr(leases, "RENEW_BATCH", 1)  # a slice: one lease a round
    h, second = await two(redis_url, False, lambda i, e: AgentPhone(
        interface=i, extension=e, answer_after_s=0.02, talk_s=None))
    try:
        first, other = await ten_waiting(h, second)
        paused, survivor = (first, other) if len(first.calls) >= len(other.calls) else (
            other, first)
        held = set(paused.calls)
        assert held and len(survivor.calls) < 10
        paused._background[0].cancel()  # (reaching in: its lease rounds stop, as in a pause)
        await asyncio.gather(paused._background[0], return_exceptions=True)
        await paused.store.retire(paused.instance_id)  # its key lapses
        await wait_for(lambda: len(survivor.calls) == 10, 20, "the takeover")
        assert set(paused.calls) == held  # it has not noticed yet
        paused._background[0] = asyncio.create_task(keep_leases(paused))  # the pause ends
        await wait_for(lambda: len(paused.calls) < len(held), 20, "the paused one to let go")
        assert not paused.calls  # every one at once
        assert len(survivor.calls) == 10
        for i in range(AGENTS):
            h.sim.dial_feature(f"20{i:02d}", "*51")
        await wait_for(lambda: sum(a.state is AgentState.ON_CALL
                                   for a in survivor.agents.values()) == AGENTS, 20,
                       "every agent on a call")
    finally:
        for service in (second, h.service):
            await service.stop()
        await h.sim.stop()


async def test_a_stopping_instance_hands_its_calls_over(redis_url: str) -> None:
    """A graceful stop releases its leases and retires its key: the other instance looks
    for its calls at its next round, not after the key's TTL."""
    h, second = await two(redis_url, False, lambda i, e: AgentPhone(
        interface=i, extension=e, answer_after_s=0.02, talk_s=None))
    try:
        first, other = await ten_waiting(h, second)
        leaving, staying = (h.service, other) if first.calls else (second, first)
        gone = leaving.engine
        assert gone is not None
        await leaving.stop()
        assert gone.instance_id in await staying.store.lapsed_instances(staying.instance_id)
        await wait_for(lambda: len(staying.calls) == 10, 20, "the hand-over")
        # Nothing left to look for: the retired instance is forgotten.
        deadline = time.monotonic() + 10
        while await staying.store.lapsed_instances(staying.instance_id):
            assert time.monotonic() < deadline, "the retired instance never forgotten"
            await asyncio.sleep(0.05)
    finally:
        for service in (second, h.service):
            await service.stop()
        await h.sim.stop()


async def test_an_ended_call_s_lease_goes_with_it(redis_url: str) -> None:
    """Leases are not renewed one by one any more, so they do not lapse by themselves soon:
    the script that ends the call deletes its lease, in the same step (no lease round, no
    Redis round trip of its own that could fail on its own)."""
    h = await Harness.start(centre(False), redis_url, phone=lambda i, e: AgentPhone(
        interface=i, extension=e, answer_after_s=0.02, talk_s=None), prompt_s=0.01)
    try:
        released: list[list[str]] = []

        async def no_release(call_ids: list[str], owner: str) -> None:
            released.append(call_ids)  # (the service must not need it)

        h.engine.store.release_leases = no_release  # type: ignore[method-assign]
        caller = h.sim.place_call(CallerSpec(number="6000", dnis="100"))
        await wait_for(lambda: any(c.state is CallState.WAITING
                                   for c in h.engine.calls.values()), 20, "a waiting call")
        call_id = next(iter(h.engine.calls))
        store = h.engine.store
        assert not await store.acquire_lease(call_id, "probe", 60_000)  # the instance's
        h.sim.hangup_caller(caller)
        await wait_for(lambda: not h.engine.calls, 20, "the call to end")
        assert await store.acquire_lease(call_id, "probe", 60_000)  # released, at once
        assert released == []
    finally:
        await h.stop()
