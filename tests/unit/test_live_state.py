"""The worker's picture of the night: milestones, the per-minute night, the top of each dimension."""

from __future__ import annotations

import pyarrow as pa

from ingest.live_state import NIGHT_MINUTES, LiveState
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
    assert len(minutes) == NIGHT_MINUTES and minutes[-1] == MIDNIGHT_S // 60 + 1


def test_top_values_by_gmv() -> None:
    state = LiveState()
    state.add(deltas([(MIDNIGHT_S, "region", "ZJ", 500, 1), (MIDNIGHT_S, "region", "GD", 900, 2),
                      (MIDNIGHT_S, "region", "ZJ", 500, 1)]), 0, 0)
    assert state.top("region", 1) == [("ZJ", 2, 1000)]
    state.add_merchants(pa.table({"merchant_id": ["m1", "m2"], "orders": [1, 5],
                                  "gmv_cents": [10, 3]}))
    assert state.top("merchant", 2) == [("m1", 1, 10), ("m2", 5, 3)]
