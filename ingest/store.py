"""DuckDB under the data dir, the worker's alone: the stream position and counters, per-second
windows, per-minute merchant totals, the declared items' sales and the manifest of the history
files (which carry each order once, with its dedupe key), changed together in one transaction
per checkpoint. No index grows with the orders: every table but the tiny ones is appended to."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from common.logs import log_event, log_line
from common.stopping import Stopped, wait_or_stop
from ingest.continuity import StreamGap
from ingest.integrity import about, problem_of

log = logging.getLogger("gmv.store")
# "An extra copy": of a result we want as Arrow anyway. Set once: catching warnings around each
# call is not safe with partitions' workers in threads.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
CHECKPOINT_MB = 64
MEMORY_LIMIT_MB = 128
LOCK_RETRY_S = 1.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS progress (stream VARCHAR, position VARCHAR, checkpoint BIGINT NOT NULL,
    accepted BIGINT NOT NULL, rejected BIGINT NOT NULL, duplicates BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS windows (second BIGINT NOT NULL, dimension VARCHAR NOT NULL,
    value VARCHAR NOT NULL, gmv_cents BIGINT NOT NULL, orders BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS merchant_minutes (minute BIGINT NOT NULL, merchant_id VARCHAR NOT NULL,
    orders BIGINT NOT NULL, gmv_cents BIGINT NOT NULL, checkpoint BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS merchant_totals (merchant_id VARCHAR NOT NULL, orders BIGINT NOT NULL,
    gmv_cents BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS item_sales (item_id VARCHAR NOT NULL, quantity BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS files (name VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL,
    rows BIGINT NOT NULL, min_ts_ms BIGINT, max_ts_ms BIGINT, checkpoint BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS stream_gaps (stream VARCHAR NOT NULL, after_id VARCHAR NOT NULL,
    before_id VARCHAR, through_id VARCHAR, lost BIGINT, reset BOOLEAN NOT NULL,
    found_ms BIGINT NOT NULL, checkpoint BIGINT NOT NULL);
-- A store made before files carried checksums: theirs stay NULL (unknown, not checked).
ALTER TABLE files ADD COLUMN IF NOT EXISTS checksum VARCHAR;
ALTER TABLE files ADD COLUMN IF NOT EXISTS max_arrival_ms BIGINT;
"""
# Entries of the stream read, or found lost, since it began (a stream that restarts: from 0):
# what XINFO's entries-added is weighed against. A store from before it counts every fate.
_ACCOUNTED = """
ALTER TABLE progress ADD COLUMN IF NOT EXISTS accounted BIGINT;
ALTER TABLE progress ADD COLUMN IF NOT EXISTS clock_s BIGINT;
ALTER TABLE stream_gaps ADD COLUMN IF NOT EXISTS cause VARCHAR DEFAULT 'removed';
ALTER TABLE stream_gaps ADD COLUMN IF NOT EXISTS recount BIGINT;
UPDATE progress SET accounted = accepted + rejected + duplicates WHERE accounted IS NULL;
"""


@dataclass
class FileEntry:
    """A committed history file (orders: a fresh part or a compacted hour)."""

    name: str
    kind: str
    rows: int
    min_ts_ms: int | None
    max_ts_ms: int | None
    checkpoint: int
    checksum: str | None = None  # of its bytes as written (ingest/integrity.py); None: unknown
    # When its newest order arrived (its stream id's time): the dedupe horizon is in arrivals,
    # which one payload cannot move (ingest/clock.py). None: a file from before it.
    max_arrival_ms: int | None = None


