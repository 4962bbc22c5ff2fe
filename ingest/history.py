"""The history other processes read, never the store: the committed orders as Parquet files named
in `history/manifest.json`, and the night's totals in `summary.json`, each replaced atomically
by the worker after its commits. The one place for where these files are and what they hold."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from common.atomic import atomic_path
from ingest.contract import BEIJING, ORDER_SCHEMA, midnight_ms
from ingest.integrity import CHECKSUMS, GarbledFile, missing, unreadable
from ingest.store import FileEntry

log = logging.getLogger("gmv.history")
MANIFEST_VERSION = 2
# The orders as stored: the contract's columns and the dedupe key, nothing else.
STORED = pa.schema([*ORDER_SCHEMA, ("fp_hi", pa.uint64()), ("fp_lo", pa.uint64())])


def history_dir(data_dir: Path) -> Path:
    return data_dir / "history"


def orders_dir(data_dir: Path) -> Path:
    return history_dir(data_dir) / "orders"


LAST_YEAR_DIR = "last-year"  # where `gmv demo` keeps last year's night, inside tonight's data dir


def last_year_dir(data_dir: Path, configured: str) -> Path | None:
    """Last year's data dir, the same for every reader (the pages, the forecast, `gmv report`):
    GMV_LAST_YEAR_DATA_DIR when set, else the demo's place inside tonight's when it holds
    orders; None when there is none."""
    if configured:
        return Path(configured)
    beside = data_dir / LAST_YEAR_DIR
    return beside if orders_dir(beside).is_dir() else None


def manifest_path(data_dir: Path) -> Path:
    return history_dir(data_dir) / "manifest.json"


def summary_path(data_dir: Path) -> Path:
    return data_dir / "summary.json"


@dataclass(frozen=True)
class Manifest:
    """The committed files; `checkpoint`: the last commit; `compacted_through`: no part of a
    checkpoint up to this one is still a file of its own (its orders are in compacted files)."""

    files: list[FileEntry]
    position: str | None = None
    checkpoint: int = 0
    compacted_through: int = 0
    # The latest checkpoints' [checkpoint, arrival_ms, rejected, duplicates]: what a reader
    # following the parts (the combiner) needs besides the orders.
    recent: list[list[int]] = field(default_factory=list)
    rejected: int = 0  # committed so far, as of `checkpoint`
    duplicates: int = 0
    clock_s: int | None = None  # the night's clock as the worker reads it (ingest/clock.py)


def part_checkpoint(name: str) -> int | None:
    """The checkpoint a fresh part holds the orders of (`part-<checkpoint>.arrow`)."""
    stem = name.removeprefix("part-").removesuffix(".arrow")
    return int(stem) if name.startswith("part-") and stem.isdigit() else None


def publish_manifest(data_dir: Path, manifest: Manifest) -> None:
    """The committed files, for readers: only what a commit names is ever listed."""
    with atomic_path(manifest_path(data_dir)) as tmp:
        tmp.write_text(json.dumps({
            "version": MANIFEST_VERSION, "position": manifest.position,
            "checkpoint": manifest.checkpoint, "compacted_through": manifest.compacted_through,
            "recent": manifest.recent, "rejected": manifest.rejected,
            "duplicates": manifest.duplicates, "clock_s": manifest.clock_s,
            "files": [asdict(f) for f in manifest.files]}))


def publish_summary(data_dir: Path, summary: dict[str, Any]) -> None:
    with atomic_path(summary_path(data_dir)) as tmp:
        tmp.write_text(json.dumps(summary, ensure_ascii=False))


def read_manifest(data_dir: Path) -> list[FileEntry]:
    return read_whole_manifest(data_dir).files


def read_whole_manifest(data_dir: Path) -> Manifest:
    """The committed files as the worker last told; their checksums are what this process's
    first read of each checks it against."""
    path = manifest_path(data_dir)
    try:
        saved = json.loads(path.read_text())
        manifest = Manifest([FileEntry(**f) for f in saved["files"]], saved.get("position"),
                            saved.get("checkpoint", 0), saved.get("compacted_through", 0),
                            saved.get("recent", []), saved.get("rejected", 0),
                            saved.get("duplicates", 0), saved.get("clock_s"))
    except FileNotFoundError:
        return Manifest([])
    except (ValueError, KeyError, TypeError, AttributeError) as err:  # not JSON, not ours
        raise GarbledFile(path, f"is not a readable manifest ({type(err).__name__}: "
                          f"{str(err)[:120]})", "the worker of that data dir rewrites it from "
                          "its store when it starts: run `gmv ingest` for it (or delete the "
                          "file first), then run this command again") from None
    CHECKSUMS.committed(orders_dir(data_dir), ((f.name, f.checksum) for f in manifest.files))
    return manifest


def history_parts(data_dir: Path, kind: str = "orders") -> list[str]:
    """The committed files of a kind, as paths, oldest first (a war room of several partitions
    names each partition's files relative to its own orders dir)."""
    return [str(orders_dir(data_dir) / f.name) for f in read_manifest(data_dir) if f.kind == kind]


def orders_dataset(paths: list[str]) -> ds.Dataset:
    """Committed order files, fresh parts (Arrow IPC) and compacted ones (Parquet), as one
    (each checked against its checksum the first time this process reads it)."""
    CHECKSUMS.verify(paths)
    parquet = [p for p in paths if p.endswith(".parquet")]
    fresh = [p for p in paths if p.endswith(".arrow")]
    parts = ([ds.dataset(parquet, format="parquet")] if parquet else []) + \
        ([ds.dataset(fresh, format="ipc")] if fresh else [])
    return ds.dataset(parts) if len(parts) > 1 else parts[0]


def orders_view(db: duckdb.DuckDBPyConnection, paths: list[str], name: str = "orders") -> None:
    """A view `name` over the committed order files (empty, with the columns, when none)."""
    CHECKSUMS.verify(paths)
    if not paths:
        db.register(f"{name}_empty", STORED.empty_table())
        db.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_empty")
        return
    parquet = [p for p in paths if p.endswith(".parquet")]
    fresh = [p for p in paths if p.endswith(".arrow")]
    selects = []
    if parquet:
        db.execute(f"CREATE OR REPLACE TEMP VIEW {name}_compacted AS SELECT * FROM "
                   f"read_parquet({sql_list(parquet)})")
        selects.append(f"SELECT * FROM {name}_compacted")
    if fresh:
        db.register(f"{name}_fresh", ds.dataset(fresh, format="ipc"))
        selects.append(f"SELECT * FROM {name}_fresh")
    db.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS " + " UNION ALL ".join(selects))


def sql_list(paths: list[str]) -> str:
    """Paths as a SQL list literal, each quoted (a view of them stays its connection's own)."""
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def verify_files(paths: list[str]) -> None:
    """The committed files at `paths` checked against their checksums (once a process), their
    bytes only: a damaged or missing one raises FileProblem."""
    CHECKSUMS.verify(paths)


def read_columns(paths: list[str], columns: list[str], where: ds.Expression | None = None,
                 batch_rows: int = 1_000_000) -> Iterator[pa.RecordBatch]:
    """Some columns of the committed order files, in batches, a file at a time and with
    little read ahead: a whole day's files are read in bounded memory (a scan over all of them
    at once kept gigabytes of decoded batches in flight)."""
    CHECKSUMS.verify(paths)  # all before any: nothing is counted from a file set with a bad one
    for path in paths:
        options = ds.ParquetFragmentScanOptions(pre_buffer=False) \
            if path.endswith(".parquet") else None
        with readable(path):
            yield from orders_dataset([path]).to_batches(
                columns=columns, filter=where, batch_size=batch_rows, batch_readahead=1,
                fragment_readahead=1, fragment_scan_options=options)


@contextlib.contextmanager
def readable(path: str | Path) -> Iterator[None]:
    """A committed file that cannot be read (gone, or damaged where no checksum was kept), as a
    FileProblem naming it."""
    try:
        yield
    except FileNotFoundError:
        raise missing(path) from None
    except (pa.ArrowException, OSError) as err:
        raise unreadable(path, err) from err


def items_sold(paths: list[str], items: list[str]) -> pa.Table:
    """item_id, quantity: what the committed order files hold of `items`."""
    sold: dict[str, int] = {}
    for batch in read_columns(paths, ["item_id", "quantity"], ds.field("item_id").isin(items)):
        for item, quantity in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(),
                                  strict=True):
            sold[item] = sold.get(item, 0) + quantity
    return pa.table({"item_id": pa.array(list(sold), pa.string()),
                     "quantity": pa.array(list(sold.values()), pa.int64())})


