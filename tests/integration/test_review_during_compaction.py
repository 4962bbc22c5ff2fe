"""The review and the drill-down keep answering while the worker compacts the history under
them: a question that listed its files before a compaction reads them (and their rollups) to the
end, even when another process's question has meanwhile moved on to the compacted files.

Real Parquet files, a real manifest, real DuckDB; the race is driven at a named point (a
question has listed its files), not by timing."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dashboard.data.history import History
from dashboard.data.rollups import CACHE_DIR, Rollups, grouped
from ingest.compaction import RETIRED_KEPT_S
from ingest.history import STORED, Manifest, orders_dir, publish_manifest
from ingest.store import FileEntry
from tests.conftest import MIDNIGHT_MS

HOUR_MS = 3_600_000


def _orders_file(data_dir: Path, name: str, first: int, count: int) -> FileEntry:
    """`count` orders of 1.00 each, one a second from MIDNIGHT_MS + `first` s, as a committed
    Parquet file."""
    ts = [MIDNIGHT_MS + (first + i) * 1000 for i in range(count)]
    columns = {
        "order_id": [f"o{first + i}" for i in range(count)], "ts_ms": ts,
        "amount_cents": [100] * count, "device": ["mobile"] * count,
        "category": ["food"] * count, "region": ["ZJ"] * count, "merchant_id": ["m1"] * count,
        "buyer_id": ["b1"] * count, "item_id": ["i1"] * count, "quantity": [1] * count,
        "payment": ["alipay"] * count, "fp_hi": [first + i for i in range(count)],
        "fp_lo": [0] * count}
    folder = orders_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=STORED), folder / name)
    return FileEntry(name, "orders", count, ts[0], ts[-1], 1)


def _commit(data_dir: Path, files: list[FileEntry]) -> None:
    publish_manifest(data_dir, Manifest(files, checkpoint=len(files)))


def _gmv_cents(db: duckdb.DuckDBPyConnection) -> int:
    table = grouped(db, MIDNIGHT_MS, MIDNIGHT_MS + HOUR_MS, ("all",), None)
    return int(table["gmv_cents"].to_pylist()[0])


def test_a_question_reads_to_the_end_while_another_moves_on_to_the_compacted_files(
        tmp_path: Path) -> None:
    first = _orders_file(tmp_path, "part-1.parquet", 0, 30)
    second = _orders_file(tmp_path, "part-2.parquet", 30, 30)
    _commit(tmp_path, [first, second])
    History(tmp_path).series(MIDNIGHT_MS, MIDNIGHT_MS + HOUR_MS, 60)  # rollups built

    with Rollups(tmp_path).connect() as asking:  # a question has listed its files: here
        # The worker compacts: the merged file is written and committed; the retired ones stay
        # on disk for RETIRED_KEPT_S (ingest/compaction.py), as it does.
        _commit(tmp_path, [_orders_file(tmp_path, "hour-0-beef.parquet", 0, 60)])
        # Another gunicorn worker's question builds the merged file's rollup.
        History(tmp_path).series(MIDNIGHT_MS, MIDNIGHT_MS + HOUR_MS, 60)
        # The first question reads on: its files and their rollups are still there.
        assert _gmv_cents(asking) == 60 * 100


def test_rollups_of_retired_files_go_once_no_question_has_listed_them_for_a_while(
        tmp_path: Path) -> None:
    _commit(tmp_path, [_orders_file(tmp_path, "part-1.parquet", 0, 30)])
    History(tmp_path).series(MIDNIGHT_MS, MIDNIGHT_MS + HOUR_MS, 60)
    cache = next((tmp_path / CACHE_DIR).iterdir())
    retired = list(cache.glob("part-1-*.parquet"))
    assert len(retired) == 1
    merged = _orders_file(tmp_path, "hour-0-beef.parquet", 0, 30)
    _commit(tmp_path, [merged])
    History(tmp_path).series(MIDNIGHT_MS, MIDNIGHT_MS + HOUR_MS, 60)
    assert retired[0].exists()  # listed a moment ago: kept
    long_ago = retired[0].stat().st_mtime - RETIRED_KEPT_S - 1
    os.utime(retired[0], (long_ago, long_ago))
    _commit(tmp_path, [merged, _orders_file(tmp_path, "part-2.parquet", 30, 30)])
    history = History(tmp_path)
    orders = history.series(MIDNIGHT_MS, MIDNIGHT_MS + HOUR_MS, 3600)["orders"].to_pylist()
    assert orders == [60]
    assert not retired[0].exists()
    assert sorted(p.name.split("-")[0] for p in cache.glob("*.parquet")) == ["hour", "part"]
