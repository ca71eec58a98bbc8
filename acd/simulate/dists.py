"""Time distributions of a scenario (talk, patience, ring), written as TOML tables:

    talk = { type = "exponential", mean_s = 180 }
    talk = { type = "lognormal", mean_s = 240, sd_s = 120 }
    patience = { type = "infinite" }

Each validates its own parameters (pydantic, by key path) and hands out a sampler bound to one
`random.Random`, so a seeded run draws the same values every time. Lognormal and gamma are given
by their mean and standard deviation (what a centre measures), not by their shape parameters.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Sampler = Callable[[], float]


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Exponential(_Dist):
    type: Literal["exponential"]
    mean_s: float = Field(gt=0, le=1e6)

    @property
    def mean(self) -> float:
        return self.mean_s

    def sampler(self, rng: random.Random) -> Sampler:
        rate, draw = 1.0 / self.mean_s, rng.expovariate
        return lambda: draw(rate)


class Lognormal(_Dist):
    type: Literal["lognormal"]
    mean_s: float = Field(gt=0, le=1e6)
    sd_s: float = Field(gt=0, le=1e6)

    @property
    def mean(self) -> float:
        return self.mean_s

    def sampler(self, rng: random.Random) -> Sampler:
        sigma2 = math.log(1.0 + (self.sd_s / self.mean_s) ** 2)
        mu, sigma, draw = math.log(self.mean_s) - sigma2 / 2, math.sqrt(sigma2), rng.lognormvariate
        return lambda: draw(mu, sigma)


class Gamma(_Dist):
    """Gamma by mean and standard deviation (sd = mean / sqrt(k) is Erlang-k)."""

    type: Literal["gamma"]
    mean_s: float = Field(gt=0, le=1e6)
    sd_s: float = Field(gt=0, le=1e6)

    @property
    def mean(self) -> float:
        return self.mean_s

    def sampler(self, rng: random.Random) -> Sampler:
        shape, scale = (self.mean_s / self.sd_s) ** 2, self.sd_s**2 / self.mean_s
        draw = rng.gammavariate
        return lambda: draw(shape, scale)


class Fixed(_Dist):
    type: Literal["fixed"]
    value_s: float = Field(ge=0, le=1e6)

    @property
    def mean(self) -> float:
        return self.value_s

    def sampler(self, rng: random.Random) -> Sampler:
        value = self.value_s
        return lambda: value


class Uniform(_Dist):
    type: Literal["uniform"]
    low_s: float = Field(ge=0, le=1e6)
    high_s: float = Field(ge=0, le=1e6)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high_s < self.low_s:
            raise ValueError("high_s must be >= low_s")
        return self

    @property
    def mean(self) -> float:
        return (self.low_s + self.high_s) / 2

    def sampler(self, rng: random.Random) -> Sampler:
        low, high, draw = self.low_s, self.high_s, rng.uniform
        return lambda: draw(low, high)


class Infinite(_Dist):
    """Patience only: the caller never hangs up while waiting."""

    type: Literal["infinite"]

    @property
    def mean(self) -> float:
        return math.inf

    def sampler(self, rng: random.Random) -> Sampler:
        return lambda: math.inf


Duration = Annotated[Exponential | Lognormal | Gamma | Fixed | Uniform,
                     Field(discriminator="type")]
Patience = Annotated[Exponential | Lognormal | Gamma | Fixed | Uniform | Infinite,
                     Field(discriminator="type")]

NO_RING = Fixed(type="fixed", value_s=0.0)
PATIENT = Infinite(type="infinite")
