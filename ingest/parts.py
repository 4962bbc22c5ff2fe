"""Each order stored once: a checkpoint's accepted orders, with their dedupe keys, as one part
file written under a temporary name and renamed *before* the transaction that names it (the
data-files-then-commit pattern of Iceberg and Delta Lake), so a crash leaves either a committed
part or a file that no commit names, which the next start deletes.

A fresh part is Arrow IPC (lz4): four times cheaper to write than Parquet on the hot path;
compaction (ingest/compaction.py) turns parts into Parquet by the hour.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from common.atomic import atomic_path
from common.logs import log_event
from ingest.history import STORED, orders_dir
from ingest.integrity import CHECKSUMS, about, checksum_of
from ingest.store import FileEntry

log = logging.getLogger("gmv.history")
_IPC = ipc.IpcWriteOptions(compression="lz4")


def stored(accepted: pa.Table) -> pa.Table:
    return accepted.select(STORED.names).cast(STORED)


def write_part(data_dir: Path, accepted: pa.Table, checkpoint: int,
               arrival_ms: int | None = None) -> FileEntry | None:
    """The checkpoint's new orders as `orders/part-<checkpoint>.arrow`, with the checksum of its
    bytes as written (never read back); None when it has none."""
    if accepted.num_rows == 0:
        return None
    name = f"part-{checkpoint:012d}.arrow"
    table = stored(accepted)
    path = orders_dir(data_dir) / name
    # Made in memory, checksummed and written in one go: a tenth of the cost of hashing each
    # of the writer's small writes through a Python file object (+0.2 ms, not +0.7, a 10k part).
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, STORED, options=_IPC) as out:
        out.write_table(table)
    data = sink.getvalue()
    checksum = checksum_of(data)
    with about(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as file:
            file.write(data)
    CHECKSUMS.written(path, checksum)
    low, high = pc.min_max(table["ts_ms"]).values()
    return FileEntry(name, "orders", table.num_rows, low.as_py(), high.as_py(), checkpoint,
                     checksum, arrival_ms)


def remove_unnamed(data_dir: Path, committed: list[FileEntry]) -> int:
    """Delete what no commit names: parts written before a crash, half-written temporaries,
    files a compaction replaced. Returns how many. The committed files' checksums are what their
    first read in this process checks them against."""
    removed = 0
    folder = orders_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    CHECKSUMS.committed(folder, ((f.name, f.checksum) for f in committed))
    named = {f.name for f in committed}
    for path in folder.iterdir():
        if path.name not in named:
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log_event(log, "history_cleaned", removed=removed, kept=len(named))
    return removed
