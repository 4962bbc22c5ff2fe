"""A checkpoint's new orders aggregated: per event-time second and dimension value, and per
minute and merchant. Small tables, whatever the number of orders: what the store appends."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

WINDOW_DIMENSIONS = ("device", "category", "region", "payment")
WINDOWS = pa.schema([("second", pa.int64()), ("dimension", pa.string()), ("value", pa.string()),
                     ("gmv_cents", pa.int64()), ("orders", pa.int64())])
MERCHANT_MINUTES = pa.schema([("minute", pa.int64()), ("merchant_id", pa.string()),
                              ("orders", pa.int64()), ("gmv_cents", pa.int64())])


def _sums(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.group_by(keys, use_threads=False).aggregate(
        [("amount_cents", "sum"), ("amount_cents", "count")])


def window_deltas(accepted: pa.Table) -> pa.Table:
    """second, dimension, value, gmv_cents, orders: dimension 'all' (value 'all') and each of
    WINDOW_DIMENSIONS (a missing payment is 'none')."""
    if accepted.num_rows == 0:
        return WINDOWS.empty_table()
    seconds = pc.divide(accepted["ts_ms"], 1000)
    table = pa.table({"second": seconds, "amount_cents": accepted["amount_cents"],
                      **{d: accepted[d] for d in WINDOW_DIMENSIONS}})
    table = table.set_column(table.schema.get_field_index("payment"), "payment",
                             pc.fill_null(table["payment"], "none"))
    parts = []
    for dimension in ("all", *WINDOW_DIMENSIONS):
        if dimension == "all":
            sums = _sums(table, ["second"])
            values = pa.array(["all"] * sums.num_rows, pa.string())
        else:
            sums = _sums(table, ["second", dimension])
            values = sums[dimension].cast(pa.string())
        parts.append(pa.table({
            "second": sums["second"], "dimension": pa.array([dimension] * sums.num_rows,
                                                            pa.string()),
            "value": values, "gmv_cents": sums["amount_cents_sum"],
            "orders": sums["amount_cents_count"]}, schema=WINDOWS))
    return pa.concat_tables(parts)


def merchant_minutes(accepted: pa.Table) -> pa.Table:
    """minute, merchant_id, orders, gmv_cents of the new orders."""
    if accepted.num_rows == 0:
        return MERCHANT_MINUTES.empty_table()
    sums = _sums(pa.table({"minute": pc.divide(accepted["ts_ms"], 60_000),
                           "merchant_id": accepted["merchant_id"],
                           "amount_cents": accepted["amount_cents"]}), ["minute", "merchant_id"])
    return pa.table({"minute": sums["minute"], "merchant_id": sums["merchant_id"],
                     "orders": sums["amount_cents_count"], "gmv_cents": sums["amount_cents_sum"]},
                    schema=MERCHANT_MINUTES)
