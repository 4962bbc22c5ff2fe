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
    for hour in range(1, 23):
        turn = []
        for minutes in (hour * 60 - 1, hour * 60):
            result = forecast(tonight.minutes[:minutes], tonight.before_cents, 0, past)
            assert isinstance(result, Forecast)
            turn.append(result.final_cents)
        moves[f"{hour - 1:02d}:59-{hour:02d}:00"] = abs(turn[1] - turn[0]) / tonight.final_cents
    worst = max(moves, key=moves.__getitem__)
    assert moves[worst] < 0.02, f"{moves[worst]:.1%} of the final at {worst}"
