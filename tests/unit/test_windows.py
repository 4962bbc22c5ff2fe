"""A checkpoint's orders, aggregated: every order in each dimension's second, exactly once."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ingest.contract import ORDER_SCHEMA
from ingest.windows import WINDOW_DIMENSIONS, merchant_minutes, window_deltas
from tests.conftest import MIDNIGHT_MS


def test_each_dimension_adds_up_to_the_whole(order_factory) -> None:
    orders = [order_factory(ts_ms=MIDNIGHT_MS + i * 700, amount_cents=100 + i, device=d,
                            payment=p, merchant_id=f"m{i % 3}")
              for i, (d, p) in enumerate([("pc", "alipay"), ("mobile", None), ("pad", "card")] * 7)]
    table = pa.Table.from_pylist([vars(o) for o in orders], schema=ORDER_SCHEMA)
    deltas = window_deltas(table)
    gmv = sum(o.amount_cents for o in orders)
    for dimension in ("all", *WINDOW_DIMENSIONS):
        rows = deltas.filter(pc.equal(deltas["dimension"], dimension))
        assert pc.sum(rows["gmv_cents"]).as_py() == gmv
        assert pc.sum(rows["orders"]).as_py() == len(orders)
    payments = deltas.filter(pc.equal(deltas["dimension"], "payment"))
    assert "none" in payments["value"].to_pylist()  # a missing payment path
    merchants = merchant_minutes(table)
    assert pc.sum(merchants["gmv_cents"]).as_py() == gmv
    assert sorted(set(merchants["merchant_id"].to_pylist())) == ["m0", "m1", "m2"]


def test_no_orders_no_rows() -> None:
    empty = ORDER_SCHEMA.empty_table()
    assert window_deltas(empty).num_rows == 0 and merchant_minutes(empty).num_rows == 0
