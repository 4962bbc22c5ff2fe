"""Where the day will end: the festival day's final GMV from the night so far, with an 80 %
interval.

Tonight is read against reference days: the past festival days loaded (last year's data dir,
recorded nights: `ingest.past_nights`), else the festival-day profile (`ingest.day_shape`).
Against each, two readings of tonight's level (`ingest.forecast_readings`): over the whole night
so far with the eves (the naive ratio, tonight's incidents set aside), and recent (a Kalman
filter over the minutes); each draws the rest of the day as its reference's rest at that level.
They are weighed by a prior by hour (early the whole night's, by mid-morning the recent one) and
by how well each has predicted tonight's own hours so far (a backtest on tonight alone), so a
reference whose shape differs from tonight's loses its say as tonight shows it. The 80 %
interval widens with the readings' disagreement and with how unlike its references tonight's
shape has been. An expected final given before the night (GMV_FORECAST_PRIOR) is leaned on by
precision: much at midnight, little by the evening.

Every table is calibrated on families of days (`rehearsal.families` CALIBRATION) that the
benchmark's (HELD_OUT) never share: `python -m bench.forecast --calibrate`, or on recorded nights
with `--past FILE...`.

Only complete minutes count: the minute under way and anything after it are never read.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.settings import Settings, yuan_total_cents
from ingest.contract import beijing_iso, format_cents
from ingest.day_shape import DAY_S, DEFAULT_SHAPE
from ingest.forecast_readings import backtest, read

DAY_MINUTES = DAY_S // 60
MIN_MINUTES = 5  # the first forecast at 00:05: before that the surge has barely begun
Z80 = 1.2816  # the 80 % interval: 10 % either side
# The readings are weighed by exp(-(backtest mse - the best's) / 2 tau^2) times a prior: the
# recent reading's against the whole night's, by hour. Before any backtest (the first minutes),
# by the prior alone. The interval: the spread by hour widened by the readings' backtest errors
# and disagreement (a variance, times kappa) and by how unlike its references tonight's shape
# has been (times lambda: [0] before EARLY_HOURS, [1] after). All measured on the calibration
# families' days (`python -m bench.forecast --calibrate`), which the benchmark's never share.
EARLY_HOURS = 8
TAU_LAST_YEAR, KAPPA_LAST_YEAR, LAMBDA_LAST_YEAR = 0.2, 1, (8.0, 0.0)
RECENT_PRIOR_LAST_YEAR = (
    0, 0, 0, 0, 0, 0,
    0, 1000, 1000, 1000, 1000, 1000,
    1000, 10, 10, 4, 2, 1,
    1, 0.1, 0, 0.25, 2, 1000,
)
SPREAD_LAST_YEAR = (
    0.183, 0.09316, 0.03894, 0.05871, 0.05382, 0.02788,
    0.08282, 0.02, 0.24, 0.02, 0.02, 0.02,
    0.02, 0.02, 0.02, 0.02, 0.0265, 0.04823,
    0.09021, 0.08134, 0.13, 0.4073, 0.189, 0.192,
)
TAU_PROFILE, KAPPA_PROFILE, LAMBDA_PROFILE = 0.12, 2, (8.0, 1.0)
RECENT_PRIOR_PROFILE = (
    0, 0, 0, 0, 0, 0,
    0, 0, 1000, 1000, 1000, 1000,
    1000, 1000, 10, 0.5, 0.5, 0.5,
    0.25, 0.1, 0.1, 1000, 10, 1000,
)
SPREAD_PROFILE = (
    0.5046, 0.4834, 0.4677, 0.4502, 0.4136, 0.3775,
    0.2974, 0.02, 0.02, 0.02, 0.02, 0.02,
    0.02, 0.02, 0.02, 0.02, 0.02, 0.02,
    0.02754, 0.04668, 0.1925, 0.6076, 0.1877, 0.02,
)
WHOLE_DAY_MINUTES = 23 * 60  # a last year with less than this is not a whole day: not used
METHOD_PROFILE = "level-vs-festival-profile"
METHOD_LAST_YEAR = "level-vs-last-year"
METHOD_FINAL = "final"


@dataclass(frozen=True)
class PastDay:
    """A past festival day: GMV in cents of each minute after its midnight, and its eve's."""

    minutes: np.ndarray
    before_cents: int | None = None


