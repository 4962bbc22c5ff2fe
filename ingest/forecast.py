"""Where the day will end: the festival day's final GMV from the night so far, with an 80 %
interval.

Tonight is read against a reference day: last year's, minute by minute, when a whole one is
loaded, else the festival-day profile (`ingest.day_shape`: the midnight surge, the 02:30 trough,
the daytime waves, the evening rise). Tonight's level against it (the ratio of tonight's GMV to
the reference's at the same minute) is followed minute by minute in log scale by a local-level
Kalman filter: it starts at the surge's ratio and moves as the hours tell more (the daytime's
ratio at noon outweighs the surge's). The rest of the day is the reference's rest at the current
level. The interval's width at each hour is how far that rest has strayed on simulated days
other than the benchmark's (`python -m bench.forecast --calibrate`).

Only complete minutes count: the minute under way and anything after it are never read.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.contract import beijing_iso, format_cents
from ingest.day_shape import DAY_S, DEFAULT_SHAPE

DAY_MINUTES = DAY_S // 60
MIN_MINUTES = 5  # the first forecast at 00:05: before that the surge has barely begun
Z80 = 1.2816  # the 80 % interval: 10 % either side
# The level's random walk per minute and a minute's own noise around it (log scale).
LEVEL_STEP_VARIANCE = 1e-5
MINUTE_VARIANCE = 0.2
WHOLE_DAY_MINUTES = 23 * 60  # a last year with less than this is not a whole day: not used
METHOD_PROFILE = "level-vs-festival-profile"
METHOD_LAST_YEAR = "level-vs-last-year"
METHOD_FINAL = "final"
# How far the rest of the day strays from the forecast (sd of log(actual rest / forecast rest)),
# by hour of the day, with last year loaded and with the profile only. Measured on 200
# calibration days (seeds 1000-1199, `python -m bench.forecast --calibrate`); the benchmark's
# days are others.
SPREAD_LAST_YEAR = (
    0.1518, 0.1624, 0.1587, 0.1511, 0.1527, 0.1544,
    0.1497, 0.1376, 0.1158, 0.0888, 0.0713, 0.0646,
    0.0593, 0.0671, 0.0672, 0.0683, 0.0752, 0.0818,
    0.0875, 0.0952, 0.1075, 0.1076, 0.1332, 0.1850,
)
SPREAD_PROFILE = (
    0.2341, 0.2659, 0.2715, 0.2681, 0.2612, 0.2577,
    0.2503, 0.2237, 0.1781, 0.1314, 0.0976, 0.0768,
    0.0746, 0.0843, 0.0835, 0.0857, 0.0924, 0.1054,
    0.1207, 0.1357, 0.1423, 0.1410, 0.1990, 0.2930,
)


@dataclass(frozen=True)
class Forecast:
    """The day's final GMV as of `as_of_ms` (the end of the last complete minute counted)."""

    as_of_ms: int
    final_cents: int
    low_cents: int
    high_cents: int
    method: str
    so_far_cents: int

    def to_json(self) -> dict[str, Any]:
        return {"as_of": beijing_iso(self.as_of_ms), "as_of_ms": self.as_of_ms,
                "final_gmv": format_cents(self.final_cents), "low": format_cents(self.low_cents),
                "high": format_cents(self.high_cents), "method": self.method,
                "interval": "80%", "so_far": format_cents(self.so_far_cents),
                "final_gmv_cents": self.final_cents, "low_cents": self.low_cents,
                "high_cents": self.high_cents, "status": "ok"}


@dataclass(frozen=True)
class NotYet:
    """Not enough of the day to forecast from: says so rather than guess."""

    as_of_ms: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"as_of": beijing_iso(self.as_of_ms) if self.as_of_ms is not None else None,
                "as_of_ms": self.as_of_ms, "final_gmv": None, "low": None, "high": None,
                "method": None, "status": "not_enough_data", "message": self.reason}


@functools.lru_cache(maxsize=1)
def profile_minutes() -> np.ndarray:
    """The festival-day profile's GMV per minute (relative units: orders/s as a share of the
    peak, the mean of each minute's seconds)."""
    seconds = np.arange(DAY_S, dtype=np.float64) + 0.5
    table = DEFAULT_SHAPE.after_peak(seconds).reshape(DAY_MINUTES, 60).mean(axis=1)
    table.setflags(write=False)
    return np.asarray(table)


def whole_day(last_year: np.ndarray | None) -> bool:
    """Whether a last year's per-minute GMV covers enough of its day to lean on."""
    return last_year is not None and int(np.count_nonzero(last_year[:DAY_MINUTES])) >= \
        WHOLE_DAY_MINUTES


def tonights_level(observed: np.ndarray, reference: np.ndarray) -> float:
    """Tonight's level against the reference (log of the ratio) as of the last observed minute:
    a local-level Kalman filter over the minutes, starting from the first minutes' ratio."""
    start = min(len(observed), MIN_MINUTES)
    level = math.log(observed[:start].sum() / reference[:start].sum())
    variance = 1.0
    for value, expected in zip(observed, reference[:len(observed)], strict=True):
        if value <= 0 or expected <= 0:  # a minute without orders (or none last year): no news
            continue
        variance += LEVEL_STEP_VARIANCE
        gain = variance / (variance + MINUTE_VARIANCE)
        level += gain * (math.log(value / expected) - level)
        variance *= 1 - gain
    return level


def spread_at(minutes: int, reference_is_last_year: bool) -> float:
    table = SPREAD_LAST_YEAR if reference_is_last_year else SPREAD_PROFILE
    return table[min(minutes // 60, 23)]


def forecast(day: np.ndarray, before_cents: int, midnight_ms: int,
             last_year: np.ndarray | None = None) -> Forecast | NotYet:
    """The final GMV of the festival day from `day`: GMV in cents of each complete minute since
    midnight (index 0 is 00:00-00:01; its length is how much of the day is known) and
    `before_cents`, the eve's. `last_year`: that night's GMV per minute after its midnight."""
    minutes = min(len(day), DAY_MINUTES)
    counted = np.asarray(day[:minutes], dtype=np.int64)
    so_far = int(before_cents) + int(counted.sum())
    as_of = midnight_ms + minutes * 60_000
    if minutes >= DAY_MINUTES:
        return Forecast(as_of, so_far, so_far, so_far, METHOD_FINAL, so_far)
    observed = counted.astype(np.float64)
    if minutes < MIN_MINUTES or observed[:MIN_MINUTES].sum() <= 0:
        return NotYet(as_of if minutes else None,
                      f"the forecast starts {MIN_MINUTES} minutes into the festival day")
    use_last_year = whole_day(last_year)
    reference = (np.asarray(last_year[:DAY_MINUTES], dtype=np.float64)  # type: ignore[index]
                 if use_last_year else profile_minutes())
    if reference[:MIN_MINUTES].sum() <= 0:
        return NotYet(as_of, "last year has no orders in its first minutes to compare with")
    rest = float(reference[minutes:].sum()) * math.exp(tonights_level(observed, reference))
    spread = spread_at(minutes, use_last_year)
    return Forecast(as_of, so_far + round(rest), so_far + round(rest * math.exp(-Z80 * spread)),
                    so_far + round(rest * math.exp(Z80 * spread)),
                    METHOD_LAST_YEAR if use_last_year else METHOD_PROFILE, so_far)
