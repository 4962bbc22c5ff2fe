"""The night's totals of shared/contract.md, from any relation of accepted orders, exact."""

from __future__ import annotations

from typing import Any

import duckdb

from ingest.contract import beijing_iso, format_cents


def summarize(db: duckdb.DuckDBPyConnection, orders: str, counters: dict[str, int]) -> dict[str, Any]:
    """`orders` is a table name or a table function such as read_parquet(...)."""
    gmv, count = db.execute(
        f"SELECT coalesce(sum(amount_cents), 0)::HUGEINT, count(*) FROM {orders}").fetchone() \
        or (0, 0)
    peak = db.execute(
        f"SELECT ts_ms // 1000 AS second, count(*) AS n FROM {orders} GROUP BY second "
        "ORDER BY n DESC, second ASC LIMIT 1").fetchone()
    devices = db.execute(
        f"SELECT device, sum(amount_cents)::HUGEINT, count(*) FROM {orders} GROUP BY device "
        "ORDER BY device").fetchall()
    return {
        "gmv": format_cents(int(gmv)), "orders": int(count),
        "peak_ops": int(peak[1]) if peak else 0,
        "peak_second": beijing_iso(int(peak[0]) * 1000).replace(".000", "") if peak else None,
        "by_device": {d: {"gmv": format_cents(int(g)), "orders": int(n)} for d, g, n in devices},
        "rejected": int(counters.get("rejected", 0)),
        "duplicates": int(counters.get("duplicates", 0)),
    }
