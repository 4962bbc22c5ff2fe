"""Compaction keeps every order exactly once while a day's thousands of parts become a file or
two an hour, through the real files and the compactor's own thread."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import redis

from common.settings import Settings
from ingest.checkpoint import with_fingerprints
from ingest.compaction import (
    FRESH_PARTS,
    HOUR_FILES,
    HOUR_MS,
    LIVE_WINDOW_S,
    YIELD_GRACE_S,
    Compaction,
    Compactor,
)
from ingest.contract import ORDER_SCHEMA
from ingest.dedupe import fingerprints
from ingest.history import orders_dataset, orders_dir, read_manifest
from ingest.parts import write_part
from ingest.store import FileEntry, opened
from ingest.worker import run_worker
from tests.conftest import MIDNIGHT_MS


def parts(data_dir: Path, order_factory, count: int, start: int = 1) -> list[FileEntry]:
    """`count` parts of 50 orders, spread over three event hours."""
    written = []
    for checkpoint in range(start, start + count):
        orders = [order_factory(order_id=f"o{checkpoint}-{i}",
                                ts_ms=MIDNIGHT_MS + (checkpoint % 3) * HOUR_MS + i * 1000)
                  for i in range(50)]
        table = pa.Table.from_pylist([vars(o) for o in orders], schema=ORDER_SCHEMA)
        table = with_fingerprints(table, *fingerprints(table["order_id"], (1, 2)))
        entry = write_part(data_dir, table, checkpoint)
        assert entry is not None
        written.append(entry)
    return written


def compact(compactor: Compactor, files: list[FileEntry]) -> Compaction:
    compactor.offer(files, MIDNIGHT_MS + 10 * HOUR_MS, 1e9, {f.name: 0.0 for f in files})
    done = compactor.take(wait_s=60)
    assert done is not None
    return done


def test_fresh_parts_become_one_file_an_hour_with_every_order(tmp_path: Path,
                                                              order_factory) -> None:
    files = parts(tmp_path, order_factory, 40)
    done = compact(Compactor(tmp_path, lambda step: None), files)
    assert sorted(done.retired) == sorted(f.name for f in files)
    assert len(done.added) == 3 and all(f.name.startswith("hour-") for f in done.added)
    table = orders_dataset([str(orders_dir(tmp_path) / f.name) for f in done.added]).to_table()
    assert table.num_rows == 40 * 50 == sum(f.rows for f in done.added)
    assert len(set(table["order_id"].to_pylist())) == 2000
    for entry in done.added:  # each file holds one hour, sorted
        hours = pc.unique(pc.divide(orders_dataset([str(orders_dir(tmp_path) / entry.name)])
                                    .to_table()["ts_ms"], HOUR_MS))
        assert len(hours) == 1


def compacted_line(caplog) -> dict[str, float]:  # noqa: ANN001
    (line,) = [r.getMessage() for r in caplog.records if "event=compacted" in r.getMessage()]
    caplog.clear()
    return {k: float(v) for k, v in re.findall(r"(seconds|yielded_s)=([0-9.]+)", line)}


def test_a_compaction_gives_way_to_a_live_worker_behind_yet_always_finishes(
        tmp_path: Path, order_factory, caplog) -> None:  # noqa: ANN001
    """On two cores a compaction takes the core the worker, Redis and the publishers share: it
    waits between two inputs while a live worker's reads come back full (it caught up within
    LIVE_WINDOW_S), for at most as long as it has worked plus YIELD_GRACE_S. Never for a backlog
    drained flat out (no read came back short: a crash during a compaction lands where it
    always did), nor when it fell behind itself (twice its usual inputs: the full-day bench's
    parts grew to 600 while the worker was behind for half an hour)."""
    caplog.set_level(logging.INFO, logger="gmv.compaction")
    compactor = Compactor(tmp_path, lambda step: None)
    first = 1
    for case, count in (("flat_out", 40), ("live_behind", 40), ("caught_up", 40),
                        ("live_behind", 2 * FRESH_PARTS)):
        files = parts(tmp_path, order_factory, count, start=first)
        first += count
        if case == "live_behind":
            compactor.worker_read(full=False)
        compactor.worker_read(full=case != "caught_up")  # and so it stays
        compactor.offer(files, MIDNIGHT_MS + 10 * HOUR_MS, 1e9, {f.name: 0.0 for f in files})
        done = None
        while done is None:  # the worker reading on: it never waits for the compaction
            done = compactor.take()
            time.sleep(0.01)
        assert sorted(done.retired) == sorted(f.name for f in files)
        said = compacted_line(caplog)
        if case == "live_behind" and count < 2 * FRESH_PARTS:
            worked = said["seconds"] - said["yielded_s"]
            assert YIELD_GRACE_S * 0.9 <= said["yielded_s"] <= min(
                worked + YIELD_GRACE_S, LIVE_WINDOW_S) + 0.5
        else:
            assert said["yielded_s"] == 0, case


def test_an_hours_files_are_merged_and_the_replaced_ones_deleted_later(tmp_path: Path,
                                                                       order_factory) -> None:
    compactor = Compactor(tmp_path, lambda step: None)
    hourly: list[FileEntry] = []
    for round_ in range(HOUR_FILES):  # each round adds one file to each hour
        hourly += compact(compactor, parts(tmp_path, order_factory, 3, 1 + 3 * round_)).added
    merged = compact(compactor, hourly)
    assert len(merged.added) == 1 and len(merged.retired) == HOUR_FILES
    assert merged.added[0].rows == HOUR_FILES * 50
    compactor.retire(merged.retired, now_s=100.0)
    compactor.offer([], None, now_s=120.0, fresh_since_s={})
    assert all((orders_dir(tmp_path) / name).exists() for name in merged.retired)  # a reader?
    compactor.offer([], None, now_s=200.0, fresh_since_s={})
    assert not any((orders_dir(tmp_path) / name).exists() for name in merged.retired)


def test_a_compacted_hours_bounds_cover_every_row_it_holds(tmp_path: Path) -> None:
    """The review picks files by these bounds: an hour's file merged from big inputs kept only
    the last inputs' (each input's arrival reset them), so a range early in the hour found no
    file and /review drew an empty chart over right totals (found from outside, issue #24)."""
    written = []
    for checkpoint in range(3):  # each input past a row group: flushed before the next arrives
        n = 120_000
        ts = pa.array([MIDNIGHT_MS + checkpoint * 1_000_000 + i * 8 for i in range(n)], pa.int64())
        table = pa.table({
            "order_id": pa.array([f"o{checkpoint}-{i}" for i in range(n)]), "ts_ms": ts,
            "amount_cents": pa.array([100] * n, pa.int64()),
            **{c: pa.array(["x"] * n) for c in ("device", "category", "region", "merchant_id",
                                                "buyer_id", "item_id", "payment")},
            "quantity": pa.array([1] * n, pa.int64())}).select(ORDER_SCHEMA.names).cast(ORDER_SCHEMA)
        table = with_fingerprints(table, *fingerprints(table["order_id"], (1, 2)))
        entry = write_part(tmp_path, table, checkpoint + 1)
        assert entry is not None
        written.append(entry)
    (hour,) = compact(Compactor(tmp_path, lambda step: None), written).added
    ts_ms = orders_dataset([str(orders_dir(tmp_path) / hour.name)]).to_table()["ts_ms"]
    low, high = pc.min_max(ts_ms).values()
    assert (hour.min_ts_ms, hour.max_ts_ms) == (low.as_py(), high.as_py()) == (
        MIDNIGHT_MS, MIDNIGHT_MS + 2_000_000 + (120_000 - 1) * 8)


def test_a_worker_starting_on_hours_merged_with_wrong_bounds_corrects_them(
        redis_client: redis.Redis, settings: Settings, order_factory, caplog) -> None:
    """Hours merged before that fix keep their wrong bounds in the store until merged again (last
    year's night never is): a worker starting on such a data dir corrects them from the files'
    Parquet statistics, says so in one line each, and the manifest the review reads has them."""
    data_dir = settings.data_dir
    merged = compact(Compactor(data_dir, lambda step: None), parts(data_dir, order_factory, 6))
    assert len(merged.added) == 3
    store = opened(data_dir / "gmv.duckdb")
    for entry in merged.added:  # as the old writer recorded them: the last input's bounds only
        store.db.execute(
            "INSERT INTO files (name, kind, rows, min_ts_ms, max_ts_ms, checkpoint, checksum, "
            "max_arrival_ms) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
            [entry.name, entry.kind, entry.rows, entry.max_ts_ms - 1000, entry.max_ts_ms,
             entry.checksum, entry.max_arrival_ms])
    store.close()
    with caplog.at_level(logging.WARNING, logger="gmv.ingest"):
        run_worker(redis_client, settings, until_idle=True)
    truth = {e.name: (e.min_ts_ms, e.max_ts_ms) for e in merged.added}
    assert all(low == high - 49_000 for low, high in truth.values())  # 50 orders a second apart
    assert {f.name: (f.min_ts_ms, f.max_ts_ms) for f in read_manifest(data_dir)} == truth
    store = opened(data_dir / "gmv.duckdb")
    assert {f.name: (f.min_ts_ms, f.max_ts_ms) for f in store.files()} == truth
    store.close()
    assert sum("file_bounds_corrected" in r.getMessage() for r in caplog.records) == 3
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gmv.ingest"):  # once: right ones stay as are
        run_worker(redis_client, settings, until_idle=True)
    assert not any("file_bounds_corrected" in r.getMessage() for r in caplog.records)
