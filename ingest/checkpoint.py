"""What the worker has read and judged since its last commit: it commits when an interval or a
count has passed (whichever first), or when the stream goes quiet."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ingest.read import id_key

TRICKLE_EVENTS = 2_000  # fewer than this by the interval: the checkpoint waits up to twice as long


@dataclass
class Checkpoint:
    interval_s: float
    max_events: int
    started: float = field(default_factory=time.monotonic)
    tables: list[pa.Table] = field(default_factory=list)
    events: int = 0
    rejected: int = 0
    duplicates: int = 0
    first_id: str | None = None
    last_id: str | None = None
    busy_s: float = 0.0

    def add(self, accepted: pa.Table, events: int, rejected: int, duplicates: int,
            first_id: str, last_id: str, busy_s: float) -> None:
        if accepted.num_rows:
            self.tables.append(accepted)
        self.events += events
        self.rejected += rejected
        self.duplicates += duplicates
        self.first_id = self.first_id or first_id
        self.last_id = last_id
        self.busy_s += busy_s

    def __bool__(self) -> bool:
        return self.last_id is not None

    def due(self, unjudged: int = 0) -> bool:
        """Time to commit: enough events (judged, and read but not yet judged) are waiting, or
        the interval has passed, twice over for a trickle (each commit has a fixed cost)."""
        events = self.events + unjudged
        if not (self or unjudged):
            return False
        waited = time.monotonic() - self.started
        return events >= self.max_events or waited >= self.interval_s * (
            1 if events >= TRICKLE_EVENTS else 2)

    def accepted(self, empty: pa.Schema) -> pa.Table:
        if not self.tables:
            return empty.empty_table()
        return self.tables[0] if len(self.tables) == 1 else pa.concat_tables(self.tables)

    @property
    def arrival_s(self) -> int | None:
        """The newest entry's arrival (its id's time), in seconds: the clock goes no further."""
        return id_key(self.last_id)[0] // 1000 if self.last_id else None

    @property
    def first_arrival_s(self) -> int | None:
        return id_key(self.first_id)[0] // 1000 if self.first_id else None

    def next(self) -> Checkpoint:
        return Checkpoint(self.interval_s, self.max_events)


def with_fingerprints(orders: pa.Table, fp_hi: np.ndarray, fp_lo: np.ndarray) -> pa.Table:
    return orders.append_column("fp_hi", pa.array(fp_hi, pa.uint64())).append_column(
        "fp_lo", pa.array(fp_lo, pa.uint64()))