@dataclass(frozen=True)
class Prior:
    """The final as expected before the night (GMV_FORECAST_PRIOR): `spread`, its standard
    error on the log scale."""

    final_cents: int
    spread: float

    def lean(self, so_far: int, rest: float, spread: float) -> tuple[float, float]:
        """The rest of the day and its spread (log scale) with this prior: the final as
        forecast and as expected weighed by their precision (the forecast's spread on the rest
        is that much smaller on the final), so it leads at midnight and fades by the evening.
        A prior tonight has already passed says nothing more."""
        if self.final_cents <= so_far or rest <= 0:
            return rest, spread
        final = so_far + rest
        ours, theirs = (spread * rest / final) ** 2, self.spread ** 2
        weight = theirs / (ours + theirs)
        leaned = math.exp(weight * math.log(final) + (1 - weight) * math.log(self.final_cents))
        combined = math.sqrt(ours * theirs / (ours + theirs))
        return leaned - so_far, combined * leaned / (leaned - so_far)


def prior_of(settings: Settings) -> Prior | None:
    cents = yuan_total_cents(settings.forecast_prior)
    return None if cents is None else Prior(cents, settings.forecast_prior_spread_pct / 100)


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
    """Whether a past day's per-minute GMV covers enough of its day to lean on."""
    return last_year is not None and int(np.count_nonzero(last_year[:DAY_MINUTES])) >= \
        WHOLE_DAY_MINUTES


def left_out_because(day: PastDay) -> str | None:
    """Why a past day is not a reference for tonight (None: it is one)."""
    counted = int(np.count_nonzero(day.minutes[:DAY_MINUTES]))
    if counted < WHOLE_DAY_MINUTES:
        return (f"it has GMV in {counted:,} minutes of its day, a whole day in "
                f"{WHOLE_DAY_MINUTES:,} or more")
    if day.minutes[:MIN_MINUTES].sum() <= 0:
        return f"it has no GMV in its first {MIN_MINUTES} minutes"
    return None


def through_the_day(table: tuple[float, ...], minutes: int) -> float:
    """A calibrated table's value `minutes` after midnight: each hour's value holds at the
    hour's middle (where it was measured) and the values in between are drawn straight from one
    to the next, so that the forecast moves with the night, never with the clock."""
    at = (minutes - 30) / 60
    if at <= 0:
        return float(table[0])
    hour = min(int(at), len(table) - 1)
    if hour >= len(table) - 1:
        return float(table[-1])
    share = at - hour
    return float((1 - share) * table[hour] + share * table[hour + 1])


def recent_weight(prior_by_hour: tuple[float, ...], minutes: int) -> float:
    """The recent reading's prior against the whole night's (1), `minutes` after midnight: the
    share it stands for (p / (1 + p)) drawn straight from one hour's middle to the next, so a
    prior that goes from 0 to 1000 in an hour moves the forecast over that hour."""
    share = through_the_day(tuple(p / (1 + p) for p in prior_by_hour), minutes)
    return share / max(1 - share, 1e-9)


def unlike_weight(lam: tuple[float, float], minutes: int) -> float:
    """How much the shape's unlikeness widens the interval: lam[0] before EARLY_HOURS, lam[1]
    after, drawn straight across the hour around it."""
    return through_the_day((lam[0],) * EARLY_HOURS + (lam[1],) * (24 - EARLY_HOURS), minutes)


@dataclass(frozen=True)
class Candidate:
    reading: str  # "whole" or "recent" (ingest.forecast_readings)
    older: bool  # against a year before last (when every weight is 0: last year's whole reading)
    rest: float
    mse: float  # the backtest's mean square log error (nan: nothing to judge it on yet)
    unlike: float  # tonight's shape against the reference's (ingest.forecast_readings)


