"""The worker's picture of the night: milestones, the per-minute night, the top of each dimension."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingest.live_state import MAX_VALUES, NIGHT_MINUTES, OTHER, LiveState
from tests.conftest import MIDNIGHT_MS

MIDNIGHT_S = MIDNIGHT_MS // 1000


def deltas(rows: list[tuple[int, str, str, int, int]]) -> pa.Table:
    second, dimension, value, gmv, orders = zip(*rows, strict=True)
    return pa.table({"second": second, "dimension": dimension, "value": value, "gmv_cents": gmv,
                     "orders": orders})


def test_a_milestone_is_the_second_whose_orders_crossed_it() -> None:
    state = LiveState()
    state.add(deltas([(MIDNIGHT_S + 1, "all", "all", 60_000_000, 3),
                      (MIDNIGHT_S + 5, "all", "all", 50_000_000, 2),
                      (MIDNIGHT_S + 9, "all", "all", 900_000_000, 9)]), 0, 0)
    assert state.milestones() == [(1_000_000, MIDNIGHT_S + 5), (10_000_000, MIDNIGHT_S + 9)]


def test_a_late_order_moves_a_milestone_earlier() -> None:
    state = LiveState()
    state.add(deltas([(MIDNIGHT_S + 9, "all", "all", 100_000_000, 1)]), 0, 0)
    state.add(deltas([(MIDNIGHT_S + 2, "all", "all", 100_000_000, 1)]), 0, 0)
    assert state.milestones()[0] == (1_000_000, MIDNIGHT_S + 2)


def test_a_stray_old_event_cannot_stretch_the_night() -> None:
    state = LiveState()
    state.add(deltas([(MIDNIGHT_S - 86_400 * 300, "all", "all", 500, 1),
                      (MIDNIGHT_S + 60, "all", "all", 700, 2)]), 0, 0)
    orders_before, gmv_before, minutes = state.night_minutes()
    assert (orders_before, gmv_before) == (1, 500)
    assert minutes == range(MIDNIGHT_S // 60 + 1, MIDNIGHT_S // 60 + 2)
    assert (state.orders, state.gmv_cents) == (3, 1200)  # it still counts


def test_a_night_longer_than_a_day_shows_its_last_day() -> None:
    state = LiveState()
    state.add(deltas([(MIDNIGHT_S + 60 * m, "all", "all", 100, 1) for m in range(0, 2000, 10)]),
              0, 0)
    _, _, minutes = state.night_minutes()
    assert len(minutes) == NIGHT_MINUTES and minutes[-1] == MIDNIGHT_S // 60 + 1990


def test_a_spray_of_seconds_and_values_cannot_grow_the_state_without_limit() -> None:
    state = LiveState(horizon_s=3600)
    rng = np.random.default_rng(3)
    seconds = MIDNIGHT_S + rng.integers(-86_400 * 365, 600, 50_000)
    state.add(deltas([(int(s), "all", "all", 100, 1) for s in seconds]
                     + [(MIDNIGHT_S, "region", f"r{i}", 100, 1) for i in range(5_000)]), 0, 0)
    assert len(state.seconds) <= 3600 and len(state.minutes) <= 61
    assert len(state.totals["region"]) == MAX_VALUES + 1  # the rest fold into "(other)"
    assert state.totals["region"][OTHER][0] == 5_000 - MAX_VALUES
    assert (state.orders, state.gmv_cents) == (50_000, 5_000_000)  # every order still counts


def test_the_peak_is_kept_when_its_second_falls_behind_the_horizon() -> None:
    state = LiveState(horizon_s=60)
    state.add(deltas([(MIDNIGHT_S, "all", "all", 100, 9)]), 0, 0)
    state.add(deltas([(MIDNIGHT_S + 600, "all", "all", 100, 2)]), 0, 0)
    assert MIDNIGHT_S not in state.seconds
    assert (state.peak_ops, state.peak_second) == (9, MIDNIGHT_S)
    behind = state.add(deltas([(MIDNIGHT_S + 1, "all", "all", 100, 3)]), 0, 0)
    assert behind == [MIDNIGHT_S + 1]  # its total is the store's to say
    state.late_behind(MIDNIGHT_S + 1, 12)
    assert (state.peak_ops, state.peak_second) == (12, MIDNIGHT_S + 1)


def test_the_clock_never_runs_ahead_of_the_arrivals() -> None:
    state = LiveState()
    state.add(deltas([(MIDNIGHT_S + 240, "all", "all", 100, 1)]), 0, 0,
              clock_cap_s=MIDNIGHT_S + 10)
    assert state.latest_second() == MIDNIGHT_S + 10


def test_top_values_by_gmv() -> None:
    state = LiveState()
    state.add(deltas([(MIDNIGHT_S, "region", "ZJ", 500, 1), (MIDNIGHT_S, "region", "GD", 900, 2),
                      (MIDNIGHT_S, "region", "ZJ", 500, 1)]), 0, 0)
    assert state.top("region", 1) == [("ZJ", 2, 1000)]
    state.top_merchants = [("m1", 1, 10), ("m2", 5, 3)]  # the store's, exact
    assert state.top("merchant", 1) == [("m1", 1, 10)]


def random_windows(seed: int, seconds: int, values: int) -> pa.Table:
    """The store's windows as a restart reads them: a row per second of 'all', and per second
    and value of each dimension (some seconds missing, some far behind a short horizon)."""
    rng = np.random.default_rng(seed)
    rows = []
    for second in MIDNIGHT_S + np.sort(rng.choice(4 * seconds, seconds, replace=False)):
        by_device = {d: int(rng.integers(0, 50)) for d in ("pc", "mobile", "pad", "other")}
        orders = sum(by_device.values())
        gmv = int(rng.integers(1, 10**9)) * orders
        rows.append((int(second), "all", "all", gmv, orders))
        rows += [(int(second), "device", d, gmv // max(orders, 1) * n, n)
                 for d, n in by_device.items() if n]
        for dimension in ("category", "region", "payment"):
            for value in rng.choice(values, 3, replace=False):
                rows.append((int(second), dimension, f"{dimension}-{value}",
                             int(rng.integers(1, 10**8)), int(rng.integers(1, 9))))
    return deltas(rows)


def picture(state: LiveState) -> dict:
    return {"totals": (state.orders, state.gmv_cents, state.rejected, state.duplicates),
            "peak": (state.peak_ops, state.peak_second), "latest": state.latest,
            "before": state.before, "seconds": state.seconds, "minutes": state.minutes,
            "dimensions": {d: dict(v) for d, v in state.totals.items()},
            "recent": {s: dict(v) for s, v in state.recent_devices.items()},
            "minute_devices": {m: dict(v) for m, v in state.minute_devices.items()},
            "night": state.night_minutes(), "milestones": state.milestones(),
            "shares": state.device_shares_now(), "top": state.top("region", 5)}


def test_a_restarts_seed_is_what_adding_the_same_windows_makes() -> None:
    for seed, horizon_s, cap in ((1, 48 * 3600, None), (2, 600, None), (3, 300, 30),
                                 (4, 48 * 3600, 10**12)):
        windows = random_windows(seed, 400, 40)
        added, seeded = LiveState(horizon_s=horizon_s), LiveState(horizon_s=horizon_s)
        cap_s = None if cap is None else MIDNIGHT_S + cap
        added.add(windows, 7, 11, clock_cap_s=cap_s)
        seeded.seed(windows.take(np.random.default_rng(seed).permutation(windows.num_rows)),
                    7, 11, clock_cap_s=cap_s)
        assert picture(seeded) == picture(added), seed


def test_a_seed_folds_the_values_with_least_gmv_beyond_the_limit() -> None:
    rows = [(MIDNIGHT_S, "all", "all", 10**6, MAX_VALUES + 5)]
    rows += [(MIDNIGHT_S, "region", f"r{i:05d}", 100 + i, 1) for i in range(MAX_VALUES + 5)]
    state = LiveState()
    state.seed(deltas(rows), 0, 0)
    regions = state.totals["region"]
    assert len(regions) == MAX_VALUES + 1
    assert regions[OTHER] == [5, sum(100 + i for i in range(5))]
    assert "r00000" not in regions and f"r{MAX_VALUES + 4:05d}" in regions


def test_a_seed_of_no_windows_keeps_the_counters() -> None:
    state = LiveState()
    state.seed(deltas([(MIDNIGHT_S, "all", "all", 1, 1)]).slice(0, 0), 3, 4)
    assert (state.orders, state.rejected, state.duplicates, state.latest) == (0, 3, 4, None)
