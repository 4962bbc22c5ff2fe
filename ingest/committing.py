"""Committing: a checkpoint's effect with its position in one transaction (its orders' part
written first, a finished compaction's files, the stream gaps found), and the committed files as
the store names them. What this owns is the store's truth, kept in step with each commit."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from common.logs import log_line
from common.settings import Settings
from ingest.checkpoint import Checkpoint
from ingest.compaction import Compaction, Compactor, true_bounds
from ingest.continuity import BEHIND, REMOVED, StreamGap
from ingest.faults import FaultPlan
from ingest.history import Manifest, orders_dir, part_checkpoint
from ingest.judging import ACCEPTED
from ingest.parts import remove_unnamed, write_part
from ingest.read import id_key
from ingest.stages import Stages
from ingest.store import Commit, FileEntry, Store, accounting
from ingest.windows import merchant_minutes, window_deltas

log = logging.getLogger("gmv.ingest")
RECENT_CHECKPOINTS = 2_000  # told in the manifest: ten minutes of commits at 300 ms


def _with_true_bounds(store: Store, folder: Path) -> list[FileEntry]:
    """The committed files, any compacted hour's wrong bounds corrected first (one line each)."""
    files = store.files()
    wrong = true_bounds(folder, files)
    if not wrong:
        return files
    was = {f.name: (f.min_ts_ms, f.max_ts_ms) for f in files}
    store.correct_bounds(wrong)
    for entry in wrong:
        log_line(log, logging.WARNING, "file_bounds_corrected", file=entry.name,
                 was=was[entry.name], now=(entry.min_ts_ms, entry.max_ts_ms))
    return store.files()


