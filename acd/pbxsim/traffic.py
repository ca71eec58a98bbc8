"""Traffic generator: places callers on the simulator's clock (Poisson arrivals)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from acd.pbxsim.clock import TimerHandle
from acd.pbxsim.model import CallerSpec

if TYPE_CHECKING:
    from acd.pbxsim.sim import PbxSim


def parse_script(script: str) -> list[list[str | None]]:
    """``"1|2;1234;-"`` -> steps, each a list of alternatives (``-`` or empty = no input)."""
    steps: list[list[str | None]] = []
    for step in script.split(";") if script else []:
        alts = [a.strip() for a in step.split("|")]
        steps.append([None if a in ("", "-") else a for a in alts])
    return steps


@dataclass
class Traffic:
    rate_per_min: float
    dnis: list[str] = field(default_factory=lambda: ["100"])
    vip_numbers: list[str] = field(default_factory=list)
    vip_share: float = 0.0
    input_script: str = ""
    patience_mean_s: float | None = 60.0
    talk_mean_s: float | None = None
    seed: int | None = None
    duration_s: float | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._steps = parse_script(self.input_script)
        self._timer: TimerHandle | None = None
        self._started = 0.0
        self._n = 0
        self.placed: list[str] = []

    def make_caller(self) -> CallerSpec:
        self._n += 1
        vip = self.rng.random() < self.vip_share
        if vip and self.vip_numbers:
            number = self.rng.choice(self.vip_numbers)
        else:
            number = f"555{self.rng.randrange(10**6, 10**7)}"
        inputs = [self.rng.choice(alts) for alts in self._steps]
        patience = (self.rng.expovariate(1 / self.patience_mean_s)
                    if self.patience_mean_s else None)
        talk = self.rng.expovariate(1 / self.talk_mean_s) if self.talk_mean_s else None
        return CallerSpec(number=number, dnis=self.rng.choice(self.dnis), inputs=inputs,
                          patience_s=patience, talk_s=talk, vip=vip, tag=f"traffic-{self._n}")

    def start(self, sim: PbxSim) -> None:
        self._started = sim.clock.now()
        self._schedule(sim)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, sim: PbxSim) -> None:
        if self.rate_per_min <= 0:
            return
        gap = self.rng.expovariate(self.rate_per_min / 60.0)
        if self.duration_s is not None and sim.clock.now() + gap - self._started > self.duration_s:
            return

        def arrive() -> None:
            self.placed.append(sim.place_call(self.make_caller()))
            self._schedule(sim)

        self._timer = sim.clock.call_later(gap, arrive)
