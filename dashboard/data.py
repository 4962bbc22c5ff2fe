"""Everything the dashboard reads: the live snapshot in Redis, and the history files for the review.

Nothing else in the dashboard touches Redis or files. Each gunicorn worker holds only a Redis
connection pool and read-only caches of files that do not change (last year's night).
"""

from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import flask
import pyarrow as pa
import redis

from gmv.settings import Settings
from ingest.detect.watch import read_alerts
from ingest.festival import midnight_ms
from ingest.history import history_parts, midnight_of_busiest, orders_dir
from ingest.redis_server import connect
from ingest.store import read_summary

DIMENSIONS = ("device", "category", "region", "payment", "merchant")
_COLUMN = {"merchant": "merchant_id", "payment": "coalesce(payment, 'none')"}


@dataclass(frozen=True)
class DataSource:
    settings: Settings
    client: redis.Redis

    @classmethod
    def connect(cls, settings: Settings) -> DataSource:
        url = settings.redis_url or "redis://127.0.0.1:6379/0"
        return cls(settings, connect(url, socket_timeout=2, socket_connect_timeout=2))

    def live(self) -> dict[str, Any] | None:
        """The live snapshot, with `age_ms`: how old its heartbeat is by this server's clock.
        None when there is none yet, or Redis cannot be reached."""
        raw = self.raw_live()
        if raw is None:
            return None
        return json.loads(raw) | {"age_ms": snapshot_age_ms(raw, int(time.time() * 1000))}

    def night(self) -> dict[str, Any] | None:
        """The night document, parsed once per change (callers must not modify it)."""
        raw = self.night_raw()
        return parsed_night(raw) if raw else None

    def night_raw(self) -> bytes | None:
        """The night document's bytes: what the night charts are drawn (and cached) from."""
        return self._raw(self.settings.night_key)

    def raw_live(self) -> bytes | None:
        """The snapshot's bytes as the worker wrote them, for /api/live."""
        return self._raw(self.settings.snapshot_key)

    def _raw(self, key: str) -> bytes | None:
        try:
            value = self.client.get(key)
        except redis.RedisError:
            return None
        return value if isinstance(value, bytes) else None

    def _raws(self, *keys: str) -> list[bytes | None]:
        """Several keys in one round trip (None for each when Redis is away)."""
        try:
            values = self.client.mget(keys)
        except redis.RedisError:
            return [None] * len(keys)
        return [v if isinstance(v, bytes) else None for v in values]

    def alerts_raw(self) -> tuple[bytes | None, ...]:
        """The worker's and the watchdog's alert feeds, as they wrote them."""
        return tuple(self._raws(self.settings.alerts_key, self.settings.pipeline_alerts_key))

    def drawing_raw(self) -> tuple[bytes | None, tuple[bytes | None, ...]]:
        """The night document and both alert feeds, in one round trip: what the night charts
        are drawn (and cached) from, on every screen's request."""
        night, *alerts = self._raws(self.settings.night_key, self.settings.alerts_key,
                                    self.settings.pipeline_alerts_key)
        return night, tuple(alerts)

    def alerts(self) -> list[dict[str, Any]]:
        """The alert feed of the night: open ones first (most severe, then newest), then the
        resolved ones, newest first."""
        return parsed_alerts(self.alerts_raw())

    def stored_alerts(self) -> list[dict[str, Any]]:
        """Every alert of the night from the files, oldest first: what the review draws."""
        return read_alerts(self.settings.data_dir)

    def acknowledge(self, key: str, at_ms: int) -> None:
        """An operator has seen the alert: the worker (or the watchdog) records it in its feed."""
        self.client.hsetnx(self.settings.acks_key, key, at_ms)

    def summary(self) -> dict[str, Any]:
        return read_summary(self.settings.data_dir)

    def festival_midnight_ms(self) -> int:
        return midnight_ms(date.fromisoformat(self.settings.festival_date))

    def history(self) -> History:
        return History(self.settings.data_dir)

    def last_year(self) -> History | None:
        path = self.settings.last_year_data_dir
        return History(Path(path)) if path and orders_dir(Path(path)).is_dir() else None



_HEARTBEAT = re.compile(rb'"heartbeat_ms":(\d+)')


def snapshot_age_ms(raw: bytes, now_ms: int) -> int:
    """How old a snapshot's heartbeat is by this server's clock (a browser's may be wrong)."""
    beat = _HEARTBEAT.search(raw)
    return max(now_ms - int(beat[1]), 0) if beat else 0


@functools.lru_cache(maxsize=2)
def parsed_night(raw: bytes) -> dict[str, Any]:
    return dict(json.loads(raw))


SEVERITY_ORDER = {"critical": 0, "major": 1, "warning": 2, "info": 3}


@functools.lru_cache(maxsize=4)
def parsed_alerts(raws: tuple[bytes | None, ...]) -> list[dict[str, Any]]:
    alerts = [a for raw in raws if raw for a in json.loads(raw).get("alerts", [])]
    return sorted(alerts, key=lambda a: (a.get("state") == "resolved",
                                         SEVERITY_ORDER.get(a.get("severity", ""), 9),
                                         -int(a.get("start_ms") or 0)))


def source() -> DataSource:
    """The data source of the app serving this request."""
    found: DataSource = flask.current_app.extensions["gmv"]
    return found


@dataclass(frozen=True)
class History:
    """Committed orders in the history Parquet files: readable while the worker writes more."""

    data_dir: Path

    def parts(self) -> list[str]:
        return history_parts(self.data_dir)

    def _query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        parts = self.parts()
        db = duckdb.connect()
        if parts:
            db.read_parquet(parts).create_view("orders")
        else:
            db.execute("CREATE VIEW orders AS SELECT NULL::BIGINT AS ts_ms, 0::BIGINT AS amount_cents, "
                       "'' AS device, '' AS category, '' AS region, '' AS merchant_id, "
                       "NULL::VARCHAR AS payment LIMIT 0")
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
