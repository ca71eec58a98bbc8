"""The decision's latency at the service's own edge: from the freeing AMI event leaving the
link's parser to the Originate that rings that agent handed to the link to write.

The end-to-end figure (bench/simproc.py) is timed on the simulator's socket: from the event's
frame written to the kernel's receive time of the Originate. It also holds the two socket hops
and the service's own reading and parsing of the event. This probe, in the service's process,
takes those out: the difference between the two is what the transport and the link's reading
add.

Installed from outside (the link's sink and fire_many wrapped on the instance), so the service
carries no bench code. perf_counter is CLOCK_MONOTONIC, the simulator's clock too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from acd.ami.events import Frame
from acd.service.engine import Engine


class EdgeProbe:
    def __init__(self, engine: Engine, iface_of_ext: Mapping[str, str]) -> None:
        self.link = engine.link
        self.iface_of_ext = dict(iface_of_ext)
        self.arrived: dict[str, float] = {}  # interface -> when its freeing event was parsed
        self.latencies: list[float] = []
        self._sink = self.link.sink
        self._fire_many = self.link.fire_many
        self.link.sink = self._on_frame
        self.link.fire_many = self._on_fire_many  # type: ignore[method-assign]

    def close(self) -> None:
        self.link.sink = self._sink
        self.link.fire_many = self._fire_many  # type: ignore[method-assign]

    def _on_frame(self, frame: Frame) -> None:
        if frame.get("Event") == "UserEvent" and frame.get("UserEvent") == "AcdAgent":
            iface = self.iface_of_ext.get(str(frame.get("Agent", "")).strip())
            if iface is not None:
                self.arrived[iface] = time.perf_counter()
        self._sink(frame)

    def _on_fire_many(self, actions: Sequence[Mapping[str, Any]], *args: Any, **kw: Any) -> Any:
        now = time.perf_counter()
        for action in actions:
            if action.get("Action") == "Originate":
                t0 = self.arrived.pop(str(action.get("Channel", "")), None)
                if t0 is not None:
                    self.latencies.append(now - t0)
        return self._fire_many(actions, *args, **kw)
