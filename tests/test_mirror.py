"""The engine's in-memory picture (acd/service/mirror.py): the quick list of every call gives
what iterating the ChainMap of own and foreign calls gives, through moves between the two."""

from __future__ import annotations

import dataclasses

from acd.core.model import CallState
from acd.service.mirror import Mirror

from .test_store import mk_call


def test_every_call_is_all_calls_in_the_same_order() -> None:
    m = Mirror()
    waiting = [mk_call(f"c{i}", state=CallState.WAITING, entered_at=100.0 + i) for i in range(6)]
    for call in waiting[:3]:
        m.set_call(call)
    for call in waiting[3:]:
        m.set_foreign(call)
    m.set_foreign(waiting[0])  # an own call is never also foreign
    m.set_call(waiting[4])  # a foreign call this instance takes over is own, once
    m.set_call(dataclasses.replace(waiting[1], state=CallState.ENDED))  # ended: gone
    m.drop_foreign("c5")
    assert [c.id for c in m.every_call()] == [c.id for c in m.all_calls.values()]
    assert sorted(c.id for c in m.every_call()) == ["c0", "c2", "c3", "c4"]
    assert [c.id for c in m.every_call()] == ["c3", "c0", "c2", "c4"]
