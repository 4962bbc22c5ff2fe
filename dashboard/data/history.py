"""The committed orders of a night as the review, the drill-down and last year's curve ask about
them: from the rollups of its history files (dashboard/data/rollups.py), the orders themselves
only where a question is finer than a rollup."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from dashboard.data.rollups import DIMENSIONS, HOUR_S, HOURLY, Rollups, column_sql, grouped
from ingest.history import midnight_of_busiest, read_manifest

__all__ = ["DIMENSIONS", "History", "night_curve"]


@dataclass(frozen=True)
class History:
    """Committed orders in the history files: readable while the worker writes more.
    `cache_root`: the data dir whose rollup cache to use (another night's is read-only)."""

    data_dir: Path
    cache_root: Path | None = None
    rollups: Rollups = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rollups", Rollups(self.data_dir, self.cache_root))

    def parts(self) -> list[str]:
        return self.rollups.parts()

    def bounds_ms(self) -> tuple[int, int] | None:
        """First and last event time of the committed orders (from the manifest: no scan)."""
        files = [f for f in read_manifest(self.data_dir) if f.kind == "orders" and f.rows
                 and f.min_ts_ms is not None and f.max_ts_ms is not None]
        if not files:
            return None
        return min(int(f.min_ts_ms or 0) for f in files), max(int(f.max_ts_ms or 0) for f in files)

    def series(self, start_ms: int, end_ms: int, bucket_s: int,
               dimension: str | None = None, top: int | None = None) -> pa.Table:
        """Orders and GMV per bucket of event time in [start_ms, end_ms), optionally split by a
        dimension (only its `top` values by GMV in the range, when given): columns bucket_ms,
        [value,] orders, gmv_cents (exact, as DECIMAL)."""
        if dimension is not None and dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}")
        with self.rollups.connect((start_ms, end_ms)) as db:
            values = None
            if dimension and top:
                totals = grouped(db, start_ms, end_ms, (dimension,), None)
                order = pc.sort_indices(totals, [("gmv_cents", "descending"),
                                                 ("value", "ascending")])
                values = totals.take(order)["value"].to_pylist()[:top] or [""]
            table = grouped(db, start_ms, end_ms, (dimension or "all",), bucket_s, values)
        table = table.drop_columns(["dimension"])
        return table if dimension else table.drop_columns(["value"])

    def values(self, dimension: str, limit: int = 50) -> list[str]:
        """The dimension's values, most GMV first."""
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}")
        with self.rollups.connect() as db:
            rows = db.execute("SELECT value FROM rollups WHERE dimension = ? GROUP BY value "
                              "ORDER BY sum(gmv_cents) DESC, value LIMIT ?",
                              [dimension + HOURLY, int(limit)]).fetchall()
        return [str(r[0]) for r in rows]

    def count_values(self, dimension: str, start_ms: int, end_ms: int) -> int:
        """How many values of the dimension have orders in the hours [start_ms, end_ms) touches
        (an upper bound, from the hourly rows)."""
        with self.rollups.connect((start_ms, end_ms)) as db:
            row = db.execute("SELECT count(DISTINCT value) FROM rollups WHERE dimension = ? AND "
                             "second >= ? AND second < ?",
                             [dimension + HOURLY, start_ms // 1000 - HOUR_S,
                              -(-end_ms // 1000)]).fetchone()
        return int(row[0]) if row else 0

    def orders(self, start_ms: int, end_ms: int, dimension: str | None = None,
               value: str | None = None, limit: int | None = None) -> pa.Table:
        """The orders themselves of [start_ms, end_ms) (of one value of a dimension when given),
        in event time order, as the contract names their fields; at most `limit` rows."""
        if dimension is not None and dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}")
        where = f" AND {column_sql(dimension)} = ?" if dimension else ""
        params: list[object] = [start_ms, end_ms, *([value] if dimension else [])]
        with self.rollups.connect((start_ms, end_ms)) as db:
            return db.execute(
                "SELECT order_id, ts_ms, amount_cents, device, category, region, merchant_id, "
                "buyer_id, item_id, quantity, payment FROM orders WHERE ts_ms >= ? AND ts_ms < ?"
                f"{where} ORDER BY ts_ms, order_id{f' LIMIT {int(limit)}' if limit else ''}",
                params).to_arrow_table()

    def drill(self, dimension: str, value: str, start_ms: int, end_ms: int,
              bucket_s: int) -> pa.Table:
        """Orders and GMV per bucket of [start_ms, end_ms) for one value of one dimension."""
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}")
        with self.rollups.connect((start_ms, end_ms)) as db:
            table = grouped(db, start_ms, end_ms, (dimension,), bucket_s, [value])
        return table.drop_columns(["dimension", "value"])

    def festival_midnight_ms(self) -> int | None:
        """Midnight (Beijing) opening the festival in these files: the day of the busiest second,
        for every festival peaks just after its midnight. Cached while the files are unchanged."""
        return _festival_midnight(self.rollups, tuple(self.parts()))


@functools.lru_cache(maxsize=8)
def _festival_midnight(rollups: Rollups, parts: tuple[str, ...]) -> int | None:
    with rollups.connect() as db:
        row = db.execute("SELECT second FROM rollups WHERE dimension = 'all' GROUP BY second "
                         "ORDER BY sum(orders) DESC, second LIMIT 1").fetchone()
    return midnight_of_busiest(int(row[0])) if row else None


@functools.lru_cache(maxsize=4)
def _night_curve(data_dir: Path, cache_root: Path | None,
                 parts: tuple[str, ...]) -> tuple[list[int], list[int]] | None:
    history = History(data_dir, cache_root)
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
    return _night_curve(history.data_dir, history.cache_root, tuple(history.parts()))
