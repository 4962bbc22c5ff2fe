"""The pipeline's capacity as the headroom reads it: the night's best measurement, never one
taken at a trickle (where a commit's fixed cost hides what the worker could do)."""

from __future__ import annotations

import time

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


def test_the_capacity_a_summary_is_written_with_is_the_one_read_a_moment_later() -> None:
    """Issue #24: `gmv summary` (the summary written after a commit) and the /ops tile (the
    heartbeats after it) showed two capacities: reading the figures moved the night's best as
    the rate window slid, after the summary was written."""
    from dashboard.pipeline import capacity_eps
    from ingest.summary import capacity_of

    window_s = 1.0
    clock = [100.0]
    meter = RateMeter(window_s=window_s, clock=lambda: clock[0])
    meter.record(events=2_000, busy_s=1.0)  # a slow commit: 2,000/s by its working time
    clock[0] += window_s / 2  # the next commit, half a window on
    meter.record(events=50_000, busy_s=0.01)  # a fast one
    written = capacity_of(meter.figures())  # the summary, at the commit
    clock[0] += window_s / 2 + 0.01  # the slow commit leaves the rate's window
    now = meter.figures()  # a heartbeat, while the fast commit is still in the window
    assert now["ingest_eps"] == round(50_000 / window_s), now
    assert capacity_eps(now) == written["capacity_eps"]  # what /ops shows


def test_the_capacity_says_how_its_own_figure_was_measured() -> None:
    """The best was measured by working time; a later, slower flat-out stretch does not lend it
    its basis ('measured flat out' beside a working-time figure)."""
    from ingest.summary import capacity_of

    meter = RateMeter(window_s=10)
    meter.started -= 10
    meter.record(events=40_000, busy_s=0.5)  # 80,000/s by working time
    meter.backlog(full=True, events=0)
    meter._backlog = (time.monotonic() - 2.5, 0)  # reads came back full for 2.5 s ...
    meter.backlog(full=True, events=50_000)  # ... at 20,000/s
    figures = meter.figures()
    assert (figures["capacity_eps"], figures["capacity_basis"]) == (20_000, "flat_out")
    assert capacity_of(figures) == {"capacity_eps": 80_000, "capacity_basis": "working_time"}
