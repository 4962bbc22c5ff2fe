"""History that other processes read without the store's write lock: the committed orders as
Parquet parts (each written to a temporary name, then renamed) and a small state file."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from common.atomic import atomic_path
from common.logs import log_event
from ingest.contract import BEIJING, midnight_ms
from ingest.faults import FaultPlan
from ingest.store import Store
from ingest.summary import summarize

log = logging.getLogger("gmv.history")
_PART = re.compile(r"part-(\d{10})-(\d{10})\.parquet")
FLUSH_EVERY_S = 5.0
FLUSH_ROWS = 500_000


def orders_dir(data_dir: Path) -> Path:
    return data_dir / "history" / "orders"


def state_path(data_dir: Path) -> Path:
    return data_dir / "history" / "state.json"


def last_exported_batch(data_dir: Path) -> int:
    batches = [int(m[2]) for p in orders_dir(data_dir).glob("part-*.parquet")
               if (m := _PART.fullmatch(p.name))]
    return max(batches, default=0)


class HistoryWriter:
    """Buffers what each batch inserted and writes it out every few seconds."""

    def __init__(self, data_dir: Path, store: Store, faults: FaultPlan | None = None) -> None:
        self.data_dir, self.store = data_dir, store
        self.faults = faults or FaultPlan("")
        orders_dir(data_dir).mkdir(parents=True, exist_ok=True)
        self._parts: list[pa.Table] = []
        self._rows = 0
        self._flushed_at = time.monotonic()
        self._dirty = False
        self.exported = last_exported_batch(data_dir)
        self._batch = self.exported
        missing = store.orders_since(self.exported)  # committed, then the worker died
        if missing.num_rows:
            self._write(missing, int(missing["batch"][-1].as_py()))
            log_event(log, "history_caught_up", rows=missing.num_rows, batch=self.exported)

    def add(self, batch: int, inserted: pa.Table, position: str) -> None:
        self._batch, self._dirty = batch, True
        if inserted.num_rows:
            self._parts.append(inserted)
            self._rows += inserted.num_rows
        self.flush_if_due(position)

    def flush_if_due(self, position: str | None) -> None:
        """Every few seconds (or every FLUSH_ROWS rows) while batches keep coming."""
        due = time.monotonic() - self._flushed_at >= FLUSH_EVERY_S
        if self._rows >= FLUSH_ROWS or (self._dirty and due):
            self.flush(position)

    def flush(self, position: str | None) -> None:
        if self._parts:
            self._write(pa.concat_tables(self._parts), self._batch)
            self._parts, self._rows = [], 0
        with atomic_path(state_path(self.data_dir)) as tmp:
            tmp.write_text(json.dumps({"counters": self.store.counters(), "position": position,
                                       "batch": self._batch, "as_of_ms": int(time.time() * 1000)}))
        self._flushed_at = time.monotonic()
        self._dirty = False

    def _write(self, orders: pa.Table, last_batch: int) -> None:
        path = orders_dir(self.data_dir) / f"part-{self.exported + 1:010d}-{last_batch:010d}.parquet"
        with atomic_path(path) as tmp:
            pq.write_table(orders, tmp, compression="zstd")
        self.exported = last_batch
        self.faults.reached("after_history_part")


def history_parts(data_dir: Path) -> list[str]:
    return sorted(str(p) for p in orders_dir(data_dir).glob("part-*.parquet"))


def midnight_of_busiest(second: int) -> int:
    """Midnight (Beijing, epoch ms) opening the festival whose busiest second this is: every
    festival peaks just after its midnight."""
    return midnight_ms(datetime.fromtimestamp(second, tz=BEIJING).date())


def orders_by_second_of_night(data_dir: Path) -> dict[int, int]:
    """A recorded night's accepted orders per second, keyed by seconds after its midnight."""
    parts = history_parts(data_dir)
    if not parts:
        return {}
    db = duckdb.connect()
    db.read_parquet(parts).create_view("orders")
    rows = db.sql("SELECT ts_ms // 1000 AS s, count(*) AS n FROM orders GROUP BY s").fetchall()
    if not rows:
        return {}
    midnight_s = midnight_of_busiest(max(rows, key=lambda r: (r[1], -r[0]))[0]) // 1000
    return {int(s) - midnight_s: int(n) for s, n in rows}


def history_summary(data_dir: Path) -> dict[str, Any]:
    """The contract's totals from the history files alone: works while the worker runs."""
    state = json.loads(state_path(data_dir).read_text()) if state_path(data_dir).exists() else {}
    db = duckdb.connect()
    parts = sorted(orders_dir(data_dir).glob("part-*.parquet"))
    if parts:
        db.read_parquet([str(p) for p in parts]).create_view("history_orders")
    else:
        db.execute("CREATE VIEW history_orders AS SELECT 0::BIGINT AS amount_cents, "
                   "0::BIGINT AS ts_ms, '' AS device LIMIT 0")
    totals = summarize(db, "history_orders", state.get("counters", {}))
    totals["as_of"] = state.get("as_of_ms")
    return totals


def read_summary(data_dir: Path) -> dict[str, Any]:
    """The totals from the store, or from the history files while the worker holds the store."""
    path = data_dir / "gmv.duckdb"
    if not path.exists() and not state_path(data_dir).exists():
        raise FileNotFoundError(f"no store at {path}: run `gmv ingest` first, or pass --data")
    try:
        store = Store(path, read_only=True)
    except duckdb.IOException:  # the worker has it open: DuckDB allows one process
        return history_summary(data_dir)
    try:
        return store.summary()
    finally:
        store.close()
