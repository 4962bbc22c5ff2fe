"""The pipeline's capacity as the headroom reads it: the night's best measurement, never one
taken at a trickle (where a commit's fixed cost hides what the worker could do)."""

from __future__ import annotations

from ingest.rate import RateMeter


def test_the_best_capacity_of_the_night_ignores_a_trickle() -> None:
    meter = RateMeter(window_s=10)
    meter.started -= 10  # ten seconds of counting: the window is full
    meter.record(events=40_000, busy_s=0.5)  # 4,000 events/s, busy 5 %: 80,000/s of capacity
    busy = meter.figures()
    assert busy["capacity_eps"] == busy["capacity_best_eps"] == 80_000
    meter._spans.clear()  # the busy seconds have left the window: a trickle now
    meter.record(events=200, busy_s=0.5)  # 20/s, each commit's fixed cost: "400/s"
    quiet = meter.figures()
    assert quiet["capacity_eps"] == 400
    assert quiet["capacity_best_eps"] == 80_000  # held from the busy seconds


def test_a_restarted_worker_keeps_the_nights_best() -> None:
    meter = RateMeter(window_s=10, best_eps=80_000)  # as the last run's summary kept it
    meter.started -= 10
    meter.record(events=200, busy_s=0.5)  # restarted at a trickle
    assert meter.figures()["capacity_best_eps"] == 80_000
