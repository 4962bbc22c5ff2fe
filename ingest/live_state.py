"""The night so far, in memory: what every snapshot is drawn from, advanced by each commit.

Bounded whatever producers send: per second and per minute only within the horizon behind the
night's clock (older seconds fold into one "before" total, their peak kept), and at most
MAX_VALUES values per dimension (the rest fold into "(other)"; the store keeps every one). The
clock itself never runs ahead of the arrivals, so an order stamped a few minutes ahead cannot
empty the charts.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.windows import WINDOW_DIMENSIONS

SHARE_WINDOW_S = 60  # the device split "now" is over the last minute
MILESTONES_YUAN = tuple(10 ** k for k in range(6, 13))  # ¥100万, ¥1000万, ¥1亿 … ¥1万亿
NIGHT_MINUTES = 24 * 60 + 10  # the night's per-minute series: a day and its run-up
MAX_VALUES = 1_000
CLOCK_AHEAD_S = 300  # orders may be stamped this far ahead of their arrival (the contract)
OTHER = "(other)"


def _pairs() -> defaultdict[str, list[int]]:
    return defaultdict(lambda: [0, 0])


def milestones_crossed(seconds: np.ndarray, gmv_cents: np.ndarray,
                       before_cents: int = 0) -> list[tuple[int, int]]:
    """(yuan, second) of each milestone a running total crosses: `gmv_cents` per second of
    `seconds` (ascending) on top of `before_cents`; the second whose orders took it there."""
    if not len(seconds):
        return []
    cumulative = before_cents + np.cumsum(gmv_cents, dtype=np.int64)
    return [(yuan, int(seconds[int(np.searchsorted(cumulative, yuan * 100))]))
            for yuan in MILESTONES_YUAN
            if cumulative[-1] >= yuan * 100 and before_cents < yuan * 100]


@dataclass
class LiveState:
    """Totals of the night; `[orders, gmv_cents]` pairs by event-time second, by minute and by
    dimension value."""

    horizon_s: int = 48 * 3600
    gmv_cents: int = 0
    orders: int = 0
    rejected: int = 0
    duplicates: int = 0
    seconds: dict[int, list[int]] = field(default_factory=dict)
    minutes: dict[int, list[int]] = field(default_factory=dict)
    totals: dict[str, defaultdict[str, list[int]]] = field(
        default_factory=lambda: {d: _pairs() for d in WINDOW_DIMENSIONS})
    # Orders by device per second (last minutes only: the split "now") and per minute (the trend).
    recent_devices: defaultdict[int, defaultdict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    minute_devices: dict[int, defaultdict[str, int]] = field(default_factory=dict)
    peak_ops: int = 0
    peak_second: int | None = None
    latest: int | None = None  # the night's clock: the latest second with orders, not ahead
    before: list[int] = field(default_factory=lambda: [0, 0])  # seconds folded out of the horizon
    top_merchants: list[tuple[str, int, int]] = field(default_factory=list)  # from the store

    def add(self, window_deltas: pa.Table, rejected: int, duplicates: int,
            clock_cap_s: int | None = None, clock_s: int | None = None) -> list[int]:
        """Advance by one commit's window deltas (rows: second, dimension, value, gmv, orders);
        `clock_cap_s`: the newest arrival (the clock goes no further); `clock_s`: where the
        clock moves (ingest/clock.py: from the bulk of the orders), else to the newest second
        with orders. Returns the seconds, already behind the horizon, that orders were added to
        (their totals are the store's)."""
        self.rejected += rejected
        self.duplicates += duplicates
        rows = window_deltas.to_pydict()
        behind: list[int] = []
        newest = None
        for second, dimension, value, gmv, orders in zip(
                rows["second"], rows["dimension"], rows["value"], rows["gmv_cents"],
                rows["orders"], strict=True):
            gmv, orders = int(gmv), int(orders)
            if dimension == "all":
                if self._add_second(second, orders, gmv):
                    newest = second if newest is None else max(newest, second)
                else:
                    behind.append(second)
                continue
            values = self.totals[dimension]
            pair = values[value if value in values or len(values) < MAX_VALUES else OTHER]
            pair[0] += orders
            pair[1] += gmv
            if dimension == "device" and self._within(second):
                self.recent_devices[second][value] += orders
                self.minute_devices.setdefault(second // 60, defaultdict(int))[value] += orders
        newest = newest if clock_s is None else clock_s
        if newest is not None:
            capped = newest if clock_cap_s is None else min(newest, clock_cap_s)
            if self.latest is None or capped > self.latest:
                self.latest = capped
                self._forget_behind_horizon()
        self._forget_old_device_seconds()
        return behind

    def seed(self, windows: pa.Table, rejected: int, duplicates: int,
             clock_cap_s: int | None = None) -> None:
        """An empty state made what `add` of the same windows would make, in whole columns: a
        restart over a day's millions of window rows in a fraction of a second (`add`'s loop
        took ~8 µs a row). Of a dimension's values beyond MAX_VALUES, those with the least GMV
        fold into "(other)" (`add` keeps the first it meets)."""
        assert self.latest is None and not self.orders, "seed an empty state only"
        self.rejected += rejected
        self.duplicates += duplicates
        if not windows.num_rows:
            return
        dimension = windows["dimension"]
        every = windows.filter(pc.equal(dimension, "all"))
        seconds, minutes = _summed(every, "second"), _summed(every.append_column(
            "minute", pa.array(every["second"].to_numpy() // 60)), "minute")
        self.orders, self.gmv_cents = (int(sum(pair[k] for pair in seconds.values()))
                                       for k in (0, 1))
        self.seconds, self.minutes = seconds, minutes
        for second, (orders, _) in sorted(seconds.items()):
            self._peak(second, orders)
        for name in WINDOW_DIMENSIONS:
            by_value = _summed(windows.filter(pc.equal(dimension, name)), "value")
            ranked = sorted(by_value.items(), key=lambda item: (-item[1][1], item[0]))
            values = self.totals[name]
            for value, (orders, gmv) in ranked:
                pair = values[value if len(values) < MAX_VALUES else OTHER]
                pair[0] += orders
                pair[1] += gmv
        if seconds:
            newest = max(seconds)
            self.latest = newest if clock_cap_s is None else min(newest, clock_cap_s)
        devices = windows.filter(pc.equal(dimension, "device"))
        device_seconds = pc.unique(devices["second"])
        if self.latest is not None and len(device_seconds) > 2 * SHARE_WINDOW_S:
            recent = devices.filter(pc.greater(devices["second"], self.latest - SHARE_WINDOW_S))
        else:  # as `add` leaves it: every second's split until there are enough to forget
            recent = devices
        for (second, value), (orders, _) in _summed(recent, "second", "value").items():
            self.recent_devices[second][value] += orders
        by_minute = devices.append_column("minute", pa.array(devices["second"].to_numpy() // 60))
        for (minute, value), (orders, _) in _summed(by_minute, "minute", "value").items():
            self.minute_devices.setdefault(minute, defaultdict(int))[value] += orders
        if self.latest is not None:
            self._forget_behind_horizon()
        self._forget_old_device_seconds()

    def _within(self, second: int) -> bool:
        return self.latest is None or second > self.latest - self.horizon_s

    def _add_second(self, second: int, orders: int, gmv: int) -> bool:
        """Count a second's orders; False when it is behind the horizon (only the totals)."""
        self.orders += orders
        self.gmv_cents += gmv
        if not self._within(second):
            self.before[0] += orders
            self.before[1] += gmv
            return False
        for pair in (self.seconds.setdefault(second, [0, 0]),
                     self.minutes.setdefault(second // 60, [0, 0])):
            pair[0] += orders
            pair[1] += gmv
        self._peak(second, self.seconds[second][0])
        return True

    def _peak(self, second: int, total: int) -> None:
        if total > self.peak_ops or (total == self.peak_ops and self.peak_second is not None
                                     and second < self.peak_second):
            self.peak_ops, self.peak_second = total, second

    def late_behind(self, second: int, total: int) -> None:
        """A second behind the horizon now has `total` orders (the store's count): it may be
        the peak."""
        self._peak(second, total)

    def _forget_behind_horizon(self) -> None:
        assert self.latest is not None
        start = self.latest - self.horizon_s
        if not self.seconds or min(self.seconds) > start:
            return
        for second in [s for s in self.seconds if s <= start]:
            pair = self.seconds.pop(second)
            self.before[0] += pair[0]
            self.before[1] += pair[1]
        for minute in [m for m in self.minutes if m < start // 60]:
            del self.minutes[minute]
            self.minute_devices.pop(minute, None)

    def _forget_old_device_seconds(self) -> None:
        latest = self.latest
        if latest is not None and len(self.recent_devices) > 2 * SHARE_WINDOW_S:
            for second in [s for s in self.recent_devices if s <= latest - SHARE_WINDOW_S]:
                del self.recent_devices[second]

    def latest_second(self) -> int | None:
        return self.latest

    def device_shares_now(self) -> dict[str, float]:
        """Each device's share of the orders of the last minute of event time."""
        latest = self.latest_second()
        recent: defaultdict[str, int] = defaultdict(int)
        if latest is not None:
            for second in range(latest - SHARE_WINDOW_S + 1, latest + 1):
                for device, orders in self.recent_devices.get(second, {}).items():
                    recent[device] += orders
        total = sum(recent.values()) or 1
        return {d: round(recent[d] / total, 4) for d in self.totals["device"]}

    def top(self, dimension: str, n: int) -> list[tuple[str, int, int]]:
        """(value, orders, gmv_cents) of the `n` values with the most GMV."""
        if dimension == "merchant":
            return self.top_merchants[:n]
        best = heapq.nsmallest(n, self.totals[dimension].items(),
                               key=lambda item: (-item[1][1], item[0]))
        return [(value, orders, gmv) for value, (orders, gmv) in best]

    def milestones(self) -> list[tuple[int, int]]:
        """(yuan, second) of each milestone the cumulative GMV of event time has crossed: the
        second whose orders took it there."""
        if not self.seconds:
            return []
        seconds = np.fromiter(sorted(self.seconds), dtype=np.int64, count=len(self.seconds))
        gmv = np.fromiter((self.seconds[s][1] for s in seconds.tolist()), dtype=np.int64,
                          count=len(seconds))
        return milestones_crossed(seconds, gmv, self.before[1])

    def night_minutes(self) -> tuple[int, int, range]:
        """(orders, gmv_cents) before the night's minute range, and the range: at most a day and
        its run-up, ending at the latest minute with orders (at most the future-ts margin ahead
        of the arrivals), so a stray old event cannot stretch it."""
        if not self.minutes:
            return 0, 0, range(0)
        last = max(self.minutes)
        if self.latest is not None:  # an order stamped far ahead of the clock cannot stretch it
            last = min(last, (self.latest + CLOCK_AHEAD_S) // 60)
        first = max(min(self.minutes), last - NIGHT_MINUTES + 1)
        outside = [pair for minute, pair in self.minutes.items() if minute < first]
        return (self.before[0] + sum(p[0] for p in outside),
                self.before[1] + sum(p[1] for p in outside), range(first, last + 1))


def _summed(windows: pa.Table, *keys: str) -> dict:
    """`[orders, gmv_cents]` by `keys` (a tuple of them when more than one), summed exactly."""
    rows = windows.group_by(list(keys)).aggregate([("orders", "sum"),
                                                   ("gmv_cents", "sum")]).to_pydict()
    found = zip(*(rows[k] for k in keys), strict=True) if len(keys) > 1 else rows[keys[0]]
    return {k: [int(orders), int(gmv)] for k, orders, gmv in zip(
        found, rows["orders_sum"], rows["gmv_cents_sum"], strict=True)}
