"""End to end: events that reach the service together are applied together. The simulated PBX
holds its AMI output while a burst happens (AmiServer.hold_output) and then sends it in one
write, so the engine gets many events in one inbox batch: their store steps go to Redis in one
round trip (Store.run_prepared, claim_many). The outcome must be what one-by-one would give:
first come first served, one call per agent, the store and the engine's mirror agreeing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acd.core.model import AgentState, CallState
from acd.pbxsim import CallerSpec
from acd.pbxsim.frames import Headers
from acd.store import StateChange
from acd.testing.harness import Harness, wait_for
from tests.test_e2e_callpath import manual_phone

AGENTS = 12
CALLS = 16


def centre() -> dict[str, Any]:
    return {
        "pbx": {"name": "lab"},
        "queues": {"support": {"skills": {"support": 1}, "wrapup_s": 0.2, "ring_timeout_s": 30,
                               "max_wait_s": 600}},
        "agents": {f"a{n:02d}": {"interface": f"PJSIP/2{n:03d}", "extension": f"2{n:03d}",
                                 "skills": {"support": 1 + n % 3}} for n in range(AGENTS)},
        "flows": {"main": {"dnis": ["100"], "start": "q",
                           "nodes": {"q": {"type": "queue", "queue": "support"}}}},
    }


class Freed:
    """Counts the agents' feature-code events (UserEvent AcdAgent) the sim has emitted."""

    def __init__(self, h: Harness) -> None:
        self.n = 0
        h.sim.pbx.listeners.append(self._event)

    def _event(self, name: str, headers: Headers) -> None:
        if name == "UserEvent" and dict(headers).get("UserEvent") == "AcdAgent":
            self.n += 1


async def held(h: Harness, freed: Freed, expected: int, act: Callable[[], None]) -> None:
    """`act` happens with the PBX's AMI output held; once its events exist, all are sent."""
    h.sim.ami.hold_output(True)
    try:
        act()
        await wait_for(lambda: freed.n >= expected, 10, "the sim to produce the events")
    finally:
        h.sim.ami.hold_output(False)


def counting_round_trips(h: Harness) -> list[int]:
    """The store's batched round trips of the engine, each as its number of script calls."""
    store = h.engine.store
    sizes: list[int] = []
    inner = store._eval_batch

    async def counted(calls: list[Any]) -> list[Any]:
        sizes.append(len(calls))
        return await inner(calls)

    store._eval_batch = counted  # type: ignore[method-assign]
    return sizes


def counting_reads(h: Harness) -> list[str]:
    """The pairs the engine reads again after a lost claim (Handlers._refresh)."""
    reads: list[str] = []
    inner = h.engine.handlers._refresh

    async def counted(call_id: str, agent_id: str) -> None:
        reads.append(f"{call_id}/{agent_id}")
        await inner(call_id, agent_id)

    h.engine.handlers._refresh = counted  # type: ignore[method-assign]
    return reads


async def waiting_calls(h: Harness) -> list[str]:
    numbers = [f"70{n:02d}" for n in range(CALLS)]
    for number in numbers:  # one at a time: their order in the queue is their arrival
        h.sim.place_call(CallerSpec(number=number, dnis="100"))
        await wait_for(lambda n=number: any(c.caller_num == n and c.state is CallState.WAITING
                                            for c in h.engine.calls.values()), 10, f"{number}")
    return numbers


async def consistent(h: Harness) -> None:
    """Every ringing call and its agent point at each other, in the mirror and in Redis; and
    the mirror's calls and agents are the store's, field for field (a won claim's reply is
    lean: the engine applies the claim's change to its own copies)."""
    store = h.engine.store
    for agent_id, mine in h.engine.agents.items():
        assert await store.get_agent(agent_id) == mine, agent_id
    for call in h.engine.calls.values():
        stored = await store.get_call(call.id)
        assert stored == call, call.id
        assert stored is not None and stored.state is call.state, call.id
        assert stored.agent_id == call.agent_id and stored.leg_id == call.leg_id
        if call.state is CallState.RINGING:
            agent = await store.get_agent(call.agent_id)
            assert agent is not None and agent.state is AgentState.RESERVED
            assert agent.call_id == call.id
            assert h.engine.agents[call.agent_id].state is AgentState.RESERVED


