"""Where the day will end: the festival day's final GMV from the night so far, with an 80 %
interval.

Tonight is read against a reference day: last year's, minute by minute, when a whole one is
loaded, else the festival-day profile (`ingest.day_shape`: the midnight surge, the 02:30 trough,
the daytime waves, the evening rise). Tonight's level against it is the ratio of tonight's GMV
to the reference's, in two readings: over the whole night so far (with the eves), and recent (a
local-level Kalman filter over the minutes). The rest of the day is the reference's rest at a
blend of the two whose weight moves with the hour: at ten past midnight the whole night's level
(the surge's minutes say little about the afternoon, and the last ones less than all), by noon
the recent one (the daytime has shown its own level). Incidents neither year should repeat are
set aside: tonight's minutes far from the hour's level do not move it (the GMV they lost is
lost, but says nothing of the rest), and last year's are repaired in the rest of its day. The
weights and the interval's width by hour are measured on simulated days other than the
benchmark's (`python -m bench.forecast --calibrate`).

Only complete minutes count: the minute under way and anything after it are never read.
"""

from __future__ import annotations

import functools
import math
import warnings
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
# A minute this far from the level around it (log ratio: 0.3 is -26 %/+35 %) is an incident's:
# last year's are repaired (against its 31 minutes around), tonight's do not move the level
# (against its hour before, so that a real change of level is accepted within half an hour).
INCIDENT_LOG_RATIO = 0.3
REPAIR_MINUTES = 31
REPAIR_FROM_MINUTE = 60
USUAL_MINUTES = 61
# How much the recent level counts against the whole night's, by hour.
RECENT_WEIGHT_LAST_YEAR = (
    0, 0, 0.25, 0.75, 0.75, 0.75,
    0.75, 1, 1, 1, 1, 1,
    1, 1, 0.75, 0.75, 0.75, 0.5,
    0.5, 0.25, 0.25, 0.5, 0.25, 0.75,
)
RECENT_WEIGHT_PROFILE = (
    0, 0, 0, 0, 0, 0,
    0.25, 0.75, 1, 1, 1, 1,
    1, 1, 1, 0.75, 0.75, 0.75,
    0.5, 0.25, 0.25, 0.25, 0, 0,
)
WHOLE_DAY_MINUTES = 23 * 60  # a last year with less than this is not a whole day: not used
METHOD_PROFILE = "level-vs-festival-profile"
METHOD_LAST_YEAR = "level-vs-last-year"
METHOD_FINAL = "final"
# How far the rest of the day strays from the forecast (80 % of |log(actual rest / forecast
# rest)| fall within Z80 times it), by hour of the day, with last year loaded and with the
# profile only. Both tables measured on 200 calibration days (seeds 1000-1199, `python -m
# bench.forecast --calibrate`); the benchmark's days are others.
SPREAD_LAST_YEAR = (
    0.1696, 0.1848, 0.1813, 0.1717, 0.1741, 0.1726,
    0.1576, 0.1514, 0.1177, 0.09127, 0.07386, 0.06789,
    0.07471, 0.08144, 0.07265, 0.07064, 0.07365, 0.07869,
    0.08244, 0.08694, 0.0978, 0.1066, 0.135, 0.1784,
)
SPREAD_PROFILE = (
    0.2132, 0.2418, 0.2475, 0.2473, 0.2499, 0.2501,
    0.2522, 0.2238, 0.1722, 0.13, 0.09628, 0.07708,
    0.077, 0.08485, 0.08356, 0.08854, 0.09131, 0.1027,
    0.1141, 0.1256, 0.1301, 0.1361, 0.1928, 0.3133,
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


def _rolling_median(values: np.ndarray, window: int, centred: bool) -> np.ndarray:
    """The median of each value's window (ignoring NaN; the window shrinks at the edges)."""
    half = window // 2
    before, after = (half, half) if centred else (window - 1, 0)
    padded = np.concatenate([np.full(before, np.nan), values, np.full(after, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window: NaN, as meant
        return np.asarray(np.nanmedian(windows, axis=1))


def _log_ratio(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.where((values > 0) & (reference > 0),
                        np.log(np.maximum(values, 1e-300) / np.maximum(reference, 1e-300)), np.nan)


def repaired(last_year: np.ndarray, after: int) -> np.ndarray:
    """Last year's day from minute `after` on without its incidents: a minute far from its
    neighbours' level against the profile (an outage's dip, a flash sale's spike) is put back at
    that level. Not in the surge's first hour, where that level moves too fast to tell."""
    profile = profile_minutes()
    ratio = _log_ratio(last_year, profile)
    level = _rolling_median(ratio, REPAIR_MINUTES, centred=True)
    odd = ~(np.abs(ratio - level) <= INCIDENT_LOG_RATIO) & np.isfinite(level)
    odd[:max(after, REPAIR_FROM_MINUTE)] = False
    return np.where(odd, np.exp(level) * profile, last_year)


def usual_minutes(observed: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Tonight's minutes that tell its level: not those far from the level of the hour before
    (an incident's loss is real, but it says nothing of the rest of the day)."""
    ratio = _log_ratio(observed, reference[:len(observed)])
    level = _rolling_median(ratio, USUAL_MINUTES, centred=False)
    return np.asarray(np.abs(ratio - level) <= INCIDENT_LOG_RATIO)


@functools.lru_cache(maxsize=1)
def _kalman_gains() -> np.ndarray:
    """The filter's gain at each usual minute: with fixed variances it does not depend on the
    data, so the level is a weighted sum of the minutes' ratios (computed at once)."""
    gains, variance = np.empty(DAY_MINUTES), 1.0
    for i in range(DAY_MINUTES):
        variance += LEVEL_STEP_VARIANCE
        gains[i] = variance / (variance + MINUTE_VARIANCE)
        variance *= 1 - gains[i]
    gains.setflags(write=False)
    return gains


def tonights_level(observed: np.ndarray, reference: np.ndarray, usual: np.ndarray) -> float:
    """Tonight's recent level against the reference (log of the ratio) as of the last minute: a
    local-level Kalman filter over the usual minutes, starting from the first minutes' ratio."""
    start = min(len(observed), MIN_MINUTES)
    first = math.log(observed[:start].sum() / reference[:start].sum())
    ratios = _log_ratio(observed, reference[:len(observed)])[usual]
    gains = _kalman_gains()[:len(ratios)]
    # keep[k]: how much of the level after minute k survives the later minutes.
    log_keep = np.log1p(-gains)
    after = np.concatenate([np.cumsum(log_keep[::-1])[::-1][1:], [0.0]])
    return float(first * math.exp(log_keep.sum()) + np.dot(gains * np.exp(after), ratios))


def whole_level(observed: np.ndarray, reference: np.ndarray, usual: np.ndarray,
                eves: tuple[int, int] = (0, 0)) -> float:
    """Tonight's level over the eve and all its usual minutes so far: GMV against the
    reference's (`eves`: tonight's eve and the reference's, when both are known)."""
    seen = eves[1] + float(reference[:len(observed)][usual].sum())
    return math.log((eves[0] + float(observed[usual].sum())) / seen) if seen > 0 else 0.0


def level_now(observed: np.ndarray, reference: np.ndarray, use_last_year: bool,
              eves: tuple[int, int] = (0, 0)) -> float:
    """The level the rest of the day is drawn at: early the whole night's (the surge says more
    of the day than its last minutes do), through the day more and more the recent one."""
    usual = usual_minutes(observed, reference)
    if not usual.any():
        usual = observed > 0
    weight = _at_hour(RECENT_WEIGHT_LAST_YEAR if use_last_year else RECENT_WEIGHT_PROFILE,
                      len(observed))
    return weight * tonights_level(observed, reference, usual) + \
        (1 - weight) * whole_level(observed, reference, usual, eves)


def _at_hour(table: tuple[float, ...], minutes: int) -> float:
    """A calibrated table's value for the hour of the day `minutes` after midnight falls in."""
    return table[min(minutes // 60, len(table) - 1)]


def forecast(day: np.ndarray, before_cents: int, midnight_ms: int,
             last_year: np.ndarray | None = None,
             last_year_before_cents: int | None = None) -> Forecast | NotYet:
    """The final GMV of the festival day from `day`: GMV in cents of each complete minute since
    midnight (index 0 is 00:00-00:01; its length is how much of the day is known) and
    `before_cents`, the eve's. `last_year`: that night's GMV per minute after its midnight, and
    its eve's when known."""
    minutes = min(len(day), DAY_MINUTES)
    counted = np.asarray(day[:minutes], dtype=np.int64)
    so_far = int(before_cents) + int(counted.sum())
    as_of = midnight_ms + minutes * 60_000
    if minutes >= DAY_MINUTES:
        return Forecast(as_of, so_far, so_far, so_far, METHOD_FINAL, so_far)
    observed = counted.astype(np.float64)
    if minutes < MIN_MINUTES:
        return NotYet(as_of if minutes else None,
                      f"the forecast starts {MIN_MINUTES} minutes into the festival day")
    if observed[:MIN_MINUTES].sum() <= 0:
        return NotYet(as_of, "no orders in the festival day's first minutes: is this the "
                             "festival day's night (GMV_FESTIVAL_DATE)?")
    use_last_year = whole_day(last_year)
    if use_last_year:
        assert last_year is not None
        reference = np.zeros(DAY_MINUTES)
        reference[:min(len(last_year), DAY_MINUTES)] = last_year[:DAY_MINUTES]
    else:
        reference = profile_minutes()
    if reference[:MIN_MINUTES].sum() <= 0:
        return NotYet(as_of, "last year has no orders in its first minutes to compare with")
    # The eves count in the level when both are known (the eve's warm-up is part of the night).
    eves = (int(before_cents), int(last_year_before_cents)) \
        if use_last_year and last_year_before_cents else (0, 0)
    level = level_now(observed, reference, use_last_year, eves)
    ahead = repaired(reference, minutes) if use_last_year else reference
    rest = float(ahead[minutes:].sum()) * math.exp(level)
    spread = _at_hour(SPREAD_LAST_YEAR if use_last_year else SPREAD_PROFILE, minutes)
    return Forecast(as_of, so_far + round(rest), so_far + round(rest * math.exp(-Z80 * spread)),
                    so_far + round(rest * math.exp(Z80 * spread)),
                    METHOD_LAST_YEAR if use_last_year else METHOD_PROFILE, so_far)
