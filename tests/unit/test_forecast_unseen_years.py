"""The forecast on a day unlike any family of rehearsal/families.py, against a last year that
differs the way real years do (issue #26): tonight a sharper surge, a quiet night and daytime,
the evening wave an hour later and much stronger (or a flash sale in the afternoon). The naive
ratio (tonight so far x last year's total / last year's so far, eves included) is the bar."""

from __future__ import annotations

import statistics
from dataclasses import replace

import numpy as np
import pytest

from ingest.day_shape import DEFAULT_SHAPE
from ingest.forecast import Forecast, PastDay, forecast
from rehearsal.days import SimulatedDay, simulate_day
from rehearsal.festival import NightShape

LAST_YEAR = NightShape(replace(DEFAULT_SHAPE, surge_fast=0.6, surge_fast_s=260.0, surge_slow=0.33,
                               floor=0.005, daytime=0.032, evening=0.03, evening_hour=20.0,
                               lunch=0.02, final_push=0.07))
TONIGHT = {
    "sharp-surge-quiet-night-late-evening": NightShape(replace(  # issue #26's own words
        DEFAULT_SHAPE, surge_fast=0.95, surge_fast_s=100.0, surge_slow=0.25, surge_slow_s=350.0,
        floor=0.0018, evening=0.06, evening_hour=21.0, lunch=0.02, final_push=0.07)),
    "quiet-day-late-big-evening": NightShape(replace(
        DEFAULT_SHAPE, surge_fast=1.0, surge_fast_s=150.0, floor=0.002, daytime=0.018,
        lunch=0.008, evening=0.08, evening_hour=21.0, final_push=0.12)),
    "afternoon-flash-sale": NightShape(replace(
        DEFAULT_SHAPE, surge_fast=0.8, floor=0.003, evening=0.05, evening_hour=21.0),
        0.25, 15 * 3600),
}
SEEDS = range(12)


def pair(name: str, seed: int) -> tuple[SimulatedDay, SimulatedDay]:
    rng = np.random.default_rng([seed, 77])
    peak = int(np.exp(rng.uniform(np.log(3000), np.log(50000))))
    last_year = simulate_day(LAST_YEAR, int(peak / rng.uniform(1.2, 1.6)), 5000 + seed)
    return simulate_day(TONIGHT[name], peak, 9000 + seed), last_year


def naive(tonight: SimulatedDay, last_year: SimulatedDay, minutes: int) -> float:
    share = (last_year.before_cents + last_year.minutes[:minutes].sum()) / last_year.final_cents
    return float((tonight.before_cents + tonight.minutes[:minutes].sum()) / share)


@pytest.mark.parametrize("name", TONIGHT)
@pytest.mark.parametrize("minutes", [720, 1080], ids=["12:00", "18:00"])
def test_on_an_unseen_year_it_is_no_worse_than_the_naive_ratio(name: str, minutes: int) -> None:
    ours, theirs = [], []
    for seed in SEEDS:
        tonight, last_year = pair(name, seed)
        result = forecast(tonight.minutes[:minutes], tonight.before_cents, 0,
                          [PastDay(last_year.minutes, last_year.before_cents)])
        assert isinstance(result, Forecast)
        final = tonight.final_cents
        ours.append(abs(result.final_cents - final) / final)
        theirs.append(abs(naive(tonight, last_year, minutes) - final) / final)
    assert statistics.fmean(ours) <= statistics.fmean(theirs), (
        f"ours {statistics.fmean(ours):.1%} vs naive {statistics.fmean(theirs):.1%}")


@pytest.mark.parametrize("name", TONIGHT)
@pytest.mark.parametrize("minutes", [720, 1080], ids=["12:00", "18:00"])
def test_on_an_unseen_year_the_80_percent_interval_holds_the_final_most_days(
        name: str, minutes: int) -> None:
    held = 0
    for seed in SEEDS:
        tonight, last_year = pair(name, seed)
        result = forecast(tonight.minutes[:minutes], tonight.before_cents, 0,
                          [PastDay(last_year.minutes, last_year.before_cents)])
        assert isinstance(result, Forecast)
        held += result.low_cents <= tonight.final_cents <= result.high_cents
    assert held >= len(SEEDS) // 2, f"held {held}/{len(SEEDS)}"


@pytest.mark.parametrize("seed", range(4))
def test_the_interval_does_not_collapse_at_eight_when_the_forecast_stands_still(
        seed: int) -> None:
    """How unlike last year tonight's shape has been widens the interval until 07:59 and not at
    all from 08:00 (LAMBDA_LAST_YEAR): one minute later, the same forecast, an interval a
    fraction as wide that no longer holds the final."""
    tonight, last_year = pair("sharp-surge-quiet-night-late-evening", seed)
    past = [PastDay(last_year.minutes, last_year.before_cents)]
    before, after = (forecast(tonight.minutes[:minutes], tonight.before_cents, 0, past)
                     for minutes in (479, 480))
    assert isinstance(before, Forecast) and isinstance(after, Forecast)
    assert abs(after.final_cents / before.final_cents - 1) < 0.01
    width = after.high_cents - after.low_cents, before.high_cents - before.low_cents
    assert width[0] >= 0.7 * width[1], f"{width[0] / width[1]:.0%} of the width a minute before"