async def test_a_login_burst_is_routed_first_come_first_served_in_few_round_trips(
        lab: Callable[..., Any]) -> None:
    h: Harness = await lab(centre(), phone=manual_phone)
    numbers = await waiting_calls(h)
    freed = Freed(h)
    trips = counting_round_trips(h)
    exts = [a.extension for a in h.cfg.agents.values()]
    await held(h, freed, AGENTS, lambda: [h.sim.dial_feature(e, "*51") for e in exts])

    def ringing() -> list[Any]:
        return [c for c in h.engine.calls.values() if c.state is CallState.RINGING]

    await wait_for(lambda: len(ringing()) == AGENTS, 10, "every agent rung")
    rung = ringing()
    assert len({c.agent_id for c in rung}) == AGENTS  # one call per agent
    # first come, first served: the oldest callers ring, the newest still wait
    assert sorted(c.caller_num for c in rung) == numbers[:AGENTS]
    waiting = [c.caller_num for c in h.engine.calls.values() if c.state is CallState.WAITING]
    assert sorted(waiting) == numbers[AGENTS:]
    await wait_for(lambda: all(h.sim.pbx.phones[h.cfg.agents[c.agent_id].interface].channel
                               is not None for c in ringing()), 10, "every phone rings")
    await consistent(h)
    # 12 logins and 12 claims: far fewer round trips than 24 (one per step)
    assert sum(trips) >= 2 * AGENTS
    assert len(trips) <= AGENTS, trips


async def test_an_agent_made_ready_gets_its_call_claimed_in_the_same_round_trip(
        lab: Callable[..., Any]) -> None:
    """The router decides on the mirror while the agent's change is on its way: the change
    and the claim go to Redis together (one round trip per decision, not two)."""
    h: Harness = await lab(centre(), phone=manual_phone)
    numbers = await waiting_calls(h)
    trips = counting_round_trips(h)
    agent = h.cfg.agents["a03"]
    h.sim.dial_feature(agent.extension, "*51")
    await wait_for(lambda: h.sim.pbx.phones[agent.interface].channel is not None, 10,
                   "a03 rung")
    assert trips == [2]  # the login and the claim, in one round trip
    rung = [c for c in h.engine.calls.values() if c.state is CallState.RINGING]
    assert [(c.caller_num, c.agent_id) for c in rung] == [(numbers[0], "a03")]
    assert h.engine.router.decisions == 1
    await consistent(h)


async def test_a_claim_sent_with_a_refused_change_loses_nothing(
        lab: Callable[..., Any]) -> None:
    """The store refuses the agent's change after the router had claimed a call for it in the
    same round trip: the claim changes nothing, the call keeps its place and goes to the next
    agent; nothing is read again or counted as a decision."""
    h: Harness = await lab(centre(), phone=manual_phone)
    numbers = await waiting_calls(h)
    store = h.engine.store
    plain = store.prepare_state

    def refused(change: StateChange, now: float) -> Any:  # expects a state a00 is not in
        if change.agent_id != "a00":
            return plain(change, now)
        return plain(StateChange(change.agent_id, change.state, change.reason,
                                 frozenset({AgentState.WRAP_UP})), now)

    store.prepare_state = refused  # type: ignore[method-assign]
    reads = counting_reads(h)
    trips = counting_round_trips(h)
    first = h.cfg.agents["a00"]
    h.sim.dial_feature(first.extension, "*51")
    # (idle is cleared while the consumer works on an item: set again, it is done with it)
    await wait_for(lambda: trips and h.engine.idle.is_set(), 10, "the login applied")
    assert trips == [2]  # the change and the claim went together
    assert h.engine.agents["a00"].state is AgentState.LOGGED_OUT
    assert all(c.state is CallState.WAITING for c in h.engine.calls.values())
    assert reads == [] and h.engine.router.decisions == 0
    second = h.cfg.agents["a01"]
    h.sim.dial_feature(second.extension, "*51")
    await wait_for(lambda: h.sim.pbx.phones[second.interface].channel is not None, 10,
                   "a01 rung")
    rung = [c for c in h.engine.calls.values() if c.state is CallState.RINGING]
    assert [(c.caller_num, c.agent_id) for c in rung] == [(numbers[0], "a01")]
    await consistent(h)


async def ready_agent(h: Harness, agent_id: str) -> None:
    agent = h.cfg.agents[agent_id]
    h.sim.dial_feature(agent.extension, "*51")
    await wait_for(lambda: h.engine.agents[agent_id].state is AgentState.READY
                   and h.engine.idle.is_set(), 10, f"{agent_id} ready")