@dataclass
class Commit:
    """One checkpoint's effect: all of it is committed, or none."""

    position: str
    accepted: int
    rejected: int
    duplicates: int
    windows: pa.Table  # second, dimension, value, gmv_cents, orders
    merchants: pa.Table  # minute, merchant_id, orders, gmv_cents
    items: pa.Table  # item_id, quantity: of the declared items only
    part: FileEntry | None
    retired: list[str] = field(default_factory=list)  # files a compaction replaced
    added: list[FileEntry] = field(default_factory=list)  # ... with these
    gaps: list[StreamGap] = field(default_factory=list)  # entries found removed unread
    clock_s: int | None = None  # the night's clock after it (ingest/clock.py); None: unmoved


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """The file, waiting (and saying so once) while another process holds it."""
    said = False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as err:
            if "lock" not in str(err).lower():
                raise
            if not said:
                log_line(log, logging.WARNING, "store_locked", path=path,
                         detail=str(err).splitlines()[0][:160], retry_every_s=LOCK_RETRY_S)
                said = True
            if wait_or_stop(LOCK_RETRY_S):
                raise Stopped(f"asked to stop while {path} was locked by another process") from None


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        with about(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = _open(path, read_only=False)
            self.db.execute(_SCHEMA)
            if self.db.execute("SELECT count(*) FROM progress").fetchone() == (0,):
                self.db.execute("INSERT INTO progress VALUES (NULL, NULL, 0, 0, 0, 0)")
            self.db.execute(_ACCOUNTED)
        # Fewer, larger checkpoints: committing costs a WAL append, not a rewrite; a fixed
        # memory limit keeps the worker's footprint flat across the night.
        self.db.execute(f"SET checkpoint_threshold = '{CHECKPOINT_MB}MB'")
        self.db.execute(f"SET memory_limit = '{MEMORY_LIMIT_MB}MB'")
        self.db.execute("SET preserve_insertion_order = false")
        self.checkpoint = self.counters()["checkpoints"]

    def close(self) -> None:
        self.db.close()

    def fingerprint_key(self) -> tuple[int, int]:
        """This store's secret key for order-id fingerprints, made once."""
        row = self.db.execute("SELECT value FROM meta WHERE name = 'fingerprint_key'").fetchone()
        if row is None:
            key = os.urandom(16).hex()
            self.db.execute("INSERT INTO meta VALUES ('fingerprint_key', ?)", [key])
            row = (key,)
        text = str(row[0])
        return int(text[:16], 16), int(text[16:], 16)

    def stream_epoch(self) -> str | None:
        """The token left beside the stream this store reads (ingest/read.py epoch_key)."""
        row = self.db.execute("SELECT value FROM meta WHERE name = 'stream_epoch'").fetchone()
        return str(row[0]) if row else None

    def keep_stream_epoch(self, token: str) -> None:
        self.db.execute("INSERT INTO meta VALUES ('stream_epoch', ?) ON CONFLICT DO UPDATE "
                        "SET value = excluded.value", [token])

    def position(self) -> str | None:
        row = self.db.execute("SELECT position FROM progress").fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def counters(self) -> dict[str, int]:
        row = self.db.execute(
            "SELECT checkpoint, accepted, rejected, duplicates FROM progress").fetchone()
        assert row is not None
        return dict(zip(("checkpoints", "accepted", "rejected", "duplicates"), map(int, row),
                        strict=True))

    def clock_s(self) -> int | None:
        """The night's clock as the last commit left it (None: a store from before it)."""
        row = self.db.execute("SELECT clock_s FROM progress").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def accounted(self) -> int:
        row = self.db.execute("SELECT accounted FROM progress").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def stream_gaps(self) -> list[StreamGap]:
        return [StreamGap(*row) for row in self.db.execute(
            "SELECT stream, after_id, before_id, through_id, lost, reset, found_ms, cause, recount "
            "FROM stream_gaps ORDER BY checkpoint, found_ms").fetchall()]

    def files(self) -> list[FileEntry]:
        return [FileEntry(*row) for row in self.db.execute(
            "SELECT name, kind, rows, min_ts_ms, max_ts_ms, checkpoint, checksum, max_arrival_ms "
            "FROM files "
            "ORDER BY checkpoint, name").fetchall()]

    def correct_bounds(self, entries: list[FileEntry]) -> None:
        """Files' event-time bounds as their rows give them (ingest/compaction.py true_bounds)."""
        for entry in entries:
            self.db.execute("UPDATE files SET min_ts_ms = ?, max_ts_ms = ? WHERE name = ?",
                            [entry.min_ts_ms, entry.max_ts_ms, entry.name])

    def commit(self, stream: str, commit: Commit) -> None:
        """The checkpoint's effect with its position, all or nothing."""
        db = self.db
        checkpoint = self.checkpoint + 1
        db.execute("BEGIN TRANSACTION")
        try:
            # Arrow tables by their Python names (DuckDB's replacement scan): no register calls.
            # (Names no table has: a table's name would win over the variable's.)
            new_windows, new_items, new_merchants = commit.windows, commit.items, commit.merchants
            if new_windows.num_rows:
                db.execute("INSERT INTO windows SELECT * FROM new_windows")
            if new_items.num_rows:
                db.execute("INSERT INTO item_sales SELECT * FROM new_items")
            if new_merchants.num_rows:
                db.execute("INSERT INTO merchant_minutes SELECT *, ? FROM new_merchants",
                           [checkpoint])
            for entry in ([commit.part] if commit.part else []) + commit.added:
                db.execute("INSERT INTO files (name, kind, rows, min_ts_ms, max_ts_ms, checkpoint, "
                           "checksum, max_arrival_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
                               entry.name, entry.kind, entry.rows, entry.min_ts_ms,
                               entry.max_ts_ms, checkpoint, entry.checksum,
                               entry.max_arrival_ms])
            if commit.retired:
                db.execute("DELETE FROM files WHERE list_contains(?, name)", [commit.retired])
            for gap in commit.gaps:
                db.execute("INSERT INTO stream_gaps (stream, after_id, before_id, through_id, "
                           "lost, reset, found_ms, checkpoint, cause, recount) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                               gap.stream, gap.after_id, gap.before_id, gap.through_id, gap.lost,
                               gap.reset, gap.found_ms, checkpoint, gap.cause, gap.recount])
            # A stream that restarted is weighed from its start: what this commit read of it.
            db.execute("UPDATE progress SET stream = ?, position = ?, checkpoint = ?, "
                       "accepted = accepted + ?, rejected = rejected + ?, "
                       "duplicates = duplicates + ?, accounted = coalesce(?, accounted) + ?, "
                       "clock_s = coalesce(?, clock_s)", [
                           stream, commit.position, checkpoint, commit.accepted,
                           commit.rejected, commit.duplicates, *accounting(commit),
                           commit.clock_s])
            db.execute("COMMIT")
        except BaseException as err:
            _roll_back(db)
            if isinstance(err, (OSError, duckdb.Error)):  # a full disk, a failed WAL write
                raise problem_of(err, self.path) or err from err
            raise
        self.checkpoint = checkpoint

    def top_merchants(self, n: int) -> list[tuple[str, int, int]]:
        """(merchant_id, orders, gmv_cents) of the `n` merchants with the most GMV, exactly: the
        per-minute rows since the last time are folded into the totals first."""
        db = self.db
        with about(self.path):
            db.execute("BEGIN TRANSACTION")
            try:
                db.execute(
                    "CREATE OR REPLACE TABLE merchant_totals AS SELECT merchant_id, "
                    "sum(orders)::BIGINT AS orders, sum(gmv_cents)::BIGINT AS gmv_cents FROM "
                    "(SELECT * FROM merchant_totals UNION ALL SELECT merchant_id, orders, "
                    "gmv_cents FROM merchant_minutes WHERE checkpoint > (SELECT "
                    "coalesce(max(value::BIGINT), 0) FROM meta WHERE name = 'merchants_folded')) "
                    "GROUP BY merchant_id")
                db.execute("INSERT INTO meta VALUES ('merchants_folded', ?) ON CONFLICT DO "
                           "UPDATE SET value = excluded.value", [str(self.checkpoint)])
                db.execute("COMMIT")
            except BaseException:
                _roll_back(db)
                raise
        rows = db.execute("SELECT merchant_id, orders, gmv_cents FROM merchant_totals "
                          "ORDER BY gmv_cents DESC, merchant_id LIMIT ?", [n]).fetchall()
        return [(str(m), int(o), int(g)) for m, o, g in rows]

    def live_windows(self) -> pa.Table:
        """The night's per-second windows of every dimension, to seed the live state."""
        return self._arrow("SELECT second, dimension, value, sum(gmv_cents)::BIGINT AS gmv_cents, "
                           "sum(orders)::BIGINT AS orders FROM windows GROUP BY ALL")

    def second_orders(self, second: int) -> int:
        row = self.db.execute("SELECT coalesce(sum(orders), 0) FROM windows WHERE second = ? "
                              "AND dimension = 'all'", [second]).fetchone()
        return int(row[0]) if row else 0

    def item_sold(self) -> pa.Table:
        """item_id, quantity: the accepted quantity of each declared item, as recorded."""
        return self._arrow("SELECT item_id, sum(quantity)::BIGINT AS quantity FROM item_sales "
                           "GROUP BY item_id")

    def _arrow(self, query: str, params: list[object] | None = None) -> pa.Table:
        return self.db.execute(query, params).to_arrow_table()

    def size_bytes(self) -> int:
        wal = self.path.with_name(self.path.name + ".wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _roll_back(db: duckdb.DuckDBPyConnection) -> None:
    """Undo the open transaction; when DuckDB has already ended it (a failed COMMIT), the error
    that ended it is the one to tell, not "no transaction is active"."""
    with contextlib.suppress(duckdb.Error):
        db.execute("ROLLBACK")


def accounting(commit: Commit) -> tuple[int | None, int]:
    """The stream's entries read or lost after a commit, as (count it starts again from, or
    None: from the last; added): a gap that recounts (the stream is another one, or went back)
    sets it, the commit's events and the gaps' lost entries add to it."""
    recount = next((g.recount for g in reversed(commit.gaps) if g.recount is not None), None)
    events = commit.accepted + commit.rejected + commit.duplicates
    return recount, events + sum(g.lost or 0 for g in commit.gaps if g.recount is None)


def opened(path: Path) -> Store:
    store = Store(path)
    log_event(log, "store_opened", path=path, checkpoint=store.checkpoint,
              position=store.position())
    return store
