"""Reading and judging: each entry read gets its fate (rejected and dead-lettered, a duplicate,
or accepted) and the accepted wait in the open checkpoint until it is committed. What this owns
(the entries read and not yet judged, the open checkpoint, the dedupe table with their keys) is
what a crash drops: all of it is made again from the last commit (the dedupe table's files undo
what the commit never took, ingest/generations.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.dataset as ds
import redis

from common.logs import log_line
from common.settings import Settings
from ingest.checkpoint import Checkpoint, with_fingerprints
from ingest.decode import DECODED, decode_batch
from ingest.dedupe import SeenOrders, fingerprints
from ingest.faults import FaultPlan
from ingest.generations import Generations
from ingest.history import read_columns
from ingest.read import Entries
from ingest.stages import Stages
from ingest.store import FileEntry

log = logging.getLogger("gmv.ingest")
UNDECODABLE_LOGS_PER_MIN = 20
ACCEPTED = pa.schema([*DECODED, ("fp_hi", pa.uint64()), ("fp_lo", pa.uint64())])


class WithinHorizon(NamedTuple):
    arrived: list[FileEntry]  # files whose newest order arrived within the horizon
    older: list[FileEntry]  # files from before arrivals were kept, with orders paid within it


def within_horizon(files: list[FileEntry], arrived_since_ms: int,
                   since_ms: int) -> WithinHorizon:
    """The committed order files whose keys the dedupe table remembers (remembered below)."""
    orders = [f for f in files if f.kind == "orders"]
    return WithinHorizon(
        [f for f in orders if f.max_arrival_ms is not None
         and f.max_arrival_ms >= arrived_since_ms],
        [f for f in orders if f.max_arrival_ms is None and (f.max_ts_ms or 0) >= since_ms])


def remembered(files: list[FileEntry], folder: Path, arrived_since_ms: int, since_ms: int,
               make: Callable[[int], SeenOrders]) -> SeenOrders:
    """The dedupe table made from the keys the committed orders carry (`files`, in `folder`):
    every key of a file whose orders arrived from `arrived_since_ms` on (the horizon is in
    arrivals: a replayed old night's keys stay, however old their event time, and one order
    stamped far ahead moves nothing); of a file from before arrivals were kept, those with an
    event time from `since_ms` on. `make`: an empty table for at least so many orders."""
    arrived, older = within_horizon(files, arrived_since_ms, since_ms)
    seen = make(sum(f.rows for f in arrived + older))
    for chosen, where in ((arrived, None), (older, ds.field("ts_ms") >= since_ms)):
        paths = [str(folder / f.name) for f in chosen]
        for batch in read_columns(paths, ["fp_hi", "fp_lo"], where) if paths else []:
            seen.first_seen(batch.column(0).to_numpy(), batch.column(1).to_numpy())
    return seen


class Judge:
    def __init__(self, client: redis.Redis, settings: Settings, key: tuple[int, int],
                 seen: Generations, read_position: str | None, faults: FaultPlan,
                 stages: Stages) -> None:
        """`key`: the store's secret for order-id fingerprints; `seen`: the committed keys;
        `read_position`: the committed position (reading goes on from there)."""
        self.client, self.settings, self.key, self.seen = client, settings, key, seen
        self.faults, self.stages = faults, stages
        self.read_position = read_position  # the last entry taken into the open checkpoint
        self.pending = Checkpoint(settings.checkpoint_interval_ms / 1000,
                                  settings.checkpoint_events)
        self.unjudged: list[Entries] = []
        self._undecodable_logged: list[float] = []

    def queue(self, entries: Entries) -> None:
        """Read: judged a full read at a time in a backlog, a checkpoint at a time in a trickle
        (each judging has a fixed cost of its own)."""
        self.unjudged.append(entries)
        if self.queued() >= self.settings.ingest_batch_size:
            self.judge_queued()

    def queued(self) -> int:
        return sum(map(len, self.unjudged))

    def read(self) -> int:
        """Entries read since the last commit, judged or not."""
        return self.pending.events + self.queued()

    def holds(self) -> bool:
        return bool(self.pending or self.unjudged)

    def due(self) -> bool:
        return self.pending.due(self.queued())

    def take(self) -> Checkpoint:
        """Everything read, judged, as the checkpoint to commit; the next one opens."""
        self.judge_queued()
        checkpoint, self.pending = self.pending, self.pending.next()
        return checkpoint

    def judge_queued(self) -> None:
        if self.unjudged:
            entries, self.unjudged = Entries.joined(self.unjudged), []
            self._judge(entries)

    def _judge(self, entries: Entries) -> None:
        """Each entry's fate; the rejected dead-lettered now, the accepted kept for the commit."""
        started = time.monotonic()
        with self.stages.timed("decode"):
            decoded = decode_batch(entries, self.settings.future_ts_margin_ms)
            self._dead_letter(entries, decoded.rejected)
        self.faults.reached("after_dead_letters")
        orders = decoded.orders
        with self.stages.timed("dedupe"):
            fp_hi, fp_lo = fingerprints(orders["order_id"], self.key)
            new = self.seen.first_seen(fp_hi, fp_lo)
            accepted = with_fingerprints(orders, fp_hi, fp_lo).filter(pa.array(new))
        self.faults.reached("after_dedupe_table")
        self.pending.add(accepted, len(entries), len(decoded.rejected),
                         orders.num_rows - accepted.num_rows, entries.first_id,
                         entries.last_id,
                         time.monotonic() - started)
        self.read_position = entries.last_id

    def _dead_letter(self, entries: Entries, rejected: list[tuple[int, str]]) -> None:
        # Before the commit: a crash in between sends them again, so the dead-letter stream is
        # at-least-once; `source_id` lets its reader drop the repeats.
        if not rejected:
            return
        pipe = self.client.pipeline(transaction=False)
        for index, reason in rejected:
            pipe.xadd(self.settings.dead_letter_stream, {
                "data": entries.payload(index) or b"", "reason": reason,
                "source_id": entries.entry_id(index)})
            if reason.startswith("undecodable"):
                self._log_undecodable(entries.entry_id(index), reason)
        pipe.execute()

    def _log_undecodable(self, entry_id: bytes, reason: str) -> None:
        """A payload that raised something unexpected: said, at most so often."""
        now = time.monotonic()
        self._undecodable_logged = [t for t in self._undecodable_logged if now - t < 60]
        if len(self._undecodable_logged) < UNDECODABLE_LOGS_PER_MIN:
            self._undecodable_logged.append(now)
            log_line(log, logging.WARNING, "payload_undecodable", entry=entry_id.decode(),
                     reason=reason)
