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
FAR = 7  # median absolute deviations beyond the median: Tukey's far-out fence for a normal bulk


def clock_after(ts_ms: np.ndarray, first_arrival_s: int, last_arrival_s: int,
                previous_s: int | None, previous_arrival_s: int | None) -> int | None:
    """The second the clock moves to after a checkpoint of orders stamped `ts_ms`, which arrived
    (their stream ids' time) between `first_arrival_s` and `last_arrival_s`; the clock was
    `previous_s` after the arrivals up to `previous_arrival_s`; never back. None: no orders
    (a caller that took None for "unmoved" would move the clock to the newest order instead).

    An order moves the clock when it lies within the reach of the arrivals (the previous clock
    moved on by the arrivals since: a live night, however few its orders) or within the reach
    of the bulk (the median and FAR median deviations beyond it, the arrivals' span and
    TOLERANCE_S: a replay at any speed). One order stamped far from the rest lies within
    neither, however few or many the rest: the median and its deviation are the bulk's while
    it is more than half. A handful of orders with no bulk moves it no further than the
    arrivals' reach."""
    if not len(ts_ms):
        return None
    seconds = ts_ms // 1000
    reach = None if previous_s is None or previous_arrival_s is None else \
        previous_s + max(last_arrival_s - previous_arrival_s, 0) + TOLERANCE_S
    if len(seconds) >= FEW:
        middle = float(np.median(seconds))
        spread = float(np.median(np.abs(seconds - middle)))
        bulk = int(middle + FAR * spread) + (last_arrival_s - first_arrival_s) + TOLERANCE_S
        reach = bulk if reach is None else max(reach, bulk)
        moved = int(seconds[seconds <= reach].max())  # the median is within: never empty
    else:
        newest = int(seconds.max())
        moved = newest if reach is None else min(newest, reach)
    return moved if previous_s is None else max(moved, previous_s)