async def test_a_call_arriving_to_a_ready_agent_is_queued_and_claimed_in_one_round_trip(
        lab: Callable[..., Any]) -> None:
    """The call-first decision: the router picks the ready agent on the mirror while the
    call's enqueue is on its way, and the enqueue and the claim go to Redis together."""
    h: Harness = await lab(centre(), phone=manual_phone)
    await ready_agent(h, "a03")
    trips = counting_round_trips(h)
    h.sim.place_call(CallerSpec(number="7100", dnis="100"))
    phone = h.cfg.agents["a03"].interface
    await wait_for(lambda: h.sim.pbx.phones[phone].channel is not None, 10, "a03 rung")
    assert trips == [2]  # the enqueue and the claim, in one round trip
    rung = [c for c in h.engine.calls.values() if c.state is CallState.RINGING]
    assert [(c.caller_num, c.agent_id) for c in rung] == [("7100", "a03")]
    assert h.engine.router.decisions == 1
    await consistent(h)
    stored = await h.engine.store.get_call(rung[0].id)
    assert stored is not None and stored.queue == "support" and stored.entered_at is not None


async def test_a_claim_sent_with_a_redone_enqueue_loses_nothing(
        lab: Callable[..., Any]) -> None:
    """The enqueue that went with the claim was redone (its hint was stale): the claim found
    the call not yet waiting and changed nothing; the router's ordinary round then gives the
    call to the agent, and nothing is read again or counted twice."""
    h: Harness = await lab(centre(), phone=manual_phone)
    await ready_agent(h, "a03")
    store = h.engine.store
    plain = store.prepare_enqueue

    def stale(call_id: str, *args: Any) -> Any:  # a flow hint that is not the call's
        queue, agent_id, flow = store._call_hints[call_id]
        store._call_hints[call_id] = (queue, agent_id, f"not-{flow}")
        try:
            return plain(call_id, *args)
        finally:
            store._call_hints[call_id] = (queue, agent_id, flow)

    store.prepare_enqueue = stale  # type: ignore[method-assign]
    reads = counting_reads(h)
    trips = counting_round_trips(h)
    h.sim.place_call(CallerSpec(number="7100", dnis="100"))
    phone = h.cfg.agents["a03"].interface
    await wait_for(lambda: h.sim.pbx.phones[phone].channel is not None, 10, "a03 rung")
    assert trips == [2, 1]  # the enqueue (redone) with its claim, then the round's claim
    assert reads == [] and h.engine.router.decisions == 1
    rung = [c for c in h.engine.calls.values() if c.state is CallState.RINGING]
    assert [(c.caller_num, c.agent_id) for c in rung] == [("7100", "a03")]
    await consistent(h)
    figures = await h.engine.store.queue_windows(["support"], h.engine.now() + 1)
    assert figures[900]["support"].offered == 1  # offered once, though enqueued twice


async def test_ring_no_answer_and_unpause_of_one_agent_arriving_together(
        lab: Callable[..., Any]) -> None:
    """The agent's leg hangs up (a ring-no-answer: the call goes back, the agent pauses) and
    the agent unpauses (*53), in one batch with other agents' logins: applied in that order,
    so the agent ends up rung again (in the other order it would stay paused), and the call,
    back at its place, is the first served."""
    h: Harness = await lab(centre(), phone=manual_phone)
    numbers = await waiting_calls(h)
    first = h.cfg.agents["a00"]
    h.sim.dial_feature(first.extension, "*51")
    await wait_for(lambda: any(c.state is CallState.RINGING for c in h.engine.calls.values()),
                   10, "a00 rung")
    call = next(c for c in h.engine.calls.values() if c.state is CallState.RINGING)
    assert call.caller_num == numbers[0] and call.agent_id == "a00"
    await wait_for(lambda: h.sim.pbx.phones[first.interface].channel is not None, 10, "rings")
    freed = Freed(h)
    others = [a.extension for aid, a in h.cfg.agents.items() if aid in ("a01", "a02", "a03")]

    def act() -> None:
        h.sim.agent_hangup(first.interface)
        h.sim.dial_feature(first.extension, "*53")
        for ext in others:
            h.sim.dial_feature(ext, "*51")

    await held(h, freed, 4, act)

    def settled() -> bool:
        again = h.engine.calls[call.id]
        return (again.state is CallState.RINGING and again.rona_count == 1
                and sum(c.state is CallState.RINGING for c in h.engine.calls.values()) == 4)

    await wait_for(settled, 10, "the call ringing again, four agents rung")
    assert h.engine.agents["a00"].state is AgentState.RESERVED
    assert {c.agent_id for c in h.engine.calls.values() if c.state is CallState.RINGING} == {
        "a00", "a01", "a02", "a03"}
    rung = sorted(c.caller_num for c in h.engine.calls.values()
                  if c.state is CallState.RINGING)
    assert rung == numbers[:4]
    await consistent(h)


