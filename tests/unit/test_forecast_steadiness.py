"""The forecast moves with the night, not with the clock: on an ordinary night (the simulator's
own family, last year of the same family) one minute more of steady orders moves it by a
fraction of a percent, at any hour; the hour tables (RECENT_PRIOR_LAST_YEAR: 0 until 06:59,
1000 from 07:00) are not allowed to move it on their own."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.forecast import Forecast, PastDay, forecast
from rehearsal.days import simulate_day
from rehearsal.families import FAMILIES


@pytest.mark.parametrize("seed", range(6))
def test_the_forecast_does_not_leap_when_the_hour_turns(seed: int) -> None:
    rng = np.random.default_rng([seed, 5])
    tonight = simulate_day(FAMILIES["classic"].draw(rng), 20_000, 100 + seed)
    last_year = simulate_day(FAMILIES["classic"].draw(rng), 15_000, 200 + seed)
    past = [PastDay(last_year.minutes, last_year.before_cents)]
    moves = {}
    for hour in range(1, 23):  # each minute from two before the hour to three after it
        finals = []
        for minutes in range(hour * 60 - 3, hour * 60 + 4):
            result = forecast(tonight.minutes[:minutes], tonight.before_cents, 0, past)
            assert isinstance(result, Forecast)
            finals.append(result.final_cents)
        for k in range(1, len(finals)):
            minutes = hour * 60 - 3 + k
            moves[f"{minutes // 60:02d}:{minutes % 60:02d}"] = \
                abs(finals[k] - finals[k - 1]) / tonight.final_cents
    worst = max(moves, key=moves.__getitem__)
    assert moves[worst] < 0.02, f"{moves[worst]:.1%} of the final in the minute to {worst}"
