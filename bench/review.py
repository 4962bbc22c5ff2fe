"""The review on a full festival day: the rollups' one-time build, then every kind of question the
review asks — any range x per second/minute/hour x any dimension, compared with the previous
range or last year — timed as `/review` answers it (the chart, its comparison line and the
report: what changed, incidents, milestones, peak, device split), and minute-level exports.

The day is the one `bench/full_day.py` leaves in bench-data/full-day (make it again with
`python -m bench.full_day`). Last year is the same day read as last year's (its rollups are
built and cached on their own, as another night's would be)."""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import time
from collections import defaultdict
from pathlib import Path

from bench.publish import machine
from dashboard.data.history import History
from dashboard.data.report import Night, Span, build_report
from dashboard.data.review import (
    CHART_VALUES,
    ReviewQuery,
    answer,
    chart_series,
    export_answer,
    to_csv,
)
from dashboard.data.rollups import CACHE_DIR
from ingest.detect.keeper import read_alerts
from ingest.history import read_manifest

LENGTHS_S = {"1 min": 60, "10 min": 600, "1 h": 3600, "6 h": 6 * 3600, "24 h": 86_400}
DIMENSIONS = (None, "device", "category", "region", "payment", "merchant")
GOAL_P95_S, GOAL_EXPORT_S = 1.0, 2.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("bench-data/full-day"))
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--cold", action="store_true", help="drop the rollups first and time "
                                                             "their build")
    args = parser.parse_args()
    if not (args.data / "history" / "manifest.json").exists():
        raise SystemExit(f"bench/review: no history in {args.data}: run python -m bench.full_day")
    tonight_history = History(args.data)
    last_year_history = History(args.data, cache_root=args.data / "last-year-cache")
    if args.cold:
        shutil.rmtree(args.data / CACHE_DIR, ignore_errors=True)
        shutil.rmtree(args.data / "last-year-cache", ignore_errors=True)
    bounds = tonight_history.bounds_ms()
    assert bounds is not None
    orders = sum(f.rows for f in read_manifest(args.data) if f.kind == "orders")
    print(f"machine: {machine()}\nday: {args.data}, {orders:,} orders, "
          f"{len(tonight_history.parts())} files", flush=True)

    started = time.monotonic()
    tonight_history.rollups.files(tonight_history.parts())
    built = time.monotonic() - started
    last_year_history.rollups.files(last_year_history.parts())
    size = sum(f.stat().st_size for f in (args.data / CACHE_DIR).rglob("*.parquet"))
    print(f"rollups: {'built' if args.cold else 'ready'} in {built:,.1f} s "
          f"({orders / max(built, 1e-9) / 1e6:,.1f} M orders/s), {size / 2**20:,.0f} MiB", flush=True)

    midnight = tonight_history.festival_midnight_ms()
    assert midnight is not None
    tonight = Night(tonight_history.rollups, midnight)
    last_year = Night(last_year_history.rollups, midnight)
    alerts = read_alerts(args.data)
    rng = random.Random(args.seed)
    timings: dict[str, list[float]] = defaultdict(list)
    every: list[float] = []
    reports: list[float] = []
    pages: list[float] = []
    print(f"{args.questions} questions, each as /review answers it: the query (the chart's "
          "answer and its comparison line), then the report beside it (what changed, incidents, "
          "milestones, peak, device split)", flush=True)
    for n in range(args.questions):
        length_name = rng.choice(list(LENGTHS_S))
        length_ms = LENGTHS_S[length_name] * 1000
        start = midnight + rng.randrange(0, max(86_400_000 - length_ms, 1), 1000)
        fits = [r for r, b in (("second", 1), ("minute", 60), ("hour", 3600))
                if length_ms / 1000 / b <= 20_000 and length_ms / 1000 >= b]
        resolution = rng.choice(fits)
        dimension = rng.choice(DIMENSIONS)
        if dimension == "merchant" and resolution == "second" and length_ms > 3_600_000:
            resolution = "minute"
        compare = rng.choice(("previous", "last-year"))
        query = ReviewQuery(start, start + length_ms, resolution, dimension)
        began = time.perf_counter()
        chart_series(tonight_history.series(query.start_ms, query.end_ms, query.bucket_s,
                                            query.dimension, top=CHART_VALUES), "gmv")
        shifted = query.shifted(-length_ms) if compare == "previous" else query
        answer(tonight_history if compare == "previous" else last_year_history, shifted)
        answered = time.perf_counter()
        build_report(Span(query.start_ms, query.end_ms), compare, tonight, last_year, alerts)
        reported = time.perf_counter()
        took = answered - began
        every.append(took)
        reports.append(reported - answered)
        pages.append(reported - began)
        timings[f"{length_name} per {resolution}"].append(took)
        timings[f"by {dimension or 'all'}"].append(took)
        if (n + 1) % 50 == 0:
            print(f"  {n + 1}/{args.questions}: p95 so far {percentile(every, 0.95):.3f} s",
                  flush=True)
    print(f"\n{'queries':<26}{'n':>5}{'p50':>9}{'p95':>9}{'max':>9}")
    for name in sorted(timings, key=lambda k: (k.startswith("by"), k)):
        values = timings[name]
        print(f"{name:<26}{len(values):>5}{statistics.median(values):>8.3f}s"
              f"{percentile(values, 0.95):>8.3f}s{max(values):>8.3f}s")
    p95 = percentile(every, 0.95)
    print(f"{'all':<26}{len(every):>5}{statistics.median(every):>8.3f}s{p95:>8.3f}s"
          f"{max(every):>8.3f}s   (goal p95 < {GOAL_P95_S:.0f} s: "
          f"{'met' if p95 < GOAL_P95_S else 'NOT met'})")
    for name, values in (("report", reports), ("page (query + report)", pages)):
        print(f"{name:<26}{len(values):>5}{statistics.median(values):>8.3f}s"
              f"{percentile(values, 0.95):>8.3f}s{max(values):>8.3f}s")

    print("\nminute-level exports of the whole day (CSV, as the page writes them)")
    for dimension in (None, "device", "region", "category", "payment", "merchant"):
        query = ReviewQuery(midnight, midnight + 86_400_000, "minute", dimension)
        began = time.perf_counter()
        try:
            rows = len(to_csv(export_answer(tonight_history, query)).splitlines()) - 1
            outcome = f"{rows:,} rows"
        except ValueError as err:
            outcome = f"refused: {err}"
        took = time.perf_counter() - began
        print(f"  {dimension or 'all':<10}{took:>7.3f} s  {outcome}"
              f"{'' if took < GOAL_EXPORT_S else '  (goal < 2 s: NOT met)'}", flush=True)


if __name__ == "__main__":
    main()
