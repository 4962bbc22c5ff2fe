"""Readings of tonight's level against one reference day (a past year, or the festival-day
profile), as of every minute of the night so far, and how well each has predicted tonight.

A reading is a level (the log of tonight's GMV against the reference's) that draws the rest of
the day as the reference's rest at that level. Two readings per reference:

- "whole": over the eve and every usual minute so far (with last year, the naive ratio with
  tonight's incidents set aside);
- "recent": a local-level Kalman filter over the usual minutes.

Each reading is scored on tonight alone: from earlier minutes of tonight (origins), what it
then drew for the hours that followed, against what came (`backtest`). The forecast weighs the
readings by those errors, so a reference whose shape differs from tonight's stops leading it
as soon as tonight shows it."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

# The level's random walk per minute and a minute's own noise around it (log scale).
LEVEL_STEP_VARIANCE = 1e-5
MINUTE_VARIANCE = 0.2
# A minute this far from the level around it (log ratio: 0.3 is -26 %/+35 %) is an incident's:
# a reference's are repaired (against its 31 minutes around), tonight's do not move the level
# (against its hour before, so that a real change of level is accepted within half an hour).
INCIDENT_LOG_RATIO = 0.3
REPAIR_MINUTES = 31
REPAIR_FROM_MINUTE = 60
USUAL_MINUTES = 61
FIRST_MINUTES = 5
# The backtest: origins every ORIGIN_EVERY minutes over the last BACKTEST_MINUTES, each drawing
# the next HORIZON_MINUTES (or up to now), the first at least SHORTEST minutes before now.
ORIGIN_EVERY = 10
BACKTEST_MINUTES = 360
HORIZON_MINUTES = 180
SHORTEST = 20
# Tonight's shape against the reference's: the spread of their ratio over these stretches of the
# night (minutes after midnight; hourly after the first).
STRETCH_EDGES = (0, 5, 15, 30, 60, *range(120, 1441, 60))


def rolling_median(values: np.ndarray, window: int, centred: bool) -> np.ndarray:
    """The median of each value's window (ignoring NaN; the window shrinks at the edges)."""
    half = window // 2
    before, after = (half, half) if centred else (window - 1, 0)
    padded = np.concatenate([np.full(before, np.nan), values, np.full(after, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window: NaN, as meant
        return np.asarray(np.nanmedian(windows, axis=1))


def log_ratio(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.where((values > 0) & (reference > 0),
                        np.log(np.maximum(values, 1e-300) / np.maximum(reference, 1e-300)), np.nan)


def repaired(reference: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """A past day from REPAIR_FROM_MINUTE on without its incidents: a minute far from its
    neighbours' level against `shape` (an outage's dip, a flash sale's spike) is put back at
    that level. Not in the surge's first hour, where that level moves too fast to tell."""
    ratio = log_ratio(reference, shape)
    level = rolling_median(ratio, REPAIR_MINUTES, centred=True)
    odd = ~(np.abs(ratio - level) <= INCIDENT_LOG_RATIO) & np.isfinite(level)
    odd[:REPAIR_FROM_MINUTE] = False
    return np.where(odd, np.exp(level) * shape, reference)


def usual_minutes(observed: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Tonight's minutes that tell its level: not those far from the level of the hour before
    (an incident's loss is real, but it says nothing of the rest of the day)."""
    ratio = log_ratio(observed, reference[:len(observed)])
    level = rolling_median(ratio, USUAL_MINUTES, centred=False)
    usual = np.asarray(np.abs(ratio - level) <= INCIDENT_LOG_RATIO)
    return usual if usual.any() else np.asarray(observed > 0)


def _gain(j: int) -> float:
    return float(_GAINS[min(j, len(_GAINS) - 1)])


def _kalman_gains(count: int = 1440) -> np.ndarray:
    """The filter's gain at each usual minute: with fixed variances it does not depend on the
    data."""
    gains, variance = np.empty(count), 1.0
    for i in range(count):
        variance += LEVEL_STEP_VARIANCE
        gains[i] = variance / (variance + MINUTE_VARIANCE)
        variance *= 1 - gains[i]
    return gains


_GAINS = _kalman_gains()


@dataclass(frozen=True)
class Readings:
    """Tonight against one reference: each reading's level as of every minute k (index k: the
    first k minutes seen), the reference's rest drawn at it, and the usual minutes."""

    reference: np.ndarray  # the reference day, its incidents repaired (the rest is drawn on it)
    usual: np.ndarray
    levels: dict[str, np.ndarray]
    unlike: float  # how far tonight's shape has strayed from the reference's (a variance)

    def rest(self, name: str, minutes: int) -> float:
        return float(self.reference[minutes:].sum()) * math.exp(self.levels[name][minutes])


def read(observed: np.ndarray, reference: np.ndarray, shape: np.ndarray,
         eves: tuple[int, int] = (0, 0)) -> Readings:
    """The readings of `observed` (tonight's complete minutes) against `reference` (a whole
    day), whose incidents are judged against `shape`; `eves`: tonight's and the reference's eve,
    when both are known."""
    minutes = len(observed)
    ref_seen = reference[:minutes]
    usual = usual_minutes(observed, reference)
    seen = np.where(usual, observed, 0.0)
    ref_usual = np.where(usual, ref_seen, 0.0)
    with np.errstate(all="ignore"):
        tonight_cum = eves[0] + np.concatenate([[0.0], np.cumsum(seen)])
        ref_cum = eves[1] + np.concatenate([[0.0], np.cumsum(ref_usual)])
        whole = np.where((tonight_cum > 0) & (ref_cum > 0),
                         np.log(np.maximum(tonight_cum, 1e-300) / np.maximum(ref_cum, 1e-300)),
                         0.0)
    start = min(minutes, FIRST_MINUTES)
    first = math.log(max(observed[:start].sum(), 1.0) / max(ref_seen[:start].sum(), 1.0))
    ratios = log_ratio(observed, ref_seen)
    recent = np.empty(minutes + 1)
    level, j = first, 0
    for k in range(minutes):
        recent[k] = level
        if usual[k] and np.isfinite(ratios[k]):
            level += _gain(j) * (ratios[k] - level)
            j += 1
    recent[minutes] = level
    return Readings(repaired(reference, shape), usual, {"whole": whole, "recent": recent},
                    unlikeness(seen, ref_usual))


def unlikeness(tonight: np.ndarray, reference: np.ndarray) -> float:
    """The variance of log(tonight / reference) over the night's stretches so far (each weighed
    by the reference's GMV in it): 0 when tonight has the reference's shape at any size."""
    edges = [e for e in STRETCH_EDGES if e < len(tonight)] + [len(tonight)]
    ours = np.add.reduceat(tonight, edges[:-1])
    theirs = np.add.reduceat(reference, edges[:-1])
    ok = (ours > 0) & (theirs > 0)
    if ok.sum() < 2:
        return 0.0
    ratios, weights = np.log(ours[ok] / theirs[ok]), theirs[ok]
    mean = np.average(ratios, weights=weights)
    return float(np.average((ratios - mean) ** 2, weights=weights))


def backtest(readings: Readings, observed: np.ndarray, name: str) -> float:
    """How reading `name` has predicted tonight: from origins over the last BACKTEST_MINUTES,
    the log error of what it drew for the following HORIZON_MINUTES (usual minutes only)
    against what came; their mean square, weighed by the GMV that came. NaN when no origin is
    old enough."""
    minutes = len(observed)
    last = minutes - SHORTEST
    first = max(FIRST_MINUTES, minutes - BACKTEST_MINUTES)
    if last < first:
        return math.nan
    tonight = np.concatenate([[0.0], np.cumsum(np.where(readings.usual, observed, 0.0))])
    ref = np.concatenate([[0.0], np.cumsum(np.where(readings.usual,
                                                    readings.reference[:minutes], 0.0))])
    origins = np.arange(last, first - 1, -ORIGIN_EVERY)
    ends = np.minimum(origins + HORIZON_MINUTES, minutes)
    came, drawn = tonight[ends] - tonight[origins], ref[ends] - ref[origins]
    ok = (came > 0) & (drawn > 0)
    if not ok.any():
        return math.nan
    errors = np.log(came[ok] / (drawn[ok] * np.exp(readings.levels[name][origins[ok]])))
    return float(np.average(errors ** 2, weights=came[ok]))
