"""Whole festival days in minutes, fast: the GMV of each minute of a simulated day, for measuring
the forecast on many days without publishing billions of orders.

Each day has its own shape (its parts' sizes and timings drawn around the profile, or around
last year's) and hour-long swings around it; orders per second are Poisson at `peak_ops` times
the shape; a minute's GMV is the sum of its orders' amounts, drawn as the simulator's catalogue
prices them (by the central limit: thousands of orders a minute)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from ingest.day_shape import DAY_S, DEFAULT_SHAPE, DayShape
from rehearsal.festival import Catalogue, NightShape, draw_orders

EVE_S = 600  # the eve's warm-up before midnight


@dataclass(frozen=True)
class Outage:
    """A stretch of the day when part of the orders cannot be paid (a payment path or a device
    dark, a region cut off): only `kept` of the rate gets through."""

    start_minute: int
    minutes: int
    kept: float


@dataclass(frozen=True)
class SimulatedDay:
    shape: NightShape
    peak_ops: int
    before_cents: int  # the eve's GMV
    minutes: np.ndarray  # GMV in cents of each minute of the day (1440)
    outages: tuple[Outage, ...] = ()

    @property
    def final_cents(self) -> int:
        return self.before_cents + int(self.minutes.sum())


def varied_shape(rng: np.random.Generator, around: DayShape = DEFAULT_SHAPE,
                 spread: float = 1.0) -> DayShape:
    """A day's own shape: each part's size around `around`'s (log-normal, sd 0.25 x spread),
    the decays' and the evening's timings shifted."""
    def size(value: float, sd: float = 0.25) -> float:
        return float(value * np.exp(rng.normal(0.0, sd * spread)))

    return replace(
        around,
        surge_fast=size(around.surge_fast), surge_slow=size(around.surge_slow),
        surge_fast_s=size(around.surge_fast_s, 0.15), surge_slow_s=size(around.surge_slow_s, 0.15),
        floor=size(around.floor, 0.3), daytime=size(around.daytime, 0.2),
        lunch=size(around.lunch, 0.4), evening=size(around.evening, 0.3),
        evening_hour=float(np.clip(around.evening_hour + rng.normal(0, 0.4 * spread), 18.5, 22.5)),
        final_push=size(around.final_push, 0.4))


@functools.lru_cache(maxsize=4)
def amount_moments(seed: int = 1, sample: int = 400_000) -> tuple[float, float]:
    """Mean and standard deviation of an order's amount (cents) under the simulator's catalogue."""
    rng = np.random.default_rng([seed, 0xA40])
    ts = np.zeros(sample, dtype=np.int64)
    amounts = draw_orders(rng, Catalogue.build(seed), ts, 0).amount_cents.astype(np.float64)
    return float(amounts.mean()), float(amounts.std())


def drawn_outages(rng: np.random.Generator, chance: float = 0.5) -> tuple[Outage, ...]:
    """Most nights have an incident or two: each of two chances `chance`, anywhere in the day
    (a third of them in the busy first two hours), 5-40 minutes, 20-80 % of the orders lost."""
    outages = []
    for _ in range(2):
        if rng.random() < chance:
            start = int(rng.integers(0, 120)) if rng.random() < 1 / 3 else int(rng.integers(0, 1400))
            outages.append(Outage(start, int(rng.integers(5, 41)), float(rng.uniform(0.2, 0.8))))
    return tuple(outages)


def _swings(rng: np.random.Generator, seconds: int, sd: float, minutes: float) -> np.ndarray:
    """Hour-long multiplicative swings: an AR(1) per minute in log scale, held within each minute."""
    count = seconds // 60 + 1
    rho = np.exp(-1.0 / minutes)
    noise = rng.normal(0.0, sd * np.sqrt(1 - rho ** 2), count)
    walk = np.empty(count)
    walk[0] = rng.normal(0.0, sd)
    for i in range(1, count):
        walk[i] = rho * walk[i - 1] + noise[i]
    return np.exp(np.repeat(walk, 60)[:seconds] - sd ** 2 / 2)


def simulate_day(shape: DayShape | NightShape, peak_ops: int, seed: int, swing_sd: float = 0.06,
                 swing_minutes: float = 45.0, outages: tuple[Outage, ...] = ()) -> SimulatedDay:
    """A day drawn from `shape` (a `DayShape`, or a `NightShape` with a second surge)."""
    night = shape if isinstance(shape, NightShape) else NightShape(shape)
    rng = np.random.default_rng([seed, 0xDA7])
    seconds = np.arange(-EVE_S, DAY_S, dtype=np.float64) + 0.5
    rate = peak_ops * night.rate_fraction(seconds) * _swings(rng, len(seconds), swing_sd,
                                                             swing_minutes)
    for outage in outages:
        start = EVE_S + outage.start_minute * 60
        rate[start:start + outage.minutes * 60] *= outage.kept
    orders = rng.poisson(rate)
    mean, sd = amount_moments()
    eve, day = orders[:EVE_S], orders[EVE_S:].reshape(-1, 60).sum(axis=1)

    def gmv(counts: np.ndarray) -> np.ndarray:
        draws = rng.normal(counts * mean, np.sqrt(np.maximum(counts, 0)) * sd)
        return np.maximum(np.round(draws), 0).astype(np.int64)

    return SimulatedDay(night, peak_ops, int(gmv(np.array([eve.sum()]))[0]), gmv(day), outages)
