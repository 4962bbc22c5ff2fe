"""The combiner's own checkpoint: the combined night (its LiveState and every merchant's totals)
with how far it has taken each partition, saved atomically beside the combined manifest, so that
a restart continues from it instead of reading every order of the day again.

It is believed only where it still describes the partitions: each partition's store went no
further back than it, nothing it had not taken is compacted yet (those orders are still fresh
parts of their own), and the rows of the files it had taken are the orders it counted of that
partition. Anything else, and the combiner reads everything, as it always did."""

from __future__ import annotations

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
VERSION = 2


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


def document(checkpoint: CombinedCheckpoint) -> str:
    """The checkpoint as JSON text: encoded under the state's lock (the C encoder, no Python
    loop over the day's seconds), written outside it."""
    return json.dumps({
        "version": VERSION, "horizon_s": checkpoint.horizon_s,
        "partitions": [{**asdict(m), "files": [asdict(f) for f in m.files]}
                       for m in checkpoint.marks],
        "state": _state_json(checkpoint.state), "merchants": checkpoint.merchants},
        separators=(",", ":"))


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
        saved = json.loads(path.read_text())
        if saved["version"] != VERSION or saved["horizon_s"] != horizon_s or \
                len(saved["partitions"]) != partitions:
            return None
        marks = [PartitionMark(**{**m, "files": [FileEntry(**f) for f in m["files"]]})
                 for m in saved["partitions"]]
        return CombinedCheckpoint(horizon_s, marks, _state_of(saved["state"], horizon_s),
                                  {k: list(v) for k, v in saved["merchants"].items()})
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        log.warning("combiner checkpoint %s unreadable (%s): reading every partition", path,
                    type(err).__name__)
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
