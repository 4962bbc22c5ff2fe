"""The combiner's own checkpoint: the combined night (its LiveState and every merchant's totals)
with how far it has taken each partition, saved atomically beside the combined manifest, so that
a restart continues from it instead of reading every order of the day again.

It is believed only where it still describes the partitions: each partition's store went no
further back than it, nothing it had not taken is compacted yet (those orders are still fresh
parts of their own), and the rows of the files it had taken are the orders it counted of that
partition. Its text is sealed by a digest (a changed total or a torn write is refused, not
published as the night's), and every number in it is checked to be one. Anything else, and the
combiner reads everything, as it always did."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from common.atomic import atomic_path
from ingest.history import Manifest, part_checkpoint
from ingest.live_state import LiveState
from ingest.store import FileEntry

log = logging.getLogger("gmv.combine")
VERSION = 3  # 3: sealed


def checkpoint_path(data_dir: Path) -> Path:
    return data_dir / "combiner" / "checkpoint.json"


@dataclass
class PartitionMark:
    """How far the combined state has taken one partition."""

    applied: int
    files: list[FileEntry]
    position: str | None
    rejected: int
    duplicates: int
    latest_s: int | None
    clock_s: int | None
    orders: int  # of its orders in the state: the rows of its files up to `applied`

    def still_holds(self, manifest: Manifest) -> bool:
        """The partition's files, as its worker now names them, extend what was taken."""
        if manifest.checkpoint < self.applied or manifest.compacted_through > self.applied:
            return False
        taken = sum(f.rows for f in manifest.files if f.kind == "orders" and (
            (c := part_checkpoint(f.name)) is None or c <= self.applied))
        return taken == self.orders


@dataclass
class CombinedCheckpoint:
    horizon_s: int
    marks: list[PartitionMark]
    state: LiveState
    merchants: dict[str, list[int]]


def _digest(body: str) -> str:
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()


def document(checkpoint: CombinedCheckpoint) -> str:
    """The checkpoint as JSON text, its digest first: encoded under the state's lock (the C
    encoder, no Python loop over the day's seconds), written outside it."""
    body = json.dumps({
        "version": VERSION, "horizon_s": checkpoint.horizon_s,
        "partitions": [{**asdict(m), "files": [asdict(f) for f in m.files]}
                       for m in checkpoint.marks],
        "state": _state_json(checkpoint.state), "merchants": checkpoint.merchants},
        separators=(",", ":"))
    return f'{{"digest":"{_digest(body)}",{body[1:]}'


def _unsealed(text: str) -> dict[str, Any]:
    """The document's content once its digest matches it (the same encoder made both)."""
    saved = json.loads(text)
    digest = saved.pop("digest", None)
    if digest != _digest(json.dumps(saved, separators=(",", ":"))):
        raise ValueError("its digest does not match its content (changed or torn)")
    return saved


def _numbers(marks: list[PartitionMark], state: LiveState) -> None:
    """Every count an int (JSON could say anything): TypeError else."""
    counts = [v for m in marks for v in (m.applied, m.rejected, m.duplicates, m.orders)]
    counts += [state.gmv_cents, state.orders, state.rejected, state.duplicates, state.peak_ops]
    optional = [v for m in marks for v in (m.latest_s, m.clock_s)]
    if not all(type(v) is int for v in counts) or \
            not all(v is None or type(v) is int for v in optional):
        raise TypeError("a count that is not a whole number")
    if sum(m.orders for m in marks) != state.orders:
        raise ValueError("the partitions' orders do not add up to the night's")


def save(data_dir: Path, text: str) -> None:
    """A `document`, replacing the last one atomically."""
    path = checkpoint_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def load(data_dir: Path, partitions: int, horizon_s: int) -> CombinedCheckpoint | None:
    """The saved checkpoint of this many partitions and this horizon; None when there is none
    or it cannot be read (the combiner then reads everything)."""
    path = checkpoint_path(data_dir)
    try:
        saved = _unsealed(path.read_text())
        if saved["version"] != VERSION or saved["horizon_s"] != horizon_s or \
                len(saved["partitions"]) != partitions:
            return None
        marks = [PartitionMark(**{**m, "files": [FileEntry(**f) for f in m["files"]]})
                 for m in saved["partitions"]]
        state = _state_of(saved["state"], horizon_s)
        _numbers(marks, state)
        return CombinedCheckpoint(horizon_s, marks, state,
                                  {k: list(v) for k, v in saved["merchants"].items()})
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        log.warning("combiner checkpoint %s unreadable (%s: %s): reading every partition", path,
                    type(err).__name__, str(err)[:120])
        return None


def _state_json(state: LiveState) -> dict[str, Any]:
    """The state's values as they are (JSON makes the int keys text; `_state_of` turns them
    back)."""
    return {
        "gmv_cents": state.gmv_cents, "orders": state.orders, "rejected": state.rejected,
        "duplicates": state.duplicates, "seconds": state.seconds, "minutes": state.minutes,
        "totals": state.totals, "recent_devices": state.recent_devices,
        "minute_devices": state.minute_devices, "peak_ops": state.peak_ops,
        "peak_second": state.peak_second, "latest": state.latest, "before": state.before}


def _state_of(saved: dict[str, Any], horizon_s: int) -> LiveState:
    state = LiveState(horizon_s=horizon_s, gmv_cents=saved["gmv_cents"], orders=saved["orders"],
                      rejected=saved["rejected"], duplicates=saved["duplicates"],
                      peak_ops=saved["peak_ops"], peak_second=saved["peak_second"],
                      latest=saved["latest"], before=list(saved["before"]))
    state.seconds = {int(s): pair for s, pair in saved["seconds"].items()}
    state.minutes = {int(m): pair for m, pair in saved["minutes"].items()}
    for dimension, values in saved["totals"].items():
        state.totals[dimension].update(values)
    for second, devices in saved["recent_devices"].items():
        state.recent_devices[int(second)].update(devices)
    for minute, devices in saved["minute_devices"].items():
        state.minute_devices[int(minute)] = defaultdict(int, devices)
    return state