def read_summary(data_dir: Path) -> dict[str, Any]:
    """The contract's totals as the worker last committed them (it never needs the store)."""
    path = summary_path(data_dir)
    if not path.exists():
        raise FileNotFoundError(f"no summary at {path}: run `gmv ingest` first, or pass --data")
    try:
        summary = json.loads(path.read_text())
        if not isinstance(summary, dict) or "gmv" not in summary:
            raise ValueError("not the worker's totals")
        return summary
    except ValueError as err:
        raise GarbledFile(path, f"is not readable JSON ({str(err)[:120]})", "the worker "
                          "rewrites it from its store when it starts: run `gmv ingest` for that "
                          "data dir, then this command again") from None


def midnight_of_busiest(second: int) -> int:
    """Midnight (Beijing, epoch ms) opening the festival whose busiest second this is: every
    festival peaks just after its midnight."""
    return midnight_ms(datetime.fromtimestamp(second, tz=BEIJING).date())


def orders_by_second_of_night(data_dir: Path) -> dict[int, int]:
    """A recorded night's accepted orders per second, keyed by seconds after its midnight."""
    parts = history_parts(data_dir)
    if not parts:
        return {}
    db = duckdb.connect()
    orders_view(db, parts)
    rows = db.sql("SELECT ts_ms // 1000 AS s, count(*) AS n FROM orders GROUP BY s").fetchall()
    if not rows:
        return {}
    midnight_s = midnight_of_busiest(max(rows, key=lambda r: (r[1], -r[0]))[0]) // 1000
    return {int(s) - midnight_s: int(n) for s, n in rows}


