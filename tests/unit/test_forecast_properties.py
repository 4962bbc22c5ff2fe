"""Whatever the minutes (zeros, spikes, up to 10^15 cents a minute), past days and prior, the
forecast is a Forecast or a NotYet, never an error: exact integer cents, so far <= low <= final
<= high."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.forecast import Forecast, NotYet, PastDay, Prior, forecast

CENTS = st.one_of(st.just(0), st.integers(1, 10_000_000), st.integers(0, 10**15))
PAST = st.builds(lambda minutes, before: PastDay(np.array(minutes, np.int64), before),
                 st.lists(CENTS, min_size=1370, max_size=1440),
                 st.one_of(st.none(), st.integers(0, 10**15)))
PRIOR = st.one_of(st.none(), st.builds(Prior, st.integers(1, 10**17), st.floats(0.01, 2.0)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.data_too_large])
@given(st.lists(CENTS, max_size=1440), st.integers(0, 10**15), st.lists(PAST, max_size=3), PRIOR)
def test_any_minutes_give_a_forecast_in_order_or_not_yet(
        minutes: list[int], before_cents: int, past: list[PastDay], prior: Prior | None) -> None:
    result = forecast(np.array(minutes, np.int64), before_cents, 0, past, prior)
    assert isinstance(result, Forecast | NotYet)
    if isinstance(result, Forecast):
        cents = (result.so_far_cents, result.low_cents, result.final_cents, result.high_cents)
        assert all(type(c) is int for c in cents)
        assert result.so_far_cents == before_cents + sum(minutes)
        assert cents == tuple(sorted(cents)), cents
