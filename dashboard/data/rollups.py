"""The review's rollups: per committed order file, its orders and GMV per second by device,
category, region and payment (and in all), and per minute by merchant, kept beside the data
as small Parquet files. Coarse questions read these (a 100 M-order day is a few million rows);
only what is finer than a rollup (a merchant per second, the edge of a range inside a minute)
reads the orders themselves.

A history file never changes once committed (compaction writes new ones), so a rollup is built
once, the first time a question needs it, and dropped once its file has left the manifest and no
question has listed it for as long as the worker keeps a retired file (a question in another
process may be reading it: deleted under it, DuckDB said "No files found" and the page a 500)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from common.logs import log_event, log_line
from ingest.compaction import RETIRED_KEPT_S
from ingest.history import orders_dir, orders_view, read_manifest, sql_list
from ingest.integrity import CHECKSUMS, FileProblem, file_checksum

log = logging.getLogger("gmv.review")

DIMENSIONS = ("device", "category", "region", "payment", "merchant")
SECOND_DIMENSIONS = ("device", "category", "region", "payment")
_COLUMN = {"all": "'all'", "merchant": "merchant_id", "payment": "coalesce(payment, 'none')"}


def column_sql(dimension: str) -> str:
    """The orders' expression for a dimension's value (a missing payment is 'none')."""
    return _COLUMN.get(dimension, dimension)
GRAIN_S = {d: 1 for d in ("all", *SECOND_DIMENSIONS)} | {"merchant": 60}
HOUR_S = 3600
HOURLY = "@h"  # a dimension's hourly rows: `device@h` (a day's merchants in 480k rows, not 10M)
CACHE_DIR = "review-rollups"
ROLLUP_VERSION = 2  # in every rollup's name: a new layout is built anew, not misread

# One file's rollup: `second` is the bucket's first second (a minute's, for merchants), and
# the same per hour.
_FINE_SQL = """
SELECT ts_ms // 1000 AS second, 'all' AS dimension, 'all' AS value, count(*) AS orders,
       sum(amount_cents)::BIGINT AS gmv_cents FROM orders GROUP BY ALL
UNION ALL
SELECT second, CASE g WHEN 7 THEN 'device' WHEN 11 THEN 'category' WHEN 13 THEN 'region'
                      ELSE 'payment' END AS dimension,
       CASE g WHEN 7 THEN device WHEN 11 THEN category WHEN 13 THEN region
              ELSE payment END AS value, orders, gmv_cents
FROM (SELECT ts_ms // 1000 AS second, device, category, region,
             coalesce(payment, 'none') AS payment, count(*) AS orders,
             sum(amount_cents)::BIGINT AS gmv_cents,
             GROUPING(device, category, region, payment) AS g  -- the set's bits: 7 = device
      FROM orders GROUP BY GROUPING SETS ((second, device), (second, category),
                                          (second, region), (second, payment)))
UNION ALL
SELECT ts_ms // 60000 * 60 AS second, 'merchant' AS dimension, merchant_id AS value,
       count(*) AS orders, sum(amount_cents)::BIGINT AS gmv_cents FROM orders GROUP BY ALL
"""
_ROLLUP_SQL = f"""
SELECT * FROM fine
UNION ALL
SELECT second // {HOUR_S} * {HOUR_S}, dimension || '{HOURLY}', value, sum(orders)::BIGINT,
       sum(gmv_cents)::BIGINT FROM fine GROUP BY ALL
