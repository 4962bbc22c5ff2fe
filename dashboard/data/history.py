"""The committed orders in the history Parquet files: the review's and the drill-down's questions,
and last year's night for the comparison curve."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ingest.history import history_parts, midnight_of_busiest, orders_view

DIMENSIONS = ("device", "category", "region", "payment", "merchant")
_COLUMN = {"merchant": "merchant_id", "payment": "coalesce(payment, 'none')"}


@dataclass(frozen=True)
class History:
    """Committed orders in the history files: readable while the worker writes more."""

    data_dir: Path

    def parts(self) -> list[str]:
        return history_parts(self.data_dir)

    def _query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        db = duckdb.connect()
        orders_view(db, self.parts())
        return db.sql(sql, params=params).to_arrow_table()

    def bounds_ms(self) -> tuple[int, int] | None:
        """First and last event time of the committed orders."""
        row = self._query("SELECT min(ts_ms) AS first, max(ts_ms) AS last FROM orders").to_pylist()[0]
        return (int(row["first"]), int(row["last"])) if row["first"] is not None else None

    def series(self, start_ms: int, end_ms: int, bucket_s: int,
               dimension: str | None = None) -> pa.Table:
        """Orders and GMV per bucket of event time in [start_ms, end_ms), optionally split by a
        dimension: columns bucket_ms, [value,] orders, gmv_cents (exact, as DECIMAL)."""
        if dimension is not None and dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}")
        value = f"{_COLUMN.get(dimension, dimension)} AS value, " if dimension else ""
        return self._query(
            f"SELECT ts_ms // {bucket_s * 1000} * {bucket_s * 1000} AS bucket_ms, {value}"
            "count(*) AS orders, sum(amount_cents)::DECIMAL(38, 0) AS gmv_cents FROM orders "
            "WHERE ts_ms >= ? AND ts_ms < ? GROUP BY ALL ORDER BY ALL", [start_ms, end_ms])

    def values(self, dimension: str, limit: int = 50) -> list[str]:
        """The dimension's values, most GMV first."""
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}")
        table = self._query(f"SELECT {_COLUMN.get(dimension, dimension)} AS value FROM orders "
                            f"GROUP BY ALL ORDER BY sum(amount_cents) DESC LIMIT {int(limit)}")
        return [str(v) for v in table["value"].to_pylist()]

    def drill(self, dimension: str, value: str, start_ms: int, end_ms: int,
              bucket_s: int) -> pa.Table:
        """Orders and GMV per bucket of [start_ms, end_ms) for one value of one dimension."""
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}")
        return self._query(
            f"SELECT ts_ms // {bucket_s * 1000} * {bucket_s * 1000} AS bucket_ms, count(*) AS orders, "
            "sum(amount_cents)::DECIMAL(38, 0) AS gmv_cents FROM orders "
            f"WHERE ts_ms >= ? AND ts_ms < ? AND {_COLUMN.get(dimension, dimension)} = ? "
            "GROUP BY ALL ORDER BY ALL", [start_ms, end_ms, value])

    def festival_midnight_ms(self) -> int | None:
        """Midnight (Beijing) opening the festival in these files: the day of the busiest second,
        for every festival peaks just after its midnight."""
        row = self._query("SELECT ts_ms // 1000 AS s FROM orders GROUP BY s "
                          "ORDER BY count(*) DESC, s LIMIT 1").to_pylist()
        return midnight_of_busiest(row[0]["s"]) if row else None


@functools.lru_cache(maxsize=4)
def _night_curve(data_dir: Path, parts: tuple[str, ...]) -> tuple[list[int], list[int]] | None:
    history = History(data_dir)
    midnight = history.festival_midnight_ms()
    if midnight is None:
        return None
    table = history.series(midnight - 3_600_000, midnight + 86_400_000, 60)
    minutes = [(int(b) - midnight) // 60_000 for b in table["bucket_ms"].to_pylist()]
    running, cumulative = 0, []
    for cents in table["gmv_cents"].to_pylist():
        running += int(cents)
        cumulative.append(running)
    return minutes, cumulative


def night_curve(history: History) -> tuple[list[int], list[int]] | None:
    """(minutes after that night's midnight, GMV so far in cents at the end of each minute):
    last year's curve to draw at the same minute of tonight. Cached while its files are unchanged."""
    return _night_curve(history.data_dir, tuple(history.parts()))
