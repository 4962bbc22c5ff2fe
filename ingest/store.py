"""DuckDB under the data dir: accepted orders, per-second windows, counters and the stream position,
changed together in one transaction per batch. The worker is its only writer."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ingest.contract import format_cents
from ingest.incidents import beijing_iso

WINDOW_DIMENSIONS = ("device", "category", "region", "payment")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id VARCHAR PRIMARY KEY, ts_ms BIGINT NOT NULL, amount_cents BIGINT NOT NULL,
    device VARCHAR NOT NULL, category VARCHAR NOT NULL, region VARCHAR NOT NULL,
    merchant_id VARCHAR NOT NULL, buyer_id VARCHAR NOT NULL, item_id VARCHAR NOT NULL,
    quantity INTEGER NOT NULL, payment VARCHAR);
CREATE TABLE IF NOT EXISTS windows (
    second BIGINT, dimension VARCHAR, value VARCHAR, gmv_cents HUGEINT NOT NULL,
    orders BIGINT NOT NULL, PRIMARY KEY (second, dimension, value));
CREATE TABLE IF NOT EXISTS item_sales (item_id VARCHAR PRIMARY KEY, quantity BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name VARCHAR PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    stream VARCHAR, consumer_group VARCHAR, last_id VARCHAR NOT NULL,
    PRIMARY KEY (stream, consumer_group));
"""
_ORDER_COLUMNS = ("order_id, ts_ms, amount_cents, device, category, region, merchant_id, "
                  "buyer_id, item_id, quantity, payment")


@dataclass(frozen=True)
class BatchResult:
    accepted: int
    duplicates: int
    rejected: int


def _window_rows(dimension: str) -> str:
    value = "'all'" if dimension == "all" else f"coalesce({dimension}, 'none')"
    return (f"SELECT ts_ms // 1000 AS second, '{dimension}' AS dimension, {value} AS value, "
            f"sum(amount_cents) AS gmv_cents, count(*) AS orders FROM inserted GROUP BY ALL")


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = duckdb.connect(str(path))
        self.db.execute(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def position(self, stream: str, group: str) -> str | None:
        row = self.db.execute("SELECT last_id FROM positions WHERE stream = ? AND consumer_group = ?",
                              [stream, group]).fetchone()
        return str(row[0]) if row else None

    def apply(self, orders: pa.Table, rejected: int, stream: str, group: str,
              last_id: str) -> BatchResult:
        """Insert what is new, count it into the windows, move the position: all or nothing."""
        db = self.db
        db.execute("BEGIN TRANSACTION")
        try:
            db.register("batch", orders)
            # The first version of an order in the stream wins, within the batch and across them.
            with warnings.catch_warnings():  # the copy it warns of is one small batch
                warnings.simplefilter("ignore", UserWarning)
                inserted: pa.Table = db.execute(
                    f"INSERT OR IGNORE INTO orders SELECT {_ORDER_COLUMNS} FROM batch QUALIFY "
                    "row_number() OVER (PARTITION BY order_id ORDER BY \"index\") = 1 "
                    "RETURNING *").to_arrow_table()
            db.unregister("batch")
            db.register("inserted", inserted)
            for dimension in ("all", *WINDOW_DIMENSIONS):
                db.execute(f"INSERT INTO windows {_window_rows(dimension)} ON CONFLICT DO UPDATE "
                           "SET gmv_cents = gmv_cents + excluded.gmv_cents, "
                           "orders = orders + excluded.orders")
            db.execute("INSERT INTO item_sales SELECT item_id, sum(quantity) FROM inserted "
                       "GROUP BY item_id ON CONFLICT DO UPDATE SET quantity = quantity + "
                       "excluded.quantity")
            db.unregister("inserted")
            result = BatchResult(inserted.num_rows, orders.num_rows - inserted.num_rows, rejected)
            for name, value in (("accepted", result.accepted), ("duplicates", result.duplicates),
                                ("rejected", result.rejected)):
                db.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT DO UPDATE "
                           "SET value = value + excluded.value", [name, value])
            db.execute("INSERT INTO positions VALUES (?, ?, ?) ON CONFLICT DO UPDATE "
                       "SET last_id = excluded.last_id", [stream, group, last_id])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return result

    def summary(self) -> dict[str, Any]:
        """The totals of shared/contract.md, exact to the cent."""
        counters = dict(self.db.execute("SELECT name, value FROM counters").fetchall())
        totals = self.db.execute(
            "SELECT coalesce(sum(gmv_cents), 0), coalesce(sum(orders), 0) FROM windows "
            "WHERE dimension = 'all'").fetchone() or (0, 0)
        peak = self.db.execute(
            "SELECT second, orders FROM windows WHERE dimension = 'all' "
            "ORDER BY orders DESC, second ASC LIMIT 1").fetchone()
        devices = self.db.execute(
            "SELECT value, sum(gmv_cents), sum(orders) FROM windows WHERE dimension = 'device' "
            "GROUP BY value ORDER BY value").fetchall()
        return {
            "gmv": format_cents(int(totals[0])), "orders": int(totals[1]),
            "peak_ops": int(peak[1]) if peak else 0,
            "peak_second": beijing_iso(int(peak[0]) * 1000).replace(".000", "") if peak else None,
            "by_device": {d: {"gmv": format_cents(int(g)), "orders": int(n)} for d, g, n in devices},
            "rejected": int(counters.get("rejected", 0)),
            "duplicates": int(counters.get("duplicates", 0)),
        }