"""


def _cache_key(part: str) -> str:
    """A name that changes with the file (its path, size and modification time); the rollup's
    file is `<key>-<its own CRC-32>.parquet`, so that it proves itself when read."""
    stat = os.stat(part)
    key = f"{ROLLUP_VERSION}|{os.path.abspath(part)}|{stat.st_size}|{stat.st_mtime_ns}"
    return f"{Path(part).stem}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def _key_and_checksum(name: str) -> tuple[str, str]:
    key, _, crc = name.removesuffix(".parquet").rpartition("-")
    return key, f"crc32:{crc}"


@dataclass(frozen=True)
class Rollups:
    """The rollups of the history in `data_dir`, cached under `cache_root`'s data dir."""

    data_dir: Path
    cache_root: Path | None = None

    @property
    def cache(self) -> Path:
        return Path(self.cache_root or self.data_dir) / CACHE_DIR / hashlib.sha1(
            str(Path(self.data_dir).resolve()).encode()).hexdigest()[:8]

    def parts(self, *spans: tuple[int, int]) -> list[str]:
        """The committed order files, those holding event times in any of `spans` ([start_ms,
        end_ms)) when given."""
        folder = orders_dir(self.data_dir)
        return [str(folder / f.name) for f in read_manifest(self.data_dir)
                if f.kind == "orders" and (not spans or any(
                    f.min_ts_ms is None or f.max_ts_ms is None
                    or (f.min_ts_ms < end and f.max_ts_ms >= start) for start, end in spans))]

    def files(self, parts: list[str]) -> list[str]:
        """The rollup of each of `parts`, built where missing or damaged (a rollup is the
        review's cache: its committed file, checked itself, makes it again)."""
        self.cache.mkdir(parents=True, exist_ok=True)
        present = self._present()
        wanted, built = [], False
        for part in parts:
            key = _cache_key(part)
            target = present.get(key)
            if target is None or not _in_use(target) or not _proven(target):
                with open(self.cache / ".lock", "w") as lock:  # one build at a time per host
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    target = next(iter(self.cache.glob(f"{key}-*.parquet")), None)
                    if target is None or not _in_use(target) or not _proven(target):
                        target = _build(part, self.cache, key)
                        built = True
            wanted.append(str(target))
        if built:
            self._forget_retired()
        return wanted

    def _present(self) -> dict[str, Path]:
        return {_key_and_checksum(p.name)[0]: p for p in self.cache.glob("*.parquet")}

    def _forget_retired(self) -> None:
        """Drop the rollups of files no longer committed (compacted into others) that no
        question has listed for RETIRED_KEPT_S: one that read the manifest before the
        compaction may still be reading them, as it may the retired files themselves."""
        keep = set()
        for part in self.parts():
            with contextlib.suppress(FileNotFoundError):  # retired meanwhile
                keep.add(_cache_key(part))
        unused_since = time.time() - RETIRED_KEPT_S
        for old in self.cache.glob("*.parquet"):
            if _key_and_checksum(old.name)[0] not in keep:
                with contextlib.suppress(FileNotFoundError):  # forgotten by another process
                    if old.stat().st_mtime < unused_since:
                        old.unlink()

    def connect(self, *spans: tuple[int, int]) -> duckdb.DuckDBPyConnection:
        """A connection with the views `rollups` and `orders` (the raw orders) over the files
        holding `spans` (all files when none is given)."""
        for _ in range(3):
            parts = self.parts(*spans)
            try:
                files = self.files(parts)
                break
            except FileNotFoundError:  # compacted away since the manifest was read: again
                continue
        else:
            raise RuntimeError("the history kept changing under the review; try again")
        db = _database().cursor()  # its own connection, to the process's one database
        if files:
            db.execute(f"CREATE OR REPLACE TEMP VIEW rollups AS SELECT * FROM "
                       f"read_parquet({sql_list(files)})")
        else:
            db.execute("CREATE TEMP VIEW rollups AS SELECT 0::BIGINT AS second, '' AS dimension, "
                       "'' AS value, 0::BIGINT AS orders, 0::BIGINT AS gmv_cents WHERE false")
        orders_view(db, parts)
        return db


_SHARED: list[duckdb.DuckDBPyConnection] = []
_SHARED_LOCK = threading.Lock()


def _database() -> duckdb.DuckDBPyConnection:
    """One in-memory database per process for every question: its cache keeps the files'
    Parquet footers between questions (reading 31 files' footers again cost more than most
    answers). Each question gets a cursor of its own, with views of its own (temporary)."""
    with _SHARED_LOCK:
        if not _SHARED:
            db = duckdb.connect()
            db.execute("SET parquet_metadata_cache = true")
            _SHARED.append(db)
        return _SHARED[0]


def shared_cursor() -> duckdb.DuckDBPyConnection:
    """A connection of its own to the process's database (for queries over Arrow tables)."""
    return _database().cursor()


def warm_in_background(*rollups: Rollups) -> threading.Thread:
    """Build the missing rollups of these histories in a daemon thread, so the morning's first
    question does not wait for a whole day's (questions meanwhile build what they need)."""
    def warm() -> None:
        started = time.monotonic()
        try:
            for each in rollups:
                each.files(each.parts())
        except (OSError, duckdb.Error) as err:  # a file compacted away meanwhile, a full disk
            log_event(log, "rollups_warm_failed", error=err)
            return
        log_event(log, "rollups_warm", histories=len(rollups),
                  seconds=round(time.monotonic() - started, 1))

    thread = threading.Thread(target=warm, name="rollups-warm", daemon=True)
    thread.start()
    return thread


def _in_use(rollup: Path) -> bool:
    """Marks the rollup as listed by a question now (its modification time: its bytes never
    change), so that no process forgets it while the question may read it; False: gone."""
    try:
        os.utime(rollup)
    except FileNotFoundError:
        return False
    return True


def _proven(rollup: Path) -> bool:
    """Its bytes are those it was written with (checked once per process); a damaged one is
    deleted, to be built again."""
    CHECKSUMS.expect(rollup, _key_and_checksum(rollup.name)[1])
    try:
        CHECKSUMS.verify([rollup])
    except FileProblem as problem:
        log_line(log, logging.WARNING, "rollup_damaged", rollup=rollup, problem=problem.what,
                 action="built again from its committed file")
        rollup.unlink(missing_ok=True)
        return False
    return True