async def test_a_stale_hint_in_a_batch_is_done_again_the_ordinary_way(
        lab: Callable[..., Any]) -> None:
    h: Harness = await lab(centre(), phone=manual_phone)
    await waiting_calls(h)
    # A wrong guess of the call a05 wraps up: its state step answers "stale" in the batch.
    h.engine.store._wrap_hints["a05"] = "no-such-call"
    freed = Freed(h)
    exts = [a.extension for a in h.cfg.agents.values()]
    await held(h, freed, AGENTS, lambda: [h.sim.dial_feature(e, "*51") for e in exts])
    await wait_for(lambda: sum(c.state is CallState.RINGING
                               for c in h.engine.calls.values()) == AGENTS, 10, "all rung")
    assert any(c.agent_id == "a05" for c in h.engine.calls.values())
    await consistent(h)


async def test_one_failing_step_does_not_hide_the_others(redis_url: str) -> None:
    from acd.core.model import Agent
    from acd.store import Prepared, StateChange, Store

    store = await Store.open(redis_url)
    try:
        now = 1000.0
        await store.sync_agent(Agent(id="x", interface="PJSIP/x", skills={"s": 1},
                                     state=AgentState.LOGGED_OUT, state_since=now))
        good = store.prepare_state(StateChange("x", AgentState.READY), now)
        bad: Prepared[Any] = Prepared((store._lua.claim, [], []), lambda r: r, good.again)
        results = await store.run_prepared([bad, good])
        assert isinstance(results[0], Exception)
        assert isinstance(results[1], Agent) and results[1].state is AgentState.READY
        stored = await store.get_agent("x")
        assert stored is not None and stored.state is AgentState.READY
    finally:
        await store.close()


async def test_steps_go_to_redis_as_one_script_call(redis_url: str) -> None:
    """Prepared steps of one round trip are one call of steps.lua (one reply to parse), up to
    STEPS_PER_CALL each; each step still gets its own answer, in order."""
    import redis.asyncio as aioredis

    from acd.core.model import Agent
    from acd.store import StateChange, Store
    from acd.store.base import STEPS_PER_CALL

    store = await Store.open(redis_url)
    plain = aioredis.from_url(redis_url)
    try:
        now = 1000.0
        ids = [f"s{i}" for i in range(STEPS_PER_CALL + 1)]
        for aid in ids:
            await store.sync_agent(Agent(id=aid, interface=f"PJSIP/{aid}", skills={"s": 1},
                                         state=AgentState.LOGGED_OUT, state_since=now))

        async def evalsha_calls() -> int:
            stats = await plain.info("commandstats")
            return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))

        steps = [store.prepare_state(StateChange(aid, AgentState.READY), now) for aid in ids]
        await store.run_prepared(steps[:2])  # (loads steps.lua)
        before = await evalsha_calls()
        steps = [store.prepare_state(StateChange(aid, AgentState.NOT_READY, reason="lunch"),
                                     now + 1) for aid in ids]
        results = await store.run_prepared(steps)
        # STEPS_PER_CALL joined, and the one left over alone: two calls, not five
        assert await evalsha_calls() - before == 2
        assert [r.id for r in results] == ids
        assert all(r.state is AgentState.NOT_READY and r.reason == "lunch" for r in results)
    finally:
        await plain.aclose()
        await store.close()


async def test_the_link_stays_up_through_a_long_hold(lab: Callable[..., Any]) -> None:
    """Pings are answered while the sim holds its output (a big burst takes it seconds to
    prepare): the service keeps its link, and the held burst reaches it afterwards."""
    h: Harness = await lab(centre(), phone=manual_phone)
    link = h.engine.link
    freed = Freed(h)
    exts = [a.extension for a in h.cfg.agents.values()]
    h.sim.ami.hold_output(True)
    try:
        for e in exts:
            h.sim.dial_feature(e, "*51")
        await wait_for(lambda: freed.n >= AGENTS, 10, "the sim to produce the logins")
        for _ in range(3):  # the keepalive, answered while everything else waits
            assert (await link.send({"Action": "Ping"}, timeout_s=2.0))[0]["Response"] \
                == "Success"
        assert all(a.state is AgentState.LOGGED_OUT for a in h.engine.agents.values())
    finally:
        h.sim.ami.hold_output(False)
    await wait_for(lambda: all(a.state is AgentState.READY for a in h.engine.agents.values()),
                   10, "the held logins applied")
    assert h.engine.logins == 1
