"""The night so far, in memory: what every snapshot is drawn from, advanced by each committed batch.

A few hundred thousand integers at most (one pair per event-time second of the night), seeded
from the store at start, so a snapshot costs no query.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ingest.store import WINDOW_DIMENSIONS

SHARE_WINDOW_S = 60  # the device split "now" is over the last minute
MILESTONES_YUAN = tuple(10 ** k for k in range(6, 13))  # ¥100万, ¥1000万, ¥1亿 … ¥1万亿
NIGHT_MINUTES = 24 * 60 + 10  # the night's per-minute series: a day and its run-up


def _pairs() -> defaultdict[str, list[int]]:
    return defaultdict(lambda: [0, 0])


@dataclass
class LiveState:
    """Totals of the night; `[orders, gmv_cents]` pairs by event-time second, by minute, by
    dimension value and by merchant."""

    gmv_cents: int = 0
    orders: int = 0
    rejected: int = 0
    duplicates: int = 0
    seconds: defaultdict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    minutes: defaultdict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    totals: dict[str, defaultdict[str, list[int]]] = field(
        default_factory=lambda: {d: _pairs() for d in WINDOW_DIMENSIONS})
    merchants: defaultdict[str, list[int]] = field(default_factory=_pairs)
    # Orders by device per second (last minutes only: the split "now") and per minute (the trend).
    recent_devices: defaultdict[int, defaultdict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    minute_devices: defaultdict[int, defaultdict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    peak_ops: int = 0
    peak_second: int | None = None
    latest: int | None = None  # the latest event-time second with orders

    def add(self, window_deltas: pa.Table, rejected: int, duplicates: int) -> None:
        """Advance by one batch's window deltas (rows: second, dimension, value, gmv, orders)."""
        self.rejected += rejected
        self.duplicates += duplicates
        rows = window_deltas.to_pydict()
        for second, dimension, value, gmv, orders in zip(
                rows["second"], rows["dimension"], rows["value"], rows["gmv_cents"],
                rows["orders"], strict=True):
            gmv, orders = int(gmv), int(orders)  # sums arrive as DECIMAL from the store
            if dimension == "all":
                self._add_second(second, orders, gmv)
                continue
            pair = self.totals[dimension][value]
            pair[0] += orders
            pair[1] += gmv
            if dimension == "device":
                self.recent_devices[second][value] += orders
                self.minute_devices[second // 60][value] += orders
        self._forget_old_device_seconds()

    def add_merchants(self, merchant_totals: pa.Table) -> None:
        """Rows: merchant_id, orders, gmv_cents (one batch's, or the store's at start)."""
        rows = merchant_totals.to_pydict()
        for merchant, orders, gmv in zip(rows["merchant_id"], rows["orders"], rows["gmv_cents"],
                                         strict=True):
            pair = self.merchants[merchant]
            pair[0] += int(orders)
            pair[1] += int(gmv)

    def _add_second(self, second: int, orders: int, gmv: int) -> None:
        for pair in (self.seconds[second], self.minutes[second // 60]):
            pair[0] += orders
            pair[1] += gmv
        self.orders += orders
        self.gmv_cents += gmv
        if self.latest is None or second > self.latest:
            self.latest = second
        total = self.seconds[second][0]
        if total > self.peak_ops or (total == self.peak_ops and self.peak_second is not None
                                     and second < self.peak_second):
            self.peak_ops, self.peak_second = total, second

    def _forget_old_device_seconds(self) -> None:
        latest = self.latest_second()
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
        pairs = self.merchants if dimension == "merchant" else self.totals[dimension]
        best = heapq.nsmallest(n, pairs.items(), key=lambda item: (-item[1][1], item[0]))
        return [(value, orders, gmv) for value, (orders, gmv) in best]

    def milestones(self) -> list[tuple[int, int]]:
        """(yuan, second) of each milestone the cumulative GMV of event time has crossed: the
        second whose orders took it there."""
        if not self.seconds:
            return []
        seconds = np.fromiter(sorted(self.seconds), dtype=np.int64, count=len(self.seconds))
        cumulative = np.cumsum([self.seconds[s][1] for s in seconds.tolist()], dtype=np.int64)
        crossed = [(yuan, int(np.searchsorted(cumulative, yuan * 100)))
                   for yuan in MILESTONES_YUAN if cumulative[-1] >= yuan * 100]
        return [(yuan, int(seconds[i])) for yuan, i in crossed]

    def night_minutes(self) -> tuple[int, int, range]:
        """(orders, gmv_cents) before the night's minute range, and the range: at most a day and
        its run-up, ending at the latest minute, so a stray old event cannot stretch it."""
        if not self.minutes:
            return 0, 0, range(0)
        last = max(self.minutes)
        first = max(min(self.minutes), last - NIGHT_MINUTES + 1)
        before = [pair for minute, pair in self.minutes.items() if minute < first]
        return sum(p[0] for p in before), sum(p[1] for p in before), range(first, last + 1)
