"""The waiting census (acd/stats/census.py), kept by the engine's mirror: after any run of
changes to own and foreign calls, the calls it counts ahead of a caller are, kind by kind, the
waiting calls a walk finds before it in routing order (ties in entry time, the caller's own
id, other priorities and calls held out of the index by a pending claim included)."""

from __future__ import annotations

import dataclasses
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.core.model import Call, CallState
from acd.core.routing import call_key
from acd.service.mirror import Mirror
from acd.stats.census import WaitingCensus
from acd.stats.ewt import CallKind

_IDS = [f"c{i}" for i in range(8)]


def _call(draw: st.DrawFn, call_id: str) -> Call:
    state = draw(st.sampled_from([CallState.WAITING] * 3 + [CallState.RINGING, CallState.IVR,
                                                             CallState.ENDED]))
    return Call(id=call_id, channel="", uniqueid="", caller_num="", dnis="", state=state,
                queue=draw(st.sampled_from(["q1", "q2"])),
                priority=draw(st.sampled_from([0, 0, 5, 10])),
                required=draw(st.sampled_from([{}, {"s1": 1}, {"s1": 2, "s2": 1}])),
                entered_at=draw(st.sampled_from([None, 100.0, 100.0, 101.0, 102.0])))


@st.composite
def _runs(draw: st.DrawFn) -> list[tuple[str, Call]]:
    steps = []
    for _ in range(draw(st.integers(0, 30))):
        op = draw(st.sampled_from(["own", "own", "foreign", "drop", "drop_foreign", "hold"]))
        steps.append((op, _call(draw, draw(st.sampled_from(_IDS)))))
    return steps


def _walk(m: Mirror, probe: Call) -> Counter[CallKind]:
    key = call_key(probe)
    return Counter((c.queue, frozenset(c.required.items())) for c in m.every_call()
                   if c.state is CallState.WAITING and c.id != probe.id and call_key(c) < key)


def _counted(census: WaitingCensus, probe: Call) -> Counter[CallKind]:
    out: Counter[CallKind] = Counter()
    for kind, n in census.ahead(probe.priority, probe.entered_at, probe.id):
        out[kind] += n
    return +out  # kinds whose calls were all taken back drop out, as in the walk


@settings(max_examples=400, deadline=None)
@given(_runs(), st.data())
def test_census_counts_what_a_walk_finds_ahead(steps: list[tuple[str, Call]],
                                               data: st.DataObject) -> None:
    m = Mirror()
    for op, call in steps:
        if op == "own":
            m.set_call(call)
        elif op == "foreign":
            m.set_foreign(call)
        elif op == "drop":
            m.drop_call(call.id)
        elif op == "drop_foreign":
            m.drop_foreign(call.id)
        else:  # a pending claim holds a waiting call out of the index, not out of the census
            m.index.discard(call.id)
    waiting = [c for c in m.every_call() if c.state is CallState.WAITING]
    assert len(m.census) == len(waiting)
    # in routing order, each as the mirror holds it now (what the tick's EWT walks)
    in_order = m.census.in_order()
    assert [c.id for c in in_order] == [c.id for c in sorted(waiting, key=call_key)]
    assert all(c is m.all_calls[c.id] for c in in_order)
    probes = [_call(data.draw, data.draw(st.sampled_from([*_IDS, "new"]))) for _ in range(4)]
    probes += [dataclasses.replace(c, priority=p) for c in waiting[:2] for p in (0, 10)]
    for probe in probes:
        assert _counted(m.census, probe) == _walk(m, probe), probe


def test_census_forgets_a_call_that_stops_waiting() -> None:
    m = Mirror()
    call = Call(id="c1", channel="", uniqueid="", caller_num="", dnis="",
                state=CallState.WAITING, queue="q1", priority=0, required={"s1": 1},
                entered_at=100.0)
    m.set_call(call)
    newcomer = dataclasses.replace(call, id="new", entered_at=200.0)
    assert _counted(m.census, newcomer) == {("q1", frozenset({("s1", 1)})): 1}
    m.set_call(dataclasses.replace(call, state=CallState.RINGING))
    assert _counted(m.census, newcomer) == {}
    assert len(m.census) == 0
