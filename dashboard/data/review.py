"""The review's questions as data: a range, a resolution, a dimension, a comparison; the answer
as a table that the charts draw and the exports write, exact to the cent."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common.csv_cells import csv_text
from dashboard.data.history import DIMENSIONS, History
from dashboard.data.ranges import ordered
from dashboard.said import Said
from ingest.contract import BEIJING, format_cents

RESOLUTIONS_S = {"second": 1, "minute": 60, "hour": 3600}
COMPARISONS = ("none", "previous", "last_year")
MAX_BUCKETS = 20_000  # a browser draws this many points per line without trouble
EXPORT_MAX_ROWS = 500_000
CHART_VALUES = 8  # lines on the review's chart when it is split by a dimension
MERCHANT_SECONDS_MAX_MS = 3_600_000  # merchants per second come from the orders themselves


class ExportTooBig(ValueError):
    def __init__(self, rows: int) -> None:
        super().__init__(f"the export would hold about {rows:,} rows (at most "
                         f"{EXPORT_MAX_ROWS:,}): choose a coarser resolution or a shorter range")
        self.rows = rows


@dataclass(frozen=True)
class ReviewQuery:
    start_ms: int
    end_ms: int
    resolution: str = "minute"
    dimension: str | None = None

    def __post_init__(self) -> None:
        ordered(self.start_ms, self.end_ms)
        if self.resolution not in RESOLUTIONS_S:
            raise Said("unknown_resolution", value=self.resolution)
        if self.dimension is not None and self.dimension not in DIMENSIONS:
            raise Said("unknown_dimension", value=self.dimension)
        if (self.end_ms - self.start_ms) / 1000 / self.bucket_s > MAX_BUCKETS:
            raise Said("too_many_points")
        if self.dimension == "merchant" and self.resolution == "second" and \
                self.end_ms - self.start_ms > MERCHANT_SECONDS_MAX_MS:
            raise Said("merchant_seconds")

    @property
    def bucket_s(self) -> int:
        return RESOLUTIONS_S[self.resolution]

    def shifted(self, by_ms: int) -> ReviewQuery:
        return ReviewQuery(self.start_ms + by_ms, self.end_ms + by_ms, self.resolution, None)

    def as_dict(self) -> dict[str, Any]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "resolution": self.resolution,
                "dimension": self.dimension}


def answer(history: History, query: ReviewQuery) -> pa.Table:
    return history.series(query.start_ms, query.end_ms, query.bucket_s, query.dimension)


def partial_buckets(query: ReviewQuery, latest_ms: int | None) -> list[int]:
    """Starts of the buckets the range (or the night so far, up to `latest_ms`) covers only in
    part: drawn as partial, not as a fall."""
    bucket_ms = query.bucket_s * 1000
    covered_end = min(query.end_ms, latest_ms + 1000) if latest_ms is not None else query.end_ms
    first = query.start_ms // bucket_ms * bucket_ms
    partial = [first] if first < query.start_ms else []
    last = (covered_end - 1) // bucket_ms * bucket_ms
    if last + bucket_ms > covered_end and last not in partial and last >= first:
        partial.append(last)
    return partial


def export_answer(history: History, query: ReviewQuery) -> pa.Table:
    """The answer for an export, refused before it is computed when it would exceed
    EXPORT_MAX_ROWS (buckets x the dimension's values in the range)."""
    buckets = -(-(query.end_ms - query.start_ms) // (query.bucket_s * 1000))
    values = history.count_values(query.dimension, query.start_ms, query.end_ms) \
        if query.dimension else 1
    if buckets * values > EXPORT_MAX_ROWS:
        raise ExportTooBig(buckets * values)
    return answer(history, query)


def chart_series(table: pa.Table, metric: str, top_values: int = 8) -> dict[str, list[Any]]:
    """{"bucket_ms": [...], "<name>": [...]} with one line per dimension value (the largest
    `top_values`) or one line "all"; GMV in yuan for drawing, orders as counts."""
    buckets = sorted(set(table["bucket_ms"].to_pylist()))
    index = {b: i for i, b in enumerate(buckets)}
    column = "gmv_cents" if metric == "gmv" else "orders"
    lines: dict[str, list[Any]] = {}
    values = table["value"].to_pylist() if "value" in table.column_names else ["all"] * table.num_rows
    if "value" in table.column_names:
        by_gmv = table.group_by("value").aggregate([("gmv_cents", "sum")]).sort_by(
            [("gmv_cents_sum", "descending")])
        keep = set(by_gmv["value"].to_pylist()[:top_values])
    else:
        keep = {"all"}
    for bucket, value, amount in zip(table["bucket_ms"].to_pylist(), values,
                                     table[column].to_pylist(), strict=True):
        if value in keep:
            line = lines.setdefault(str(value), [0] * len(buckets))
            line[index[bucket]] = int(amount) / 100 if metric == "gmv" else int(amount)
    return {"bucket_ms": buckets, **lines}


def totals(table: pa.Table) -> tuple[int, int]:
    """(orders, GMV in cents) of the whole answer."""
    orders = pc.sum(table["orders"]).as_py() or 0
    gmv = pc.sum(table["gmv_cents"]).as_py() or Decimal(0)
    return int(orders), int(gmv)


def export_orders(history: History, query: ReviewQuery, dimension: str | None = None,
                  value: str | None = None) -> pa.Table:
    """The orders of the range (of one value, when given) for an order-level export: amounts in
    yuan as exact decimals, times in Beijing time; refused beyond EXPORT_MAX_ROWS."""
    table = history.orders(query.start_ms, query.end_ms, dimension, value,
                           limit=EXPORT_MAX_ROWS + 1)
    if table.num_rows > EXPORT_MAX_ROWS:
        raise ExportTooBig(table.num_rows)
    return table.drop_columns(["ts_ms", "amount_cents"]) \
        .add_column(1, "ts", _beijing_times(table["ts_ms"])) \
        .add_column(2, "amount", _yuan(table["amount_cents"]))


def orders_csv(table: pa.Table) -> str:
    return _csv(table, "ts")


def _beijing_times(epoch_ms: pa.ChunkedArray) -> pa.Array:
    return pa.array(epoch_ms.to_pylist(), pa.timestamp("ms")).cast(
        pa.timestamp("ms", tz="Asia/Shanghai"))


def _yuan(cents: pa.ChunkedArray) -> pa.Array:
    """Cents (integers or DECIMAL) as exact yuan decimals."""
    return pa.array([Decimal(format_cents(int(c))) for c in cents.to_pylist()],
                    pa.decimal128(20, 2))


def export_table(table: pa.Table) -> pa.Table:
    """The answer as people read it: bucket start in Beijing time, orders, GMV in yuan (exact)."""
    columns: dict[str, Any] = {"bucket_start": _beijing_times(table["bucket_ms"])}
    if "value" in table.column_names:
        columns["value"] = table["value"]
    columns["orders"] = table["orders"].cast(pa.int64())
    columns["gmv"] = _yuan(table["gmv_cents"])
    return pa.table(columns)


def to_csv(table: pa.Table) -> str:
    return _csv(export_table(table), "bucket_start")


def _csv(table: pa.Table, time_column: str) -> str:
    """A table as CSV (common/csv_cells.py: text neutralised and quoted, numbers as numbers): the
    time column in ISO with its +08:00, a missing value empty."""
    def rows() -> Iterator[list[Any]]:
        for row in table.to_pylist():
            row[time_column] = row[time_column].astimezone(BEIJING)
            yield list(row.values())
    return csv_text(table.column_names, rows())


def to_parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(export_table(table), sink)
    return sink.getvalue()

