"""The worker's alerting: after each committed batch, the detectors run on what it changed
(stock, orders, seconds) and their changes of state go to the kept alert book."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import redis

from common.settings import Settings
from ingest.contract import midnight_ms
from ingest.detect.arrivals import ArrivalDetectors
from ingest.detect.inventory import InventoryFeed
from ingest.detect.keeper import AlertKeeper, alerts_path
from ingest.detect.oversell import OversellWatch
from ingest.detect.reference import LastYearCurve
from ingest.detect.seasonal import SecondDetectors
from ingest.store import BatchResult, Store


class Watch(AlertKeeper):
    def __init__(self, client: redis.Redis, settings: Settings, store: Store) -> None:
        super().__init__(client, settings, alerts_path(settings.data_dir), settings.alerts_key)
        self.store = store
        self.oversell = OversellWatch()
        self.reference = LastYearCurve(
            Path(settings.last_year_data_dir),
            midnight_ms(date.fromisoformat(settings.festival_date))) \
            if settings.last_year_data_dir else None
        self.seconds = SecondDetectors(self.book, self.reference)
        self.arrivals = ArrivalDetectors(self.book)
        self.inventory = InventoryFeed(client, settings.inventory_stream, self.oversell)
        self.inventory.read()
        self.oversell.add_sold(store.item_sold(list(self.oversell.stock)))

    def after_batch(self, result: BatchResult, sent: int, arrival: pa.Array,
                    clock_ms: int) -> None:
        """`sent`: the batch's new entries; `arrival`: its order ids in stream order;
        `clock_ms`: the night's event-time clock (its latest second) after it."""
        changed_stock = self.inventory.read()
        untracked = [item for item in changed_stock if item not in self.oversell.sold]
        if untracked:
            self.oversell.add_sold(self.store.item_sold(untracked))
        if self.reference is not None:
            self.reference.refresh()
        changes = self.oversell.after_batch(result.inserted, arrival, self.book, changed_stock,
                                            clock_ms)
        changes += self.arrivals.after_batch(result.inserted, sent, result.rejected,
                                             result.duplicates, clock_ms)
        self.seconds.add(result.window_deltas)
        changes += self.seconds.judge_until(clock_ms // 1000)
        self.publish(changes)
        self.merge_acks()

    def quiet(self, now_s: int) -> None:
        """No orders for a while on a live night: judge the seconds up to now (as empty)."""
        self.publish(self.seconds.judge_until(now_s))