def _build(part: str, cache: Path, key: str) -> Path:
    """The rollup of `part`, named by `key` and its checksum (DuckDB writes it: the small file
    is read back once to take it)."""
    db = duckdb.connect()
    orders_view(db, [part])
    db.execute(f"CREATE TEMP TABLE fine AS {_FINE_SQL}")
    tmp = cache / f".{key}.{os.getpid()}.tmp"
    db.execute(f"COPY ({_ROLLUP_SQL} ORDER BY dimension, second) TO '{tmp}' "
               "(FORMAT parquet, ROW_GROUP_SIZE 100000)")
    checksum = file_checksum(tmp)
    target = cache / f"{key}-{checksum.removeprefix('crc32:')}.parquet"
    os.replace(tmp, target)
    CHECKSUMS.written(target, checksum)
    log_event(log, "rollup_built", part=Path(part).name, rollup=target.name)
    return target


def split_range(start_ms: int, end_ms: int, grain_s: int) -> tuple[tuple[int, int] | None,
                                                                     list[tuple[int, int]]]:
    """[start_ms, end_ms) as the whole buckets of `grain_s` inside it (in seconds: first, end)
    and the pieces at either edge finer than that (in ms), which only the orders can answer."""
    grain_ms = grain_s * 1000
    first = -(-start_ms // grain_ms) * grain_ms
    last = end_ms // grain_ms * grain_ms
    if first >= last:
        return None, [(start_ms, end_ms)]
    edges = [(a, b) for a, b in ((start_ms, first), (last, end_ms)) if b > a]
    return (first // 1000, last // 1000), edges


def _pieces(start_ms: int, end_ms: int, dimension: str,
            bucket_s: int | None) -> tuple[list[tuple[str, int, int]], list[tuple[int, int]]]:
    """[start_ms, end_ms) as rollup pieces (rows' dimension, first second, end second), the
    coarsest grain first, and what is left for the orders (ms)."""
    levels = [(HOUR_S, dimension + HOURLY), (GRAIN_S[dimension], dimension)]
    pieces: list[tuple[str, int, int]] = []
    left = [(start_ms, end_ms)]
    for grain, rows in levels:
        if bucket_s is not None and bucket_s % grain:
            continue  # finer buckets than this grain: not from these rows
        still: list[tuple[int, int]] = []
        for a, b in left:
            inner, edges = split_range(a, b, grain)
            if inner is not None:
                pieces.append((rows, *inner))
            still += edges
        left = still
    return pieces, left


def grouped(db: duckdb.DuckDBPyConnection, start_ms: int, end_ms: int, dimensions: tuple[str, ...],
            bucket_s: int | None, values: list[str] | None = None) -> pa.Table:
    """Orders and GMV of [start_ms, end_ms) by dimension and value (and bucket of `bucket_s`
    when given; only `values` when given): columns [bucket_ms,] dimension, value, orders,
    gmv_cents (DECIMAL, exact). Whole hours from the hourly rows, the rest from the finest
    rollup that the buckets allow, the edges finer than that from the orders."""
    selects: list[str] = []
    params: list[Any] = []
    bucket = f"second // {bucket_s} * {bucket_s * 1000} AS bucket_ms, " if bucket_s else ""
    raw_bucket = f"ts_ms // {bucket_s * 1000} * {bucket_s * 1000} AS bucket_ms, " \
        if bucket_s else ""
    only = f" AND value IN ({', '.join('?' * len(values))})" if values else ""
    for dimension in dimensions:
        pieces, edges = _pieces(start_ms, end_ms, dimension, bucket_s)
        for rows, first, end in pieces:
            selects.append(f"SELECT {bucket}'{dimension}' AS dimension, value, orders, gmv_cents "
                           f"FROM rollups WHERE dimension = ? AND second >= ? AND second < ?{only}")
            params += [rows, first, end, *(values or [])]
        column = column_sql(dimension)
        for a, b in edges:
            selects.append(f"SELECT * FROM (SELECT {raw_bucket}'{dimension}' AS dimension, "
                           f"{column}::VARCHAR AS value, 1 AS orders, amount_cents AS gmv_cents "
                           f"FROM orders WHERE ts_ms >= ? AND ts_ms < ?) WHERE true{only}")
            params += [a, b, *(values or [])]
    keys = "bucket_ms, dimension, value" if bucket_s else "dimension, value"
    return db.execute(
        f"SELECT {keys}, sum(orders)::BIGINT AS orders, sum(gmv_cents)::DECIMAL(38, 0) AS "
        f"gmv_cents FROM ({' UNION ALL '.join(selects)}) GROUP BY {keys} ORDER BY {keys}",
        params).to_arrow_table()
