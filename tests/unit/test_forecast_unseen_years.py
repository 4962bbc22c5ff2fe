"""The forecast on the outside attack's days (rehearsal/families.py ATTACK: a sharper surge, a
quiet night and daytime, the evening wave an hour later and much stronger, or a flash sale in
the afternoon), each against a last year shaped otherwise: the interval does not collapse when
the hour turns. How it fares against the naive ratio on them is measured by
`python -m bench.forecast --families attack` (BENCHMARKS.md): behind it at 12:00 and 18:00."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.forecast import Forecast, PastDay, forecast
from rehearsal.days import SimulatedDay, simulate_day
from rehearsal.families import ATTACK, ATTACK_LAST_YEAR

LAST_YEAR = ATTACK_LAST_YEAR.centre
TONIGHT = {family.name: family.centre for family in ATTACK}


def pair(name: str, seed: int) -> tuple[SimulatedDay, SimulatedDay]:
    rng = np.random.default_rng([seed, 77])
    peak = int(np.exp(rng.uniform(np.log(3000), np.log(50000))))
    last_year = simulate_day(LAST_YEAR, int(peak / rng.uniform(1.2, 1.6)), 5000 + seed)
    return simulate_day(TONIGHT[name], peak, 9000 + seed), last_year


@pytest.mark.parametrize("seed", range(4))
def test_the_interval_does_not_collapse_at_eight_when_the_forecast_stands_still(
        seed: int) -> None:
    """How unlike last year tonight's shape has been widens the interval early in the day and
    not later (LAMBDA_LAST_YEAR); the change is drawn across the hour around 08:00. It was a
    step: at 08:00 the same forecast as a minute before, an interval a quarter as wide that no
    longer held the final."""
    tonight, last_year = pair("sharp-surge-late-evening", seed)
    past = [PastDay(last_year.minutes, last_year.before_cents)]
    before, after = (forecast(tonight.minutes[:minutes], tonight.before_cents, 0, past)
                     for minutes in (479, 480))
    assert isinstance(before, Forecast) and isinstance(after, Forecast)
    assert abs(after.final_cents / before.final_cents - 1) < 0.01
    width = after.high_cents - after.low_cents, before.high_cents - before.low_cents
    assert width[0] >= 0.7 * width[1], f"{width[0] / width[1]:.0%} of the width a minute before"
