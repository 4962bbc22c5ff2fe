"""The combiner's rebuild feeds its state coarser deltas than the detectors get (the dimensions
the state keeps only as totals, summed by value): the state it builds is the same."""

from __future__ import annotations

import pyarrow as pa

from ingest.combine import _state_deltas
from ingest.live_state import LiveState
from ingest.windows import window_deltas


def orders(count: int) -> pa.Table:
    return pa.table({
        "ts_ms": [1_794_326_400_000 + i * 137 for i in range(count)],
        "amount_cents": [100 + i % 977 for i in range(count)],
        "device": [("mobile", "pc", "pad", "other")[i % 4] for i in range(count)],
        "category": [f"c{i % 7}" for i in range(count)],
        "region": [f"r{i % 11}" for i in range(count)],
        "payment": [None if i % 5 == 0 else f"p{i % 3}" for i in range(count)]})


def test_the_rebuilt_state_is_the_state_the_full_deltas_build() -> None:
    fine, coarse = LiveState(), LiveState()
    for start in range(0, 5_000, 1_250):
        batch = orders(5_000).slice(start, 1_250)
        fine.add(window_deltas(batch), 0, 0)
        coarse.add(_state_deltas(batch), 0, 0)
    assert coarse.totals == fine.totals
    assert (coarse.seconds, coarse.minutes) == (fine.seconds, fine.minutes)
    assert coarse.recent_devices == fine.recent_devices
    assert coarse.minute_devices == fine.minute_devices
    assert (coarse.orders, coarse.gmv_cents, coarse.peak_ops, coarse.peak_second,
            coarse.latest) == (fine.orders, fine.gmv_cents, fine.peak_ops, fine.peak_second,
                               fine.latest)
