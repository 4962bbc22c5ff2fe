"""DuckDB under the data dir: accepted orders, per-second windows, counters and the stream position,
changed together in one transaction per batch. The worker is its only writer."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ingest.summary import summarize

WINDOW_DIMENSIONS = ("device", "category", "region", "payment")
CHECKPOINT_MB = 64
MEMORY_LIMIT_MB = 256
_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id VARCHAR PRIMARY KEY, ts_ms BIGINT NOT NULL, amount_cents BIGINT NOT NULL,
    device VARCHAR NOT NULL, category VARCHAR NOT NULL, region VARCHAR NOT NULL,
    merchant_id VARCHAR NOT NULL, buyer_id VARCHAR NOT NULL, item_id VARCHAR NOT NULL,
    quantity INTEGER NOT NULL, payment VARCHAR, batch BIGINT NOT NULL);
-- Per-batch deltas, appended (an upsert per batch costs more than summing on read).
CREATE TABLE IF NOT EXISTS window_deltas (
    second BIGINT NOT NULL, dimension VARCHAR NOT NULL, value VARCHAR NOT NULL,
    gmv_cents HUGEINT NOT NULL, orders BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS item_sales (item_id VARCHAR NOT NULL, quantity BIGINT NOT NULL);
CREATE OR REPLACE VIEW windows AS
    SELECT second, dimension, value, sum(gmv_cents) AS gmv_cents, sum(orders)::BIGINT AS orders
    FROM window_deltas GROUP BY ALL;
CREATE TABLE IF NOT EXISTS counters (name VARCHAR PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    stream VARCHAR, consumer_group VARCHAR, last_id VARCHAR NOT NULL,
    PRIMARY KEY (stream, consumer_group));
"""
_ORDER_COLUMNS = ("order_id, ts_ms, amount_cents, device, category, region, merchant_id, "
                  "buyer_id, item_id, quantity, payment")


@dataclass(frozen=True)
class BatchResult:
    batch: int  # the batch's sequence number in the store
    accepted: int
    duplicates: int
    rejected: int
    inserted: pa.Table  # the orders this batch added
    window_deltas: pa.Table  # second, dimension, value, gmv_cents, orders


def _window_rows(dimension: str) -> str:
    value = "'all'" if dimension == "all" else f"coalesce({dimension}, 'none')"
    return (f"SELECT ts_ms // 1000 AS second, '{dimension}' AS dimension, {value} AS value, "
            f"sum(amount_cents) AS gmv_cents, count(*) AS orders FROM inserted GROUP BY ALL")


def first_of_each_order(orders: pa.Table) -> pa.Table:
    """The batch without the later repeats of an `order_id` (rows are in stream order)."""
    first = orders.group_by("order_id", use_threads=False).aggregate([("index", "min")])
    if first.num_rows == orders.num_rows:
        return orders
    return orders.filter(pc.is_in(orders["index"], first["index_min"]))


class Store:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        if read_only:
            self.db = duckdb.connect(str(path), read_only=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = duckdb.connect(str(path))
        self.db.execute(_SCHEMA)
        # Fewer, larger checkpoints: committing a batch then costs a WAL append, not a rewrite.
        # A fixed memory limit keeps the worker's footprint flat across the night.
        self.db.execute(f"SET checkpoint_threshold = '{CHECKPOINT_MB}MB'")
        self.db.execute(f"SET memory_limit = '{MEMORY_LIMIT_MB}MB'")

    def close(self) -> None:
        self.db.close()

    def position(self, stream: str, group: str) -> str | None:
        row = self.db.execute("SELECT last_id FROM positions WHERE stream = ? AND consumer_group = ?",
                              [stream, group]).fetchone()
        return str(row[0]) if row else None

    def counters(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.db.execute(
            "SELECT name, value FROM counters").fetchall()}

    def apply(self, orders: pa.Table, rejected: int, stream: str, group: str,
              last_id: str) -> BatchResult:
        """Insert what is new, count it into the windows, move the position: all or nothing."""
        db = self.db
        batch = self.counters().get("batches", 0) + 1
        db.execute("BEGIN TRANSACTION")
        try:
            # The first version of an order in the stream wins, within the batch and across them.
            db.register("batch", first_of_each_order(orders))
            inserted = self._arrow(
                f"INSERT OR IGNORE INTO orders SELECT {_ORDER_COLUMNS}, {batch} FROM batch "
                "RETURNING *")
            db.unregister("batch")
            db.register("inserted", inserted)
            deltas = self._arrow("INSERT INTO window_deltas " + " UNION ALL ".join(
                _window_rows(d) for d in ("all", *WINDOW_DIMENSIONS)) + " RETURNING *")
            db.execute("INSERT INTO item_sales SELECT item_id, sum(quantity) FROM inserted "
                       "GROUP BY item_id")
            db.unregister("inserted")
            duplicates = orders.num_rows - inserted.num_rows
            db.execute("INSERT INTO counters VALUES ('accepted', ?), ('duplicates', ?), "
                       "('rejected', ?), ('batches', 1) "
                       "ON CONFLICT DO UPDATE SET value = value + excluded.value",
                       [inserted.num_rows, duplicates, rejected])
            db.execute("INSERT INTO positions VALUES (?, ?, ?) ON CONFLICT DO UPDATE "
                       "SET last_id = excluded.last_id", [stream, group, last_id])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return BatchResult(batch, inserted.num_rows, duplicates, rejected, inserted, deltas)

    def live_windows(self) -> pa.Table:
        """The night's per-second windows of every dimension, to seed the live state."""
        return self._arrow("SELECT * FROM windows")

    def merchant_totals(self) -> pa.Table:
        """merchant_id, orders, gmv_cents over every accepted order, to seed the live state."""
        return self._arrow("SELECT merchant_id, count(*) AS orders, sum(amount_cents) AS gmv_cents "
                           "FROM orders GROUP BY merchant_id")

    def item_sold(self, items: list[str]) -> pa.Table:
        """item_id, quantity: the accepted quantity of each of `items` so far."""
        return self._arrow("SELECT item_id, sum(quantity)::BIGINT AS quantity FROM item_sales "
                           "WHERE list_contains(?, item_id) GROUP BY item_id", [items])

    def orders_since(self, batch: int) -> pa.Table:
        """Orders committed by batches after `batch`, for the history files."""
        return self._arrow("SELECT * FROM orders WHERE batch > ? ORDER BY batch", [batch])

    def _arrow(self, query: str, params: list[object] | None = None) -> pa.Table:
        with warnings.catch_warnings():  # "an extra copy": of a result we want as Arrow anyway
            warnings.simplefilter("ignore", UserWarning)
            return self.db.execute(query, params).to_arrow_table()

    def summary(self) -> dict[str, Any]:
        """The totals of shared/contract.md, exact to the cent."""
        return summarize(self.db, "orders", self.counters())
