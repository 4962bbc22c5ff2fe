"""The night's clock moves with the bulk of the orders, never with one stamped far from them."""

from __future__ import annotations

import numpy as np

from ingest.clock import clock_after

NIGHT_S = 1_794_326_400  # 2026-11-11 00:00 Beijing
NOW_S = NIGHT_S + 23 * 86_400  # a replay of it, three weeks later


def ms(seconds: list[int]) -> np.ndarray:
    return np.array(seconds, dtype=np.int64) * 1000


def test_one_order_stamped_now_in_a_replayed_night_leaves_the_clock_with_the_night() -> None:
    batch = [NIGHT_S + i // 100 for i in range(5_000)] + [NOW_S]
    assert clock_after(ms(batch), NOW_S, NOW_S + 1, None, None) == NIGHT_S + 49


def test_a_batch_spanning_an_hour_moves_the_clock_to_its_last_second() -> None:
    batch = list(range(NIGHT_S, NIGHT_S + 3_600))  # a replay at full speed: an hour in a batch
    assert clock_after(ms(batch), NOW_S, NOW_S, None, None) == NIGHT_S + 3_599


def test_a_live_trickle_moves_the_clock_second_by_second() -> None:
    assert clock_after(ms([NOW_S + 7]), NOW_S + 7, NOW_S + 7, NOW_S + 6, NOW_S + 6) == NOW_S + 7


def test_a_lone_stray_order_moves_the_clock_no_further_than_the_arrivals() -> None:
    clock = clock_after(ms([NOW_S]), NOW_S + 2, NOW_S + 2, NIGHT_S + 600, NOW_S)
    assert clock == NIGHT_S + 600 + 2 + 300


def test_no_orders_no_clock() -> None:
    assert clock_after(ms([]), NOW_S, NOW_S, NIGHT_S, NOW_S) is None
