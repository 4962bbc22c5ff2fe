"""Compaction: the checkpoints' fresh parts (Arrow IPC, one per commit) become Parquet files by
event hour, and an hour's files are merged into one, so that a whole day is tens of files, not
thousands. It runs in its own thread, reading and writing in row groups (its memory does not
grow with the hour); its result is committed by the worker with a checkpoint, like any part:
the new files are written first, then one transaction names them and retires the old ones,
which are deleted a little later (a reader may still have them open)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from common.logs import log_event, log_line
from ingest.history import STORED, orders_dataset, orders_dir, readable
from ingest.integrity import CHECKSUMS, FileProblem, HashingFile, about, problem_of
from ingest.store import FileEntry

log = logging.getLogger("gmv.compaction")
HOUR_MS = 3_600_000
FRESH_PARTS = 32  # compact fresh parts once there are this many...
FRESH_AGE_S = 30.0  # ...or the oldest is this old
HOUR_FILES = 4  # merge an hour's files once it has this many (two, once the hour is over)
CLOSED_AFTER_MS = 15 * 60_000  # an hour this far behind the clock gets late orders only
ROW_GROUP_ROWS = 100_000
RETIRED_KEPT_S = 60.0
# While a live worker falls behind, a compaction waits for it between two inputs, for at most as
# long as it has worked plus YIELD_GRACE_S: on two cores it would otherwise take the core the
# worker, Redis and the publishers share (freshness at 100k orders/s). Live: the worker caught
# up (a read came back short) within LIVE_WINDOW_S; a backlog drained flat out (after an outage,
# a replay) is not waited for, nor is a compaction with twice its usual inputs or more (it fell
# behind): the files stay tens, and a crash during a compaction lands where it always did.
YIELD_GRACE_S = 1.0
LIVE_WINDOW_S = 30.0


@dataclass
class Compaction:
    retired: list[str]
    added: list[FileEntry]


def true_bounds(folder: Path, files: list[FileEntry]) -> list[FileEntry]:
    """The compacted hours whose recorded event-time bounds differ from the rows they hold, with
    the bounds their Parquet statistics give (each row group's min and max of ts_ms: no scan).
    Hours merged between 560cd56 and b812764 kept only their last inputs' bounds, and the review
    found no file for a range early in such an hour."""
    wrong = []
    for entry in files:
        if entry.kind != "orders" or _hour(entry.name) is None or not entry.rows:
            continue
        with about(folder / entry.name):
            bounds = _parquet_ts_bounds(folder / entry.name)
        if bounds is not None and bounds != (entry.min_ts_ms, entry.max_ts_ms):
            wrong.append(dataclasses.replace(entry, min_ts_ms=bounds[0], max_ts_ms=bounds[1]))
    return wrong


def _parquet_ts_bounds(path: Path) -> tuple[int, int] | None:
    meta = pq.ParquetFile(path).metadata
    column = meta.schema.names.index("ts_ms")
    lows, highs = [], []
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(column).statistics
        if stats is None or not stats.has_min_max:
            return None  # not this writer's file: left as recorded
        lows.append(int(stats.min))
        highs.append(int(stats.max))
    return (min(lows), max(highs)) if lows else None


def _hour(name: str) -> int | None:
    return int(name.split("-")[1]) if name.startswith("hour-") else None


class Compactor:
    """Chooses what to compact from the committed files and does it in its own thread; the
    worker takes each result and commits it."""

    def __init__(self, data_dir: Path, reached: Callable[[str], None]) -> None:
        self.folder = orders_dir(data_dir)
        self.reached = reached
        # A result, or the file problem that stopped it (the worker raises it: a damaged input
        # would fail again at every try).
        self._result: queue.Queue[Compaction | FileProblem] = queue.Queue(maxsize=1)
        # One at a time, from planning until its result is committed: a plan made while a
        # result waits would compact the same files twice.
        self._busy = threading.Event()
        self._closing = threading.Event()
        self._caught_up = threading.Event()  # cleared while the worker's reads come back full
        self._caught_up_at = float("-inf")  # when a read last came back short (monotonic)
        self._run_started = self._yielded_s = 0.0
        self._may_yield = True
        self._thread: threading.Thread | None = None
        self._retired: list[tuple[float, list[str]]] = []

    def offer(self, files: list[FileEntry], clock_ms: int | None, now_s: float,
              fresh_since_s: dict[str, float]) -> None:
        """Start a compaction if one is due and none is running. `fresh_since_s`: when each
        fresh part was committed (monotonic)."""
        self._delete_retired(now_s)
        if self._busy.is_set():
            return
        work = self._plan(files, clock_ms, now_s, fresh_since_s)
        if work is None:
            return
        self._busy.set()
        self._thread = threading.Thread(target=self._run, args=work, name="compaction",
                                        daemon=True)
        self._thread.start()

    def worker_read(self, full: bool) -> None:
        """The worker's last read came back full (more were waiting: it is behind) or not."""
        if full:
            self._caught_up.clear()
        else:
            self._caught_up_at = time.monotonic()
            self._caught_up.set()

    def close(self) -> None:
        """The worker is stopping: a running compaction is abandoned (its file, which no commit
        names, is deleted) and its thread joined, so that no Arrow work outlives the process."""
        self._closing.set()
        self._caught_up.set()
        if self._thread is not None:
            self._thread.join()

    def _plan(self, files: list[FileEntry], clock_ms: int | None, now_s: float,
              fresh_since_s: dict[str, float]) -> tuple[list[FileEntry], str] | None:
        fresh = [f for f in files if f.kind == "orders" and f.name.startswith("part-")]
        oldest = min((fresh_since_s.get(f.name, now_s) for f in fresh), default=now_s)
        if len(fresh) >= FRESH_PARTS or (fresh and now_s - oldest >= FRESH_AGE_S):
            return fresh, "fresh"
        by_hour: defaultdict[int, list[FileEntry]] = defaultdict(list)
        for entry in files:
            if (hour := _hour(entry.name)) is not None:
                by_hour[hour].append(entry)
        for hour, entries in sorted(by_hour.items()):
            closed = clock_ms is not None and (hour + 1) * HOUR_MS + CLOSED_AFTER_MS <= clock_ms
            if len(entries) >= HOUR_FILES or (closed and len(entries) >= 2):
                return entries, "hour"
        return None

    def take(self, wait_s: float = 0.0) -> Compaction | None:
        """A finished compaction, to commit now (waiting for a running one up to `wait_s`);
        the next may then start. Raises the FileProblem that stopped one."""
        if wait_s:
            self._caught_up.set()  # the worker waits for the compaction, not the other way
        try:
            done = self._result.get(timeout=wait_s) if wait_s and self._busy.is_set() \
                else self._result.get_nowait()
        except queue.Empty:
            return None
        self._busy.clear()
        if isinstance(done, FileProblem):
            raise done
        return done

    def _run(self, inputs: list[FileEntry], what: str) -> None:
        started = self._run_started = time.monotonic()
        self._yielded_s = 0.0
        usual = FRESH_PARTS if what == "fresh" else HOUR_FILES
        self._may_yield = len(inputs) < 2 * usual
        try:
            added = self._fresh(inputs) if what == "fresh" else self._merge(inputs)
        except _Abandoned:
            log_event(log, "compaction_abandoned", what=what, files_in=len(inputs))
            return
        except Exception as err:  # noqa: BLE001 - the files stay as they are
            problem = problem_of(err)
            if problem is not None:  # a damaged input, a full disk: the worker stops, says so
                self._result.put(problem)
                return
            log_line(log, logging.WARNING, "compaction_failed", what=what,  # tried again later
                     error=f"{type(err).__name__}: {str(err)[:160]}")
            self._result.put(Compaction([], []))  # a worker waiting for it goes on at once
            return
        self.reached("after_compaction_write")
        log_event(log, "compacted", what=what, files_in=len(inputs), files_out=len(added),
                  rows=sum(f.rows for f in added), seconds=time.monotonic() - started,
                  yielded_s=self._yielded_s)
        self._result.put(Compaction([f.name for f in inputs], added))

    def _fresh(self, parts: list[FileEntry]) -> list[FileEntry]:
        """Fresh parts -> one new Parquet file per event hour they touch."""
        writers: dict[int, _HourWriter] = {}
        try:
            for entry in parts:
                self._between_inputs()
                with readable(self.folder / entry.name):
                    table = orders_dataset([str(self.folder / entry.name)]).to_table()
                hours = pc.divide(table["ts_ms"], HOUR_MS)
                for hour in pc.unique(hours).to_pylist():
                    if hour not in writers:
                        writers[hour] = _HourWriter(self.folder, hour)
                    writers[hour].write(table.filter(pc.equal(hours, hour)))
                    writers[hour].arrived(entry.max_arrival_ms)
            return [writer.close() for writer in writers.values()]
        except BaseException:
            for writer in writers.values():
                writer.abandon()
            raise

    def _merge(self, files: list[FileEntry]) -> list[FileEntry]:
        """An hour's files -> one."""
        hour = _hour(files[0].name)
        assert hour is not None
        writer = _HourWriter(self.folder, hour)
        try:
            for entry in files:
                path = self.folder / entry.name
                writer.arrived(entry.max_arrival_ms)
                CHECKSUMS.verify([path])
                with readable(path):
                    source = pq.ParquetFile(path)
                for group in range(source.num_row_groups):
                    self._between_inputs()
                    with readable(path):
                        rows = source.read_row_group(group)
                    writer.write(rows)
            return [writer.close()]
        except BaseException:
            writer.abandon()
            raise

    def _between_inputs(self) -> None:
        """Abandoned if the worker stops; else, while a live worker is behind, its turn (within
        the budget of YIELD_GRACE_S and the live window)."""
        if self._may_yield and not self._caught_up.is_set():
            waited = time.monotonic()
            budget = min(waited - self._run_started - 2 * self._yielded_s + YIELD_GRACE_S,
                         self._caught_up_at + LIVE_WINDOW_S - waited)
            if budget > 0:
                self._caught_up.wait(budget)
            self._yielded_s += time.monotonic() - waited
        if self._closing.is_set():
            raise _Abandoned

    def retire(self, names: list[str], now_s: float) -> None:
        """Files a commit no longer names: deleted once no reader can still be reading them."""
        self._retired.append((now_s, names))

    def _delete_retired(self, now_s: float) -> None:
        while self._retired and now_s - self._retired[0][0] >= RETIRED_KEPT_S:
            names = self._retired.pop(0)[1]
            for name in names:
                (self.folder / name).unlink(missing_ok=True)
            CHECKSUMS.forget(self.folder, names)


class _Abandoned(Exception):
    """The worker stopped during a compaction."""


class _HourWriter:
    """One Parquet file of an event hour, written in sorted row groups under a temporary name
    (renamed when closed; a crash before the commit that names it leaves a file nobody names)."""

    def __init__(self, folder: Path, hour: int) -> None:
        self.name = f"hour-{hour}-{os.urandom(4).hex()}.parquet"
        self.path = folder / self.name
        self.tmp = folder / f".tmp-{self.name}"
        with about(self.path):
            self.hashing = HashingFile(self.tmp)  # the checksum of the bytes as written
            self.sink = pa.PythonFile(self.hashing, mode="w")
            self.writer = pq.ParquetWriter(self.sink, STORED, compression="zstd",
                                           compression_level=3, store_schema=False)
        self.pending: list[pa.Table] = []
        self.pending_rows = self.rows = 0
        self.max_arrival_ms: int | None = 0  # None once an input's is unknown
        # The file's event-time bounds over every row it holds: the review picks files by them.
        self.low: int | None = None
        self.high: int | None = None

    def arrived(self, max_arrival_ms: int | None) -> None:
        """An input's newest arrival: the file's is the newest of its inputs' (unknown if one's
        is: it is then kept within every dedupe horizon)."""
        if self.max_arrival_ms is not None:
            self.max_arrival_ms = None if max_arrival_ms is None else max(self.max_arrival_ms,
                                                                          max_arrival_ms)

    def write(self, rows: pa.Table) -> None:
        self.pending.append(rows.cast(STORED))
        self.pending_rows += rows.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            with about(self.path):
                self._flush()

    def _flush(self) -> None:
        if not self.pending_rows:
            return
        table = pa.concat_tables(self.pending).sort_by("ts_ms")
        low, high = pc.min_max(table["ts_ms"]).values()
        self.low = low.as_py() if self.low is None else min(self.low, low.as_py())
        self.high = high.as_py() if self.high is None else max(self.high, high.as_py())
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.rows += table.num_rows
        self.pending, self.pending_rows = [], 0

    def abandon(self) -> None:
        with contextlib.suppress(OSError, pa.ArrowException):  # a full disk: the file goes anyway
            self.writer.close()
        self.sink.close()
        self.tmp.unlink(missing_ok=True)

    def close(self) -> FileEntry:
        with about(self.path):
            self._flush()
            self.writer.close()
            self.sink.close()
            os.replace(self.tmp, self.path)
        checksum = self.hashing.checksum()
        CHECKSUMS.written(self.path, checksum)
        return FileEntry(self.name, "orders", self.rows, self.low, self.high, 0, checksum,
                         self.max_arrival_ms)