def candidates(observed: np.ndarray, before_cents: int, past: Sequence[PastDay]) -> list[Candidate]:
    """Every reading of tonight against every reference day (the past days, else the profile),
    with its backtest."""
    minutes = len(observed)
    shape = profile_minutes()
    references = []
    for day in past:
        reference = np.zeros(DAY_MINUTES)
        reference[:min(len(day.minutes), DAY_MINUTES)] = day.minutes[:DAY_MINUTES]
        eves = (int(before_cents), int(day.before_cents)) if day.before_cents else (0, 0)
        references.append((reference, eves))
    found = []
    for n, (reference, eves) in enumerate(references or [(shape, (0, 0))]):
        readings = read(observed, reference, shape, eves)
        for name in ("whole", "recent"):
            found.append(Candidate(name, n > 0, readings.rest(name, minutes),
                                   backtest(readings, observed, name), readings.unlike))
    return found


def blended(found: list[Candidate], minutes: int, recent_prior: tuple[float, ...],
            tau: float) -> tuple[float, float, float]:
    """The rest of the day: the candidates weighed by how well each has predicted tonight
    (exp(-mse / 2 tau^2) times its prior); for the interval, the weighted backtest error with
    the spread between them, and how unlike their references tonight is (variances, log
    scale)."""
    known = [c.mse for c in found if math.isfinite(c.mse)]
    best = min(known) if known else 0.0
    weights = np.array([
        (recent_weight(recent_prior, minutes) if c.reading == "recent" else 1.0)
        * math.exp(-((c.mse if math.isfinite(c.mse) else best) - best) / (2 * tau ** 2))
        for c in found])
    if weights.sum() <= 0:
        weights = np.array([c.reading == "whole" and not c.older for c in found], dtype=float)
    weights /= weights.sum()
    rests = np.array([c.rest for c in found])
    rest = float(np.dot(weights, rests))
    logs = np.log(np.maximum(rests, 1.0) / max(rest, 1.0))
    mses = np.array([c.mse if math.isfinite(c.mse) else 0.0 for c in found])
    unlike = np.array([c.unlike for c in found])
    return (rest, float(np.dot(weights, logs ** 2) + np.dot(weights, mses)),
            float(np.dot(weights, unlike)))


def forecast(day: np.ndarray, before_cents: int, midnight_ms: int,
             past: Sequence[PastDay] = (), prior: Prior | None = None) -> Forecast | NotYet:
    """The final GMV of the festival day from `day`: GMV in cents of each complete minute since
    midnight (index 0 is 00:00-00:01; its length is how much of the day is known) and
    `before_cents`, the eve's. `past`: past festival days, newest first (last year's first);
    those not whole, or without orders in their first minutes, are left out. `prior`: the final
    as expected before the night began."""
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
    refs = [p for p in past if left_out_because(p) is None]
    tables = (RECENT_PRIOR_LAST_YEAR, TAU_LAST_YEAR, KAPPA_LAST_YEAR, LAMBDA_LAST_YEAR,
              SPREAD_LAST_YEAR) if refs else \
        (RECENT_PRIOR_PROFILE, TAU_PROFILE, KAPPA_PROFILE, LAMBDA_PROFILE, SPREAD_PROFILE)
    recent_prior, tau, kappa, lam, spreads = tables
    rest, disagreement, unlike = blended(candidates(observed, int(before_cents), refs),
                                         minutes, recent_prior, tau)
    spread = math.sqrt(through_the_day(spreads, minutes) ** 2 + kappa * disagreement
                       + unlike_weight(lam, minutes) * unlike)
    if prior is not None:
        rest, spread = prior.lean(so_far, rest, spread)
    return Forecast(as_of, so_far + round(rest), so_far + round(rest * math.exp(-Z80 * spread)),
                    so_far + round(rest * math.exp(Z80 * spread)),
                    METHOD_LAST_YEAR if refs else METHOD_PROFILE, so_far)
