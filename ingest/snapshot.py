"""The live snapshot: one small, versioned JSON document in Redis that every live view reads.

The worker keeps the night's per-second totals in memory (a few hundred thousand integers at
most), seeded from the store at start and advanced by each committed batch's window deltas, so
a snapshot costs no query.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import redis

from ingest.contract import DEVICES, format_cents
from ingest.incidents import beijing_iso

SNAPSHOT_VERSION = 1
SERIES_S = 300  # the per-second series covers the last five minutes of event time
SHARE_WINDOW_S = 60  # the device split "now" is over the last minute


@dataclass
class LiveState:
    """Totals of the night so far; `seconds[s]` = [orders, gmv_cents] of event-time second s."""

    gmv_cents: int = 0
    orders: int = 0
    rejected: int = 0
    duplicates: int = 0
    seconds: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    device_totals: dict[str, list[int]] = field(
        default_factory=lambda: {d: [0, 0] for d in DEVICES})
    # Per second and device, for the last minutes only: the split "now".
    recent_devices: dict[int, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    peak_ops: int = 0
    peak_second: int | None = None
    seq: int = 0

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
                totals = self.seconds[second]
                totals[0] += orders
                totals[1] += gmv
                self.orders += orders
                self.gmv_cents += gmv
                self._raise_peak(second, totals[0])
            elif dimension == "device":
                totals = self.device_totals.setdefault(value, [0, 0])
                totals[0] += orders
                totals[1] += gmv
                self.recent_devices[second][value] += orders
        self._forget_old_device_seconds()

    def _forget_old_device_seconds(self) -> None:
        latest = self.latest_second()
        if latest is not None and len(self.recent_devices) > 2 * SHARE_WINDOW_S:
            for second in [s for s in self.recent_devices if s <= latest - SHARE_WINDOW_S]:
                del self.recent_devices[second]

    def _raise_peak(self, second: int, orders: int) -> None:
        if orders > self.peak_ops or (orders == self.peak_ops and self.peak_second is not None
                                      and second < self.peak_second):
            self.peak_ops, self.peak_second = orders, second

    def latest_second(self) -> int | None:
        return max(self.seconds) if self.seconds else None

    def document(self, heartbeat: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        latest = self.latest_second()
        start = (latest - SERIES_S + 1) if latest is not None else None
        window = range(start, latest + 1) if start is not None and latest is not None else range(0)
        recent: dict[str, int] = defaultdict(int)
        if latest is not None:
            for second in range(latest - SHARE_WINDOW_S + 1, latest + 1):
                for device, orders in self.recent_devices.get(second, {}).items():
                    recent[device] += orders
        recent_total = sum(recent.values()) or 1
        return {
            "version": SNAPSHOT_VERSION, "seq": self.seq,
            "gmv": format_cents(self.gmv_cents), "gmv_cents": self.gmv_cents,
            "orders": self.orders, "rejected": self.rejected, "duplicates": self.duplicates,
            # The latest second may still be filling; "now" is the one before it.
            "ops_now": self.seconds[latest - 1][0] if latest is not None and latest - 1 in
            self.seconds else 0,
            "latest_second": beijing_iso(latest * 1000) if latest is not None else None,
            "peak_ops": self.peak_ops,
            "peak_second": beijing_iso(self.peak_second * 1000) if self.peak_second else None,
            "by_device": {d: {"gmv": format_cents(g), "orders": n,
                              "share_now": round(recent[d] / recent_total, 4)}
                          for d, (n, g) in self.device_totals.items()},
            "series": {"start": beijing_iso(start * 1000) if start is not None else None,
                       "orders": [self.seconds[s][0] if s in self.seconds else 0 for s in window],
                       "gmv_cents": [self.seconds[s][1] if s in self.seconds else 0
                                     for s in window]},
            **heartbeat,
        }


def encode_snapshot(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def now_ms() -> int:
    return int(time.time() * 1000)


class SnapshotPublisher:
    """Publishes the live state every `interval_s` from its own thread, so the heartbeat keeps
    beating while a large batch is being committed, and on demand after each commit.
    Whoever changes the state holds `lock`."""

    def __init__(self, client: redis.Redis, key: str, state: LiveState,
                 heartbeat: Callable[[], dict[str, Any]], interval_s: float) -> None:
        self.client, self.key, self.state = client, key, state
        self.heartbeat, self.interval_s = heartbeat, interval_s
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="snapshot", daemon=True)

    def publish(self) -> None:
        with self.lock:
            document = self.state.document(self.heartbeat())
        self.client.set(self.key, encode_snapshot(document))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        # A beat a fifth early: publishing and scheduling take time, the promise is the interval.
        while not self._stop.wait(self.interval_s * 0.8):
            # Redis being away is the main loop's to report; the beat resumes with it.
            with contextlib.suppress(redis.RedisError):
                self.publish()
