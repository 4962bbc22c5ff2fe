"""The forecast on simulated festival days, beside the naive peer.

Each day has its own seed, size (peak orders/s 2,000-60,000), shape (`rehearsal.days`: the
parts' sizes and timings drawn around the profile), hour-long swings and, on most days, an
incident or two (5-40 minutes with 20-80 % of the orders lost); half of them have last year
loaded (a day of its own, with its own incidents, whose shape tonight's drifts from, a sixth to
three eighths smaller). At each checkpoint both forecasts see only the complete minutes before
it:

- ours: `ingest.forecast.forecast` (tonight's level against the reference, whole-night and
  recent, incidents set aside);
- the naive peer: tonight so far / the share of last year's day done by the same minute, or the
  festival-day profile's share where there is no last year.

Prints, per checkpoint, each one's absolute percentage error (mean and median over the days),
on how many days ours was closer, and how often our 80 % interval held the final.

    python -m bench.forecast [--days 40] [--seed 1]
    python -m bench.forecast --calibrate --days 200 --seed 1000   # the tables of ingest/forecast.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

from ingest import forecast as forecasting
from ingest.forecast import Forecast, forecast, profile_minutes
from rehearsal.days import SimulatedDay, drawn_outages, simulate_day, varied_shape

CHECKPOINTS = (("00:10", 10), ("01:00", 60), ("06:00", 360), ("12:00", 720), ("18:00", 1080))
MIDNIGHT_MS = 0


@dataclass(frozen=True)
class Night:
    seed: int
    tonight: SimulatedDay
    last_year: SimulatedDay | None


def nights(count: int, first_seed: int) -> list[Night]:
    made = []
    for seed in range(first_seed, first_seed + count):
        rng = np.random.default_rng([seed, 0xF0C])
        peak = int(np.exp(rng.uniform(np.log(2_000), np.log(60_000))))
        if seed % 2 == 0:
            before = varied_shape(rng)
            growth = float(rng.uniform(1.2, 1.6))
            last_year = simulate_day(before, int(peak / growth), seed * 7 + 1,
                                     outages=drawn_outages(rng))
            tonight = simulate_day(varied_shape(rng, before, spread=0.6), peak, seed * 7,
                                   outages=drawn_outages(rng))
            made.append(Night(seed, tonight, last_year))
        else:
            made.append(Night(seed, simulate_day(varied_shape(rng), peak, seed * 7,
                                                 outages=drawn_outages(rng)), None))
    return made


def naive(night: Night, minutes: int) -> int:
    day = night.tonight.minutes[:minutes]
    if night.last_year is not None:
        last = night.last_year
        share = (last.before_cents + last.minutes[:minutes].sum()) / last.final_cents
        return round((night.tonight.before_cents + day.sum()) / share)
    profile = profile_minutes()
    share = profile[:minutes].sum() / profile.sum()
    return night.tonight.before_cents + round(day.sum() / share)


def ours(night: Night, minutes: int) -> Forecast:
    last = night.last_year
    result = forecast(night.tonight.minutes[:minutes], night.tonight.before_cents, MIDNIGHT_MS,
                      last.minutes if last else None, last.before_cents if last else None)
    assert isinstance(result, Forecast), result
    return result


def ape(guess: int, final: int) -> float:
    return abs(guess - final) / final * 100


WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _print_table(name: str, values: list[float], note: str) -> None:
    print(f"{name} = (  # {note}")
    for row in range(0, 24, 6):
        print("    " + " ".join(f"{v:.4g}," for v in values[row:row + 6]))
    print(")")


def calibrate(made: list[Night]) -> None:
    """The forecast's two tables, by hour, with last year and with the profile: how much the
    recent level counts (the weight of the grid with the least mean APE at minutes 15 and 45),
    then the interval's spread with those weights (the 80th percentile of |log(actual rest of the
    day / forecast rest)| at minutes 5, 20, 35, 50, over Z80). Printed for ingest/forecast.py."""
    for has_last_year, suffix in ((True, "LAST_YEAR"), (False, "PROFILE")):
        days = [n for n in made if (n.last_year is not None) == has_last_year]
        table = f"RECENT_WEIGHT_{suffix}"
        weights = []
        for hour in range(24):
            errors = {}
            for weight in WEIGHTS:
                setattr(forecasting, table, (weight,) * 24)
                errors[weight] = statistics.fmean(
                    ape(ours(n, m).final_cents, n.tonight.final_cents)
                    for m in (hour * 60 + 15, hour * 60 + 45) for n in days)
            weights.append(min(WEIGHTS, key=lambda w: (errors[w], w)))
            print(f"  {suffix.lower()} {hour:02d}:00 weight {weights[-1]}", file=sys.stderr)
        setattr(forecasting, table, tuple(weights))
        spreads = []
        for hour in range(24):
            errors = []
            for minutes in (hour * 60 + m for m in (5, 20, 35, 50)):
                for night in days:
                    result = ours(night, minutes)
                    rest = night.tonight.final_cents - result.so_far_cents
                    errors.append(np.log(rest / (result.final_cents - result.so_far_cents)))
            # The spread that puts 80 % of these days' errors inside Z80 of it: the interval's
            # width as the days showed it (errors have heavier tails than a normal's).
            spreads.append(float(np.quantile(np.abs(errors), 0.8)) / forecasting.Z80)
        _print_table(table, weights, f"{len(days)} days")
        _print_table(f"SPREAD_{suffix}", spreads, f"{len(days)} days")


def table(made: list[Night]) -> None:
    print(f"{'at':>6} {'days':>12} | {'ours APE mean':>13} {'median':>7} | "
          f"{'naive APE mean':>14} {'median':>7} | {'ours closer':>11} | {'80% held':>8} | "
          f"{'width':>6}")
    groups = (("all", made), ("last year", [n for n in made if n.last_year is not None]),
              ("profile", [n for n in made if n.last_year is None]))
    held_total = 0
    for label, minutes in CHECKPOINTS:
        for group, days in groups:
            our_errors, naive_errors, held, closer, widths = [], [], 0, 0, []
            for night in days:
                final = night.tonight.final_cents
                result = ours(night, minutes)
                mine, theirs = ape(result.final_cents, final), ape(naive(night, minutes), final)
                our_errors.append(mine)
                naive_errors.append(theirs)
                closer += mine < theirs
                held += result.low_cents <= final <= result.high_cents
                widths.append((result.high_cents - result.low_cents) / result.final_cents * 100)
            held_total += held if group == "all" else 0
            print(f"{label if group == 'all' else '':>6} {f'{group} ({len(days)})':>12} | "
                  f"{statistics.fmean(our_errors):12.2f}% {statistics.median(our_errors):6.2f}% | "
                  f"{statistics.fmean(naive_errors):13.2f}% {statistics.median(naive_errors):6.2f}%"
                  f" | {closer:>5}/{len(days):<5} | {held / len(days):7.0%} | "
                  f"{statistics.fmean(widths):5.1f}%")
    cells = len(made) * len(CHECKPOINTS)
    print(f"the 80 % interval held the final on {held_total}/{cells} ({held_total / cells:.0%}) "
          f"of day-checkpoints")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calibrate", action="store_true",
                        help="print the interval's spread table from these days (use seeds "
                             "other than the benchmark's: --seed 1000 --days 200)")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    started = time.perf_counter()
    print(f"simulating {args.days} festival days (seeds {args.seed}-{args.seed + args.days - 1})",
          file=sys.stderr, flush=True)
    made = nights(args.days, args.seed)
    with_last_year = sum(1 for n in made if n.last_year is not None)
    peaks = [n.tonight.peak_ops for n in made]
    print(f"{args.days} days (seeds {args.seed}-{args.seed + args.days - 1}), {with_last_year} "
          f"with last year loaded; peaks {min(peaks):,}-{max(peaks):,} orders/s; final GMV "
          f"¥{min(n.tonight.final_cents for n in made) / 1e10:.1f}-"
          f"{max(n.tonight.final_cents for n in made) / 1e10:.1f} 亿; simulated in "
          f"{time.perf_counter() - started:.1f} s")
    if args.calibrate:
        calibrate(made)
    else:
        table(made)
    print(f"{time.perf_counter() - started:.1f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
