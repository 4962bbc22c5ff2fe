"""The day's forecast on simulated festival days (rehearsal.days): it reads only the minutes that
are over, says so rather than guess before 00:05, is wide early and narrow late, lands near the
final as the day goes, and an incident tonight or last year does not drag it."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

import numpy as np
import pytest

from common.settings import load_settings
from ingest.contract import format_cents
from ingest.forecast import (
    METHOD_FINAL,
    METHOD_LAST_YEAR,
    METHOD_PROFILE,
    Forecast,
    NotYet,
    PastDay,
    Prior,
    forecast,
    prior_of,
)
from ingest.live_forecast import LiveForecast
from ingest.live_state import LiveState
from rehearsal.days import Outage, SimulatedDay, simulate_day, varied_shape
from rehearsal.families import FAMILIES

MIDNIGHT = 1_794_326_400_000  # 2026-11-11 00:00 Beijing


def day(seed: int, outages: tuple[Outage, ...] = ()) -> SimulatedDay:
    rng = np.random.default_rng([seed, 7])
    return simulate_day(varied_shape(rng), int(rng.integers(2_000, 20_000)), seed,
                        outages=outages)


def at(night: SimulatedDay, minutes: int, last_year: SimulatedDay | None = None) -> Forecast:
    past = [PastDay(last_year.minutes, last_year.before_cents)] if last_year else []
    result = forecast(night.minutes[:minutes], night.before_cents, MIDNIGHT, past)
    assert isinstance(result, Forecast), result
    return result


def test_before_five_minutes_it_says_there_is_not_enough_data() -> None:
    night = day(1)
    for minutes in (0, 1, 4):
        result = forecast(night.minutes[:minutes], night.before_cents, MIDNIGHT)
        assert isinstance(result, NotYet)
        document = result.to_json()
        assert document["status"] == "not_enough_data" and document["final_gmv"] is None
        assert "5 minutes" in document["message"]
    assert isinstance(forecast(night.minutes[:5], night.before_cents, MIDNIGHT), Forecast)
    silent = forecast(np.zeros(30, dtype=np.int64), 0, MIDNIGHT)
    assert isinstance(silent, NotYet)


def test_money_is_exact_decimal_strings_and_the_interval_holds_the_forecast() -> None:
    result = at(day(2), 60)
    document = result.to_json()
    assert document["as_of"] == "2026-11-11T01:00:00.000+08:00"
    for key in ("final_gmv", "low", "high", "so_far"):
        assert document[key] == format_cents(document[f"{key}_cents"] if key != "so_far" else
                                             result.so_far_cents)
        assert document[key].count(".") == 1 and len(document[key].split(".")[1]) == 2
    assert result.so_far_cents < result.low_cents < result.final_cents < result.high_cents
    assert document["method"] == METHOD_PROFILE


def test_the_future_is_never_read() -> None:
    night = day(3)
    seen = at(night, 300)
    changed = replace(night, minutes=np.concatenate([night.minutes[:300],
                                                     night.minutes[300:] * 5]))
    assert at(changed, 300) == seen


def test_the_live_forecast_leaves_out_the_minute_under_way() -> None:
    state = LiveState()
    for minute in range(12):
        second = MIDNIGHT // 1000 + minute * 60
        state.minutes[second // 60] = [1_000, 5_000_000_00]
        state.latest = second
    keeper = LiveForecast(load_settings(env={}))  # the festival day 2026-11-11, no last year
    first = keeper.update(state)
    state.minutes[state.latest // 60] = [9_000_000, 9_000_000_000_00]  # the minute under way
    state.gmv_cents += 1  # the state moved on: recomputed, not reused
    assert keeper.update(state)["final_gmv"] == first["final_gmv"]
    assert first["as_of"] == "2026-11-11T00:11:00.000+08:00"


def test_wide_at_midnight_narrow_by_evening_and_exact_at_the_end() -> None:
    night = day(4)
    widths = [(f.high_cents - f.low_cents) / f.final_cents
              for f in (at(night, m) for m in (10, 360, 720, 1080, 1430))]
    assert widths == sorted(widths, reverse=True)
    assert widths[0] > 0.2 and widths[-1] < 0.02
    final = at(night, 1440)
    assert final.method == METHOD_FINAL
    assert final.final_cents == final.low_cents == final.high_cents == night.final_cents


def test_it_lands_near_the_final_and_the_interval_mostly_holds_it() -> None:
    nights = [day(seed) for seed in range(10, 30)]
    for minutes, worst_mean_error in ((10, 0.25), (720, 0.06), (1080, 0.04)):
        errors = [abs(at(n, minutes).final_cents - n.final_cents) / n.final_cents for n in nights]
        held = sum(at(n, minutes).low_cents <= n.final_cents <= at(n, minutes).high_cents
                   for n in nights)
        assert statistics.fmean(errors) < worst_mean_error, minutes
        assert held >= 12, minutes  # 80 % intervals: 16 of 20 expected


def test_last_year_whole_is_the_reference_a_partial_one_is_not() -> None:
    rng = np.random.default_rng(5)
    shape = varied_shape(rng)
    last_year = simulate_day(shape, 5_000, 50)
    tonight = simulate_day(varied_shape(rng, shape, spread=0.5), 7_000, 51)
    assert at(tonight, 60, last_year).method == METHOD_LAST_YEAR
    partial = replace(last_year, minutes=np.concatenate([last_year.minutes[:20],
                                                         np.zeros(1420, dtype=np.int64)]))
    assert at(tonight, 60, partial).method == METHOD_PROFILE


@pytest.mark.parametrize("minutes", [120, 720])
def test_an_outage_tonight_costs_what_it_lost_not_the_rest_of_the_day(minutes: int) -> None:
    outage = Outage(start_minute=minutes - 40, minutes=30, kept=0.3)
    clean, hit = day(6), day(6, (outage,))
    lost = clean.minutes[:minutes].sum() - hit.minutes[:minutes].sum()
    naive_drop = lost / clean.minutes[:minutes].sum() * (at(clean, minutes).final_cents
                                                        - clean.before_cents)
    drop = at(clean, minutes).final_cents - at(hit, minutes).final_cents
    # The forecast drops by about what was lost, far less than scaling the loss to the day would.
    assert abs(drop - lost) < 0.25 * naive_drop


def family_day(family: str, seed: int, peak: int) -> SimulatedDay:
    rng = np.random.default_rng([seed, 11])
    return simulate_day(FAMILIES[family].draw(rng), peak, seed)


def past(*days: SimulatedDay) -> list[PastDay]:
    return [PastDay(d.minutes, d.before_cents) for d in days]


def test_a_past_year_shaped_like_tonight_outweighs_one_that_is_not() -> None:
    """Last year of another family's shape, the year before of tonight's very shape: read
    against both, tonight's own hours (the backtest) give the year before the say: the
    forecast lands nearer the final than against last year alone, and nearer what the year
    before alone says than halfway between the two, on most such days."""
    nearer, leaning = 0, 0
    for seed in range(8):
        rng = np.random.default_rng([seed, 12])
        shape = FAMILIES["late-evening"].draw(rng)
        tonight = simulate_day(shape, 9_000, 100 + seed)
        year_before = simulate_day(shape, 5_000, 300 + seed)
        last_year = family_day("sharp-surge", 200 + seed, 7_000)
        for minutes in (720, 1080):
            said = {}
            for name, days in (("last year", past(last_year)), ("both", past(last_year,
                                                                                year_before)),
                               ("year before", past(year_before))):
                result = forecast(tonight.minutes[:minutes], tonight.before_cents, MIDNIGHT, days)
                assert isinstance(result, Forecast)
                said[name] = result.final_cents
            nearer += abs(said["both"] - tonight.final_cents) < \
                abs(said["last year"] - tonight.final_cents)
            halfway = (said["last year"] + said["year before"]) / 2
            leaning += abs(said["both"] - said["year before"]) < \
                abs(halfway - said["year before"])
    assert nearer >= 12 and leaning >= 12, (nearer, leaning)  # of 16


def test_the_interval_widens_when_last_year_was_shaped_otherwise() -> None:
    widths = {}
    for family in ("sharp-surge", "slow-decay"):
        ratios = []
        for seed in range(6):
            tonight = family_day("sharp-surge", 400 + seed, 9_000)
            last_year = family_day(family, 500 + seed, 7_000)
            result = forecast(tonight.minutes[:150], tonight.before_cents, MIDNIGHT,
                              past(last_year))
            assert isinstance(result, Forecast)
            ratios.append(result.high_cents / result.low_cents)
        widths[family] = statistics.fmean(ratios)
    assert widths["slow-decay"] > 1.3 * widths["sharp-surge"], widths


def test_a_prior_leads_at_midnight_and_fades_by_evening() -> None:
    night = day(40)
    right = Prior(night.final_cents, 0.1)
    early = at(night, 10)
    led = forecast(night.minutes[:10], night.before_cents, MIDNIGHT, prior=right)
    assert isinstance(led, Forecast)
    assert abs(led.final_cents - night.final_cents) < abs(early.final_cents - night.final_cents)
    assert led.high_cents - led.low_cents < early.high_cents - early.low_cents

    def pulled_by(prior: Prior, minutes: int) -> float:
        """How far toward the prior it moved the forecast: 0 none of the way, 1 all of it."""
        alone = at(night, minutes)
        leaning = forecast(night.minutes[:minutes], night.before_cents, MIDNIGHT, prior=prior)
        assert isinstance(leaning, Forecast)
        return math.log(leaning.final_cents / alone.final_cents) / \
            math.log(prior.final_cents / alone.final_cents)

    wrong = Prior(round(night.final_cents * 1.3), 0.1)
    assert pulled_by(wrong, 10) > 0.5
    assert pulled_by(wrong, 10) > pulled_by(wrong, 720) > pulled_by(wrong, 1320)
    assert pulled_by(wrong, 1320) < 0.25
    passed = Prior(night.before_cents, 0.1)  # already exceeded: says nothing more
    assert forecast(night.minutes[:600], night.before_cents, MIDNIGHT, prior=passed) == at(night,
                                                                                          600)


def test_past_days_not_whole_or_silent_at_midnight_are_left_out() -> None:
    night, last_year = day(41), day(42)
    silent = replace(last_year, minutes=np.concatenate([np.zeros(5, dtype=np.int64),
                                                        last_year.minutes[5:]]))
    partial = replace(last_year, minutes=last_year.minutes[:600])
    alone = forecast(night.minutes[:300], night.before_cents, MIDNIGHT, past(last_year))
    assert forecast(night.minutes[:300], night.before_cents, MIDNIGHT,
                    past(silent, last_year, partial)) == alone
    assert forecast(night.minutes[:300], night.before_cents, MIDNIGHT,
                    past(silent, partial)) == at(night, 300)


@pytest.mark.parametrize("value", ["abc", "-5", "1.234", "NaN", "Infinity", "1e400", "0", "1_000", "1e3",
                                   "\uff11\uff10\uff10\uff10", "+5", ".5", "5."])
def test_a_prior_that_is_no_amount_is_one_clear_error(value: str) -> None:
    with pytest.raises(ValueError, match="GMV_FORECAST_PRIOR=.* is not an amount in yuan"):
        load_settings(env={"GMV_FORECAST_PRIOR": value})


def test_a_prior_setting_is_read_exactly() -> None:
    settings = load_settings(env={"GMV_FORECAST_PRIOR": "98000000000.10",
                                  "GMV_FORECAST_PRIOR_SPREAD_PCT": "20"})
    assert prior_of(settings) == Prior(9_800_000_000_010, 0.2)
    assert prior_of(load_settings(env={})) is None
