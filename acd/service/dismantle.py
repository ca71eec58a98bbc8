"""Big garbage freed a little at a time.

CPython frees an object the moment its last reference goes, and with it everything only it
held, all in one go. A figures snapshot at the benchmark's full size (5,000 agent rows,
10,000 call views) took 23-33 ms to free, and the JSON form it replaced 18-25 ms: each was
one stall of the event loop, which every API request and push waited behind (BENCHMARKS.md,
session 10). `dismantle_steps` takes such a tree apart a few items per step, so that the
service frees it in slices (slices.py) like the rest of the figures' work.

Only an object nobody else holds may be taken apart: `sole_holder` tells (CPython's reference
count), and a list inside it that something else still holds is left whole.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import Any

ROWS_FREED_PER_STEP = 16  # a step frees this many rows (an agent's row is ~5-20 us to free)


def sole_holder(obj: object, known: int) -> bool:
    """True when nothing holds `obj` but the `known` references its caller accounts for (its
    own names, the containers it owns): it may be taken apart without anyone seeing it change.
    (CPython's count also has this function's parameter and getrefcount's argument.)"""
    return sys.getrefcount(obj) <= known + 2


def dismantle_steps(root: Any) -> Generator[None, None, None]:
    """Empty `root` (a dict, a list, or an object such as a pydantic model) a few items per
    step, from the end: a dict's items, the lists among its values or an object's
    attributes, and the items of those. The caller must be the only holder of `root` (see
    sole_holder); a list inside it that something else holds too is left whole."""
    if isinstance(root, list):
        yield from _emptied(root)
    elif isinstance(root, dict):
        while root:
            for _ in range(min(ROWS_FREED_PER_STEP, len(root))):
                _key, value = root.popitem()
                if isinstance(value, list) and sole_holder(value, known=1):
                    yield from _emptied(value)
                del value
            yield
    else:
        fields = getattr(root, "__dict__", None)
        if isinstance(fields, dict):
            for value in list(fields.values()):
                # (held by the object, by the copy of its values, and by `value`)
                if isinstance(value, list) and sole_holder(value, known=3):
                    yield from _emptied(value)


def _emptied(items: list[Any]) -> Generator[None, None, None]:
    while items:
        del items[-ROWS_FREED_PER_STEP:]
        yield