class Committer:
    def __init__(self, store: Store, settings: Settings, faults: FaultPlan,
                 stages: Stages) -> None:
        self.store, self.faults, self.stages = store, faults, stages
        self.stream, self.data_dir = settings.orders_stream, settings.data_dir
        self.position = store.position()
        self.files = _with_true_bounds(store, orders_dir(self.data_dir))
        remove_unnamed(self.data_dir, self.files)
        self.gaps = store.stream_gaps()  # entries found removed unread, committed
        self.pending_gaps: list[StreamGap] = []  # ... found since the last commit
        self.accounted = store.accounted()  # entries of the stream read or found lost
        self.clock_s = store.clock_s()  # the night's clock, told to the combiner
        self.epoch = store.stream_epoch()  # the token beside the stream it reads
        self.compactor = Compactor(self.data_dir, faults.reached)
        # When each fresh part was committed; those found at start count as old.
        self.fresh_since = {f.name: 0.0 for f in self.files}
        # Compaction takes every fresh part: those still here came after every compacted one.
        parts = [c for f in self.files if (c := part_checkpoint(f.name)) is not None]
        self.compacted_through = min(parts) - 1 if parts else store.checkpoint
        self.recent: deque[list[int]] = deque(maxlen=RECENT_CHECKPOINTS)
        # Told each commit's checkpoint and position, as soon as the store has it.
        self.listeners: list[Callable[[int, str], None]] = []

    def paths(self) -> list[str]:
        """The committed orders files."""
        return [str(orders_dir(self.data_dir) / f.name) for f in self.files
                if f.kind == "orders"]

    def commit(self, checkpoint: Checkpoint, accepted: pa.Table, deltas: pa.Table,
               merchants: pa.Table, items: pa.Table, position: str, clock_ms: int,
               clock_s: int | None = None) -> None:
        """The checkpoint (its orders `accepted`, their windows, merchants' minutes and declared
        items' sales) up to `position`; `clock_ms`: the night's clock, for compaction;
        `clock_s`: where this checkpoint moves it (None: unmoved), kept with the commit."""
        with self.stages.timed("part"):
            arrival_s = checkpoint.arrival_s
            part = write_part(self.data_dir, accepted, self.store.checkpoint + 1,
                              arrival_s * 1000 + 999 if arrival_s is not None else None)
        self.faults.reached("after_part")
        compacted = self.compactor.take() or Compaction([], [])
        gaps, self.pending_gaps = self.pending_gaps, []
        commit = Commit(position, accepted.num_rows, checkpoint.rejected, checkpoint.duplicates,
                        deltas, merchants, items, part, compacted.retired, compacted.added, gaps,
                        clock_s)
        with self.stages.timed("commit"):
            self.store.commit(self.stream, commit)
        if clock_s is not None:
            self.clock_s = clock_s
        self.faults.reached("after_commit")
        self._committed(commit)
        self.recent.append([self.store.checkpoint, id_key(position)[0],
                            checkpoint.rejected, checkpoint.duplicates])
        self._after_compaction(compacted, part, clock_ms)

    def commit_empty(self, position: str, clock_ms: int,
                     compacted: Compaction | None = None) -> None:
        """A commit of no orders: a compaction's files, or a gap found (its own `position`)."""
        compacted = compacted or Compaction([], [])
        gaps, self.pending_gaps = self.pending_gaps, []
        empty = ACCEPTED.empty_table()
        commit = Commit(position, 0, 0, 0, window_deltas(empty), merchant_minutes(empty),
                        empty.select(["item_id", "quantity"]), None, compacted.retired,
                        compacted.added, gaps)
        self.store.commit(self.stream, commit)
        self._committed(commit)
        self._after_compaction(compacted, None, clock_ms)

    def commit_compaction(self, clock_ms: int, wait_s: float = 0.0) -> bool:
        """A finished compaction (waiting up to `wait_s` for a running one) committed on its
        own, while no orders come; else the next offered. True when one was committed."""
        compacted = self.compactor.take(wait_s)
        if compacted is not None and compacted.retired and self.position is not None:
            self.commit_empty(self.position, clock_ms, compacted)
            return True
        self.compactor.offer(self.files, clock_ms, time.monotonic(), self.fresh_since)
        return False

    def _committed(self, commit: Commit) -> None:
        """The store's truth as this commit left it, kept without asking the store."""
        self.position = commit.position
        for listener in self.listeners:
            listener(self.store.checkpoint, commit.position)
        self.gaps += commit.gaps
        recount, added = accounting(commit)
        self.accounted = (self.accounted if recount is None else recount) + added

    def _after_compaction(self, compacted: Compaction, part: FileEntry | None,
                          clock_ms: int) -> None:
        """The committed files as the store now names them; the compactor offered the next."""
        now = time.monotonic()
        retired = set(compacted.retired)
        self.files = [f for f in self.files if f.name not in retired] + compacted.added + (
            [part] if part is not None else [])
        if compacted.retired:
            self.faults.reached("after_compaction_commit")
            self.compactor.retire(compacted.retired, now)
            self.compacted_through = max([self.compacted_through, *(
                c for name in compacted.retired if (c := part_checkpoint(name)) is not None)])
            for name in compacted.retired:
                self.fresh_since.pop(name, None)
        if part is not None:
            self.fresh_since[part.name] = now
        self.compactor.offer(self.files, clock_ms, now, self.fresh_since)

    def gap_found(self, gap: StreamGap) -> None:
        """Stored with the next commit (a crash before it finds it again)."""
        self.pending_gaps.append(gap)

    def accounted_with(self, read: int) -> int:
        """Entries of the stream read or found lost, with `read` since the last commit."""
        return self.accounted + read + sum(gap.lost or 0 for gap in self.pending_gaps)

    def keep_epoch(self, token: str) -> None:
        self.store.keep_stream_epoch(token)
        self.epoch = token

    def since_restart(self) -> list[StreamGap]:
        """The gaps found since the stream last became another one (committed and pending)."""
        gaps = self.gaps + self.pending_gaps
        restarts = [i for i, gap in enumerate(gaps) if gap.reset]
        return gaps[restarts[-1] + 1:] if restarts else gaps

    def behind_reported(self) -> bool:
        """The stream's going back below the position is said already."""
        return any(gap.cause == BEHIND and gap.after_id == self.position
                   for gap in self.since_restart())

    def reported_through(self) -> str | None:
        """The newest entry known removed among the gaps found since the stream began."""
        newest: str | None = None
        for gap in self.since_restart():
            if gap.cause != REMOVED:
                continue
            mark = gap.through_id or gap.before_id
            if mark is not None and (newest is None or id_key(mark) > id_key(newest)):
                newest = mark
        return newest

    def manifest(self, rejected: int, duplicates: int) -> Manifest:
        return Manifest(self.files, self.position, self.store.checkpoint, self.compacted_through,
                        list(self.recent), rejected, duplicates, self.clock_s)

    def close(self) -> None:
        self.compactor.close()
