"""The worker's alerting: reads declared stock, runs the detectors after each committed batch,
keeps the alerts in `DATA/alerts.json` (for `gmv alerts` and restarts) and in Redis for the
operations view, and logs every change of state."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import redis

from gmv.logs import log_event
from gmv.settings import Settings
from ingest.detect.alerts import PENDING, RESOLVED, Alert, AlertBook
from ingest.detect.oversell import OversellWatch
from ingest.files import atomic_path
from ingest.store import Store

log = logging.getLogger("gmv.detect")
INVENTORY_BATCH = 10_000


def alerts_path(data_dir: Path) -> Path:
    return data_dir / "alerts.json"


def read_alerts(data_dir: Path) -> list[dict[str, Any]]:
    """The night's alerts as `gmv alerts --json` prints them, oldest first."""
    path = alerts_path(data_dir)
    return list(json.loads(path.read_text())["alerts"]) if path.exists() else []


class Watch:
    def __init__(self, client: redis.Redis, settings: Settings, store: Store) -> None:
        self.client, self.settings, self.store = client, settings, store
        self.book = AlertBook()
        self.oversell = OversellWatch()
        self._inventory_id = "-"
        self._restore()
        self.read_inventory()
        self.oversell.add_sold(store.item_sold(list(self.oversell.stock)))

    def read_inventory(self) -> set[str]:
        """New declared stock since the last read."""
        changed: set[str] = set()
        while True:
            start = "-" if self._inventory_id == "-" else f"({self._inventory_id}"
            entries: Any = self.client.xrange(self.settings.inventory_stream, start, "+",
                                              count=INVENTORY_BATCH)
            if not entries:
                return changed
            self._inventory_id = entries[-1][0].decode()
            changed |= self.oversell.add_inventory([bytes((fields or {}).get(b"data", b""))
                                                    for _, fields in entries])

    def after_batch(self, inserted: pa.Table, arrival: pa.Array, clock_ms: int) -> None:
        """`arrival`: the batch's order ids in stream order; `clock_ms`: the night's event-time
        clock (its latest second)."""
        changed_stock = self.read_inventory()
        untracked = [item for item in changed_stock if item not in self.oversell.sold]
        if untracked:
            self.oversell.add_sold(self.store.item_sold(untracked))
        changes = self.oversell.after_batch(inserted, arrival, self.book, changed_stock, clock_ms)
        if changes:
            self._publish(changes)

    def _publish(self, changes: list[Alert]) -> None:
        for alert in changes:
            log_event(log, f"alert_{alert.state}", kind=alert.kind, dimension=alert.dimension,
                      severity=alert.severity, start=alert.as_json()["start"], message=alert.message)
        alerts = [a.as_json() for a in self.book.alerts if a.state != PENDING]
        document = json.dumps({"alerts": alerts}, ensure_ascii=False)
        with atomic_path(alerts_path(self.settings.data_dir)) as tmp:
            tmp.write_text(document)
        newest_first = {"alerts": alerts[::-1]}
        self.client.set(self.settings.alerts_key, json.dumps(newest_first, ensure_ascii=False))

    def _restore(self) -> None:
        """The alerts of the night so far, after a restart: open ones stay open."""
        for saved in read_alerts(self.settings.data_dir):
            alert = Alert(saved["kind"], saved["severity"], saved["dimension"], saved["start_ms"],
                          saved["message"], saved["expected"], saved["actual"], saved["state"],
                          saved["end_ms"], saved["acknowledged_ms"])
            self.book.alerts.append(alert)
            if alert.state != RESOLVED:
                self.book.reopen(alert)
