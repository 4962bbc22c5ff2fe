"""The night's clock from the bulk of what arrives, not from one payload: where a checkpoint's
orders move it, read so that one order stamped far from the rest (a replayed old night with one
order stamped "now", a producer's clock gone wrong) cannot move the clock, and so cannot move the
horizons that hang from it (the dedupe table's, the live state's, the night curve's).

The order itself still counts, in the totals and in its own second (shared/contract.md: late and
odd events count); only the clock ignores it."""

from __future__ import annotations

import numpy as np

# How far a checkpoint's orders may lie ahead of its bulk and still move the clock, beyond the
# span of their arrivals: the contract's margin for an order stamped ahead of its arrival.
TOLERANCE_S = 300
FEW = 3  # fewer orders than this have no bulk: they move the clock only as the arrivals move


def clock_after(ts_ms: np.ndarray, first_arrival_s: int, last_arrival_s: int,
                previous_s: int | None, previous_arrival_s: int | None) -> int | None:
    """The second the clock may move to after a checkpoint of orders stamped `ts_ms`, which
    arrived (their stream ids' time) between `first_arrival_s` and `last_arrival_s`; the clock
    was `previous_s` after the arrivals up to `previous_arrival_s`. None: no orders.

    Many orders: the newest of those not far ahead of the bulk (beyond its upper quartile by
    three times its interquartile range, the arrivals' span and TOLERANCE_S: Tukey's far-out
    fence, widened), so that a few far ahead are left out however wide the bulk is. A handful:
    no further than the previous clock moved on by the arrivals since (a live night's trickle
    moves it second by second; a stray order of a replayed night does not)."""
    if not len(ts_ms):
        return None
    seconds = ts_ms // 1000
    if len(seconds) >= FEW:
        low, high = np.percentile(seconds, [25, 75])
        reach = high + 3 * (high - low) + (last_arrival_s - first_arrival_s) + TOLERANCE_S
        return int(seconds[seconds <= reach].max())
    newest = int(seconds.max())
    if previous_s is None or previous_arrival_s is None:
        return newest
    return min(newest, previous_s + max(last_arrival_s - previous_arrival_s, 0) + TOLERANCE_S)
