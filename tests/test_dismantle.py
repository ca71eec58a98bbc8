"""Big garbage freed in steps (acd/service/dismantle.py), and only when nobody else holds it:
a snapshot a reader still has must never change under it."""

from __future__ import annotations

import gc
import weakref
from typing import Any, ClassVar

from pydantic import BaseModel

from acd.api.conditional import BodyCache
from acd.core.steps import run_steps
from acd.service.dismantle import ROWS_FREED_PER_STEP, dismantle_steps, sole_holder


class Row:
    """A row that says when it is freed."""

    freed: ClassVar[list[int]] = []

    def __init__(self, n: int) -> None:
        self.n = n

    def __del__(self) -> None:
        Row.freed.append(self.n)


def steps_of(root: Any) -> list[int]:
    """How many rows were freed by each step."""
    Row.freed.clear()
    out = []
    steps = dismantle_steps(root)
    while True:
        before = len(Row.freed)
        try:
            next(steps)
        except StopIteration:
            out.append(len(Row.freed) - before)
            return out
        out.append(len(Row.freed) - before)


def test_a_list_is_freed_a_few_rows_a_step() -> None:
    rows = [Row(i) for i in range(100)]
    per_step = steps_of(rows)
    assert rows == [] and sum(per_step) == 100
    assert max(per_step) == ROWS_FREED_PER_STEP
    assert sorted(Row.freed) == list(range(100))


def test_a_dict_snapshot_is_emptied_and_its_lists_freed_in_steps() -> None:
    snap: dict[str, Any] = {"agents": [Row(i) for i in range(40)],
                            "calls": [Row(100 + i) for i in range(40)], "generated_at": 1.0}
    per_step = steps_of(snap)
    assert snap == {} and sum(per_step) == 80
    assert max(per_step) <= ROWS_FREED_PER_STEP


def test_a_list_someone_else_holds_is_left_whole() -> None:
    kept = [Row(i) for i in range(40)]
    snap: dict[str, Any] = {"agents": kept, "calls": [Row(100 + i) for i in range(40)]}
    per_step = steps_of(snap)
    assert len(kept) == 40 and [r.n for r in kept] == list(range(40))
    assert sum(per_step) == 40  # the calls only


class Model(BaseModel):
    model_config = {"arbitrary_types_allowed": True}
    rows: list[Row]
    name: str


def test_a_models_lists_are_freed_in_steps() -> None:
    model = Model(rows=[Row(i) for i in range(50)], name="x")
    per_step = steps_of(model)
    assert model.rows == [] and sum(per_step) == 50
    assert max(per_step) <= ROWS_FREED_PER_STEP


def test_sole_holder_counts_the_callers_references() -> None:
    mine = [1]
    assert sole_holder(mine, known=1)
    other = {"x": mine}
    assert not sole_holder(mine, known=1)
    assert sole_holder(mine, known=2)
    del other
    assert sole_holder(mine, known=1)


def test_the_body_cache_does_not_keep_a_snapshot_alive() -> None:
    class Snap(dict[str, Any]):
        pass

    cache = BodyCache()
    snap = Snap(queues=[1, 2])
    first = cache.get("queues", snap, lambda _: b"[1,2]")
    assert cache.get("queues", snap, lambda _: b"other") is first  # the same snapshot: a hit
    gone = weakref.ref(snap)
    assert sole_holder(snap, known=1)  # the cache is not a holder ...
    del snap
    gc.collect()
    assert gone() is None  # ... so a replaced snapshot can be freed
    fresh = Snap(queues=[3])
    assert cache.get("queues", fresh, lambda _: b"[3]").plain == b"[3]"
    # A source that takes no weak reference is held, and still told apart.
    plain = {"queues": []}
    assert cache.get("p", plain, lambda _: b"[]").plain == b"[]"
    assert cache.get("p", {"queues": []}, lambda _: b"new").plain == b"new"
    assert run_steps(dismantle_steps([])) is None
