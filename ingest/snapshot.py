"""The live snapshot: small, versioned JSON documents in Redis that every live view reads.

Two keys: `<stream>:live` (the headline numbers and the last five minutes, several times a
second) and `<stream>:night` (the night per minute and its milestones, once a second), so the
document every viewer reads each second stays a few kilobytes however long the night gets.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from ingest.contract import DEVICES, beijing_iso, format_cents
from ingest.live_forecast import LiveForecast
from ingest.live_state import LiveState

SNAPSHOT_VERSION = 2
SERIES_S = 300  # the per-second series covers the last five minutes of event time
TOP_N = 12  # values per dimension in the live document (all 32 regions on the night document)
NIGHT_EVERY_S = 1.0


def _totals(rows: list[tuple[str, int, int]]) -> dict[str, dict[str, Any]]:
    return {value: {"gmv": format_cents(gmv), "gmv_cents": gmv, "orders": orders}
            for value, orders, gmv in rows}


def live_document(state: LiveState, seq: int, heartbeat: dict[str, Any]) -> dict[str, Any]:
    latest = state.latest_second()
    start = latest - SERIES_S + 1 if latest is not None else None
    window = range(start, latest + 1) if start is not None and latest is not None else range(0)
    shares = state.device_shares_now()
    devices = {d: state.totals["device"].get(d, [0, 0]) for d in (*DEVICES, *state.totals["device"])}
    return {
        "version": SNAPSHOT_VERSION, "seq": seq,
        "gmv": format_cents(state.gmv_cents), "gmv_cents": state.gmv_cents,
        "orders": state.orders, "rejected": state.rejected, "duplicates": state.duplicates,
        # The latest second may still be filling; "now" is the one before it.
        "ops_now": state.seconds[latest - 1][0] if latest is not None and latest - 1 in
        state.seconds else 0,
        "latest_second": beijing_iso(latest * 1000) if latest is not None else None,
        "latest_second_ms": latest * 1000 if latest is not None else None,
        "peak_ops": state.peak_ops,
        "peak_second": beijing_iso(state.peak_second * 1000) if state.peak_second else None,
        "peak_second_ms": state.peak_second * 1000 if state.peak_second else None,
        "by_device": {d: {"gmv": format_cents(g), "gmv_cents": g, "orders": n,
                          "share_now": shares.get(d, 0.0)} for d, (n, g) in devices.items()},
        "by_category": _totals(state.top("category", TOP_N)),
        "by_payment": _totals(state.top("payment", TOP_N)),
        "series": {"start": beijing_iso(start * 1000) if start is not None else None,
                   "start_ms": start * 1000 if start is not None else None,
                   "orders": [state.seconds[s][0] if s in state.seconds else 0 for s in window],
                   "gmv_cents": [state.seconds[s][1] if s in state.seconds else 0
                                 for s in window]},
        **heartbeat,
    }


def night_document(state: LiveState) -> dict[str, Any]:
    """Per minute of the night: orders, GMV, GMV so far (exact: it ends at the headline) and
    orders by device; every region and category; the milestones crossed."""
    orders_before, gmv_before, minutes = state.night_minutes()
    gmv = [state.minutes[m][1] if m in state.minutes else 0 for m in minutes]
    cumulative, running = [], gmv_before
    for cents in gmv:
        running += cents
        cumulative.append(running)
    return {
        # No sequence number: an unchanged night stays byte for byte the same, so the
        # dashboard's drawings of it stay cached.
        "version": SNAPSHOT_VERSION,
        "start_ms": minutes.start * 60_000 if minutes else None,
        # The last minute is still filling: its GMV so far is as of the end of this second.
        "latest_ms": (latest + 1) * 1000 if (latest := state.latest_second()) is not None else None,
        "gmv_before_cents": gmv_before,
        "orders": [state.minutes[m][0] if m in state.minutes else 0 for m in minutes],
        "gmv_cents": gmv, "cumulative_gmv_cents": cumulative,
        "orders_before": orders_before,
        "devices": {d: [state.minute_devices[m].get(d, 0) if m in state.minute_devices else 0
                            for m in minutes]
                    for d in (*DEVICES, *state.totals["device"]) if d},
        "by_region": _totals(state.top("region", 64)),
        "by_category": _totals(state.top("category", 64)),
        "top_merchants": _totals(state.top("merchant", 10)),
        "milestones": [{"yuan": yuan, "second_ms": second * 1000,
                        "second": beijing_iso(second * 1000)}
                       for yuan, second in state.milestones()],
    }


def encode_snapshot(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def now_ms() -> int:
    return int(time.time() * 1000)


class SnapshotPublisher:
    """Publishes the live state every `interval_s` from its own thread, so the heartbeat keeps
    beating while a large batch is being committed, and on demand after each commit.
    Whoever changes the state holds `lock`."""

    def __init__(self, client: redis.Redis, keys: tuple[str, str, str], state: LiveState,
                 heartbeat: Callable[[], dict[str, Any]], interval_s: float,
                 forecast: LiveForecast | None = None,
                 position: Callable[[], str | None] | None = None) -> None:
        self.client, self.state, self.forecast, self.position = client, state, forecast, position
        self.live_key, self.night_key, self.channel = keys
        self.heartbeat, self.interval_s = heartbeat, interval_s
        self.lock = threading.Lock()
        self.seq = 0
        self._night_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="snapshot", daemon=True)

    def publish(self, night_too: bool = False) -> None:
        """The live document now, and the night document when it is a second old (or asked)."""
        heartbeat = self.heartbeat()  # its Redis reads outside the lock the commits wait for
        night = None
        with self.lock:
            if self.position is not None:
                # Read with the state, under the lock that adds each commit to it and moves the
                # position (ingest/publishing.py `shown_position`): a heartbeat taken between a
                # commit and the state's update named the commit beside the totals before it.
                heartbeat["position"] = self.position()
            self.seq += 1
            outlook = {"forecast": self.forecast.update(self.state)} if self.forecast else {}
            live = live_document(self.state, self.seq, {**heartbeat, **outlook})
            if night_too or time.monotonic() - self._night_at >= NIGHT_EVERY_S:
                night = {**night_document(self.state), **outlook}
                self._night_at = time.monotonic()
        if night is not None:
            self.client.set(self.night_key, encode_snapshot(night))
        encoded = encode_snapshot(live)
        self.client.set(self.live_key, encoded)
        # The screens' push (dashboard/hub.py) hears it at once; a subscriber that missed it
        # reads the key.
        self.client.publish(self.channel, encoded)

    def start(self) -> None:
        self._thread.start()
        if self.forecast is not None:
            self.forecast.start()

    def settle(self) -> None:
        """Before the last publication of a run that ends: the forecast as complete as it gets."""
        if self.forecast is not None:
            self.forecast.settle()

    def stop(self) -> None:
        self._stop.set()
        if self.forecast is not None:
            self.forecast.stop()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        # A beat a fifth early: publishing and scheduling take time, the promise is the interval.
        while not self._stop.wait(self.interval_s * 0.8):
            # Redis being away is the main loop's to report; the beat resumes with it.
            with contextlib.suppress(redis.RedisError):
                self.publish()