@dataclass(frozen=True)
class NightMinutes:
    """A recorded night's GMV per minute of its festival day (index 0: 00:00-00:01) and before
    its midnight (the eve), in cents, counting orders stamped before `until_ms` only."""

    midnight_ms: int
    day: list[int]
    before_cents: int
    clock_ms: int  # the newest order counted (or `until_ms`): minutes before its own are complete

    def complete_minutes(self) -> list[int]:
        """The day's minutes that are over by the clock (all of them once the day is)."""
        return self.day[:max(0, (self.clock_ms - self.midnight_ms) // 60_000)]


def night_minutes(data_dir: Path, midnight_ms: int | None = None,
                  until_ms: int | None = None) -> NightMinutes | None:
    """GMV per minute of the night in `data_dir`'s history: of the festival day opening at
    `midnight_ms` (default: the day of its busiest second), up to `until_ms` (default: all of
    it). None when it holds no orders of that day."""
    parts = history_parts(data_dir)
    if not parts:
        return None
    db = duckdb.connect()
    orders_view(db, parts)
    if midnight_ms is None:
        row = db.execute("SELECT ts_ms // 1000 AS s FROM orders GROUP BY s "
                         "ORDER BY count(*) DESC, s LIMIT 1").fetchone()
        if row is None:
            return None
        midnight_ms = midnight_of_busiest(int(row[0]))
    end = midnight_ms + 86_400_000 if until_ms is None else min(until_ms, midnight_ms + 86_400_000)
    rows = db.execute(
        # floor, not //: DuckDB's integer division truncates toward zero (the eve's last minute
        # would join 00:00's).
        "SELECT floor((ts_ms - ?) / 60000.0)::BIGINT AS m, sum(amount_cents)::BIGINT FROM orders "
        "WHERE ts_ms < ? GROUP BY m", [midnight_ms, end]).fetchall()
    by_minute = {int(m): int(cents) for m, cents in rows}
    minutes = max(0, (end - midnight_ms) // 60_000)
    if not any(m >= 0 for m in by_minute):
        return None
    if until_ms is None:
        newest = db.execute("SELECT max(ts_ms) FROM orders").fetchone()
        clock = int(newest[0]) + 1 if newest and newest[0] is not None else end
    else:
        clock = until_ms
    return NightMinutes(midnight_ms, [by_minute.get(m, 0) for m in range(minutes)],
                        sum(cents for m, cents in by_minute.items() if m < 0), clock)
