"""Damage on purpose: one byte of a committed file flipped where it matters, the real worker run
on it, and what a person would read and what the totals say afterwards."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.ipc as ipc

from common.settings import Settings
from ingest.history import read_summary

CLI = [sys.executable, "-m", "gmv.cli"]
FINGERPRINTS = ["fp_hi", "fp_lo"]
PROMPTLY_S = 60  # the worker used to wait 120 s for a compaction that had failed


def gmv(settings: Settings, *args: str, env: dict[str, str] | None = None,
        limit_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    """A real `gmv` command on the test's Redis and data dir (`limit_bytes`: the largest file
    it may write, RLIMIT_FSIZE: what a full disk looks like to one process)."""
    def limited() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return subprocess.run(
        [*CLI, *args, "-q", "--redis", str(settings.redis_url), "--data", str(settings.data_dir)],
        capture_output=True, text=True, timeout=PROMPTLY_S, preexec_fn=limited,
        env={**os.environ, "GMV_PARTITIONS": str(settings.partitions), **(env or {})})


def ingest(settings: Settings, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return gmv(settings, "ingest", "--until-idle", **kwargs)  # type: ignore[arg-type]


def assert_ran(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr[-3000:]


def assert_refused(done: subprocess.CompletedProcess[str], command: str, path: Path,
                   *words: str) -> str:
    """Exit 1 and one line for a person, naming the file and saying `words`; no traceback."""
    said = [line for line in done.stderr.splitlines() if line.startswith(f"gmv {command}: ")]
    assert done.returncode == 1 and len(said) == 1, done.stderr[-3000:]
    assert str(path) in said[0] and all(w in said[0] for w in words), said[0]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return said[0]


def totals(data_dir: Path) -> tuple[int, str, int, int]:
    """(orders, gmv) as the readers see them and (accepted, duplicates) as the store has them."""
    summary = read_summary(data_dir)
    with duckdb.connect(str(data_dir / "gmv.duckdb"), read_only=True) as store:
        row = store.execute("SELECT accepted, duplicates FROM progress").fetchone()
    assert row is not None
    return summary["orders"], summary["gmv"], int(row[0]), int(row[1])


def committed(data_dir: Path) -> list[tuple[str, int, str | None]]:
    """(name, rows, checksum) of the files the store names."""
    with duckdb.connect(str(data_dir / "gmv.duckdb"), read_only=True) as store:
        found = store.execute("SELECT * FROM files ORDER BY name")
        names = [column[0] for column in found.description or []]
        rows = [dict(zip(names, row, strict=True)) for row in found.fetchall()]
    return [(str(r["name"]), int(r["rows"]), r.get("checksum")) for r in rows]


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _read_part(data: bytes, columns: list[str] | None = None) -> pa.Table:
    """The part's table, or only `columns` of it read as the worker reads them (a dataset
    scan with a projection: the other columns' buffers are not decoded)."""
    if columns is None:
        return ipc.open_file(pa.BufferReader(data)).read_all()
    with tempfile.NamedTemporaryFile(suffix=".arrow") as copy:
        copy.write(data)
        copy.flush()
        return ds.dataset(copy.name, format="ipc").to_table(columns=columns)


KEPT_BITS = 0xFFFF_FFFF_FFF0_0000  # of the second half of a fingerprint, in a dedupe slot


def byte_forgetting_orders(path: Path) -> int:
    """An offset in the Arrow part at `path` whose flip still reads and changes some orders'
    fingerprints in the bits the dedupe table keeps, and nothing else (found by trying each
    byte: deterministic). Those orders, sent again, would look new."""
    data = path.read_bytes()
    before = _read_part(data)
    others = [n for n in before.column_names if n not in FINGERPRINTS]
    kept = before["fp_lo"].to_numpy() & np.uint64(KEPT_BITS)
    for offset in range(len(data)):
        damaged = bytearray(data)
        damaged[offset] ^= 0x01
        try:
            after = _read_part(bytes(damaged))
            if after["fp_lo"].null_count or after["fp_hi"].null_count:
                continue
            forgets = (after["fp_lo"].to_numpy() & np.uint64(KEPT_BITS)) != kept
        except (pa.ArrowException, OSError, ValueError, KeyError):
            continue
        if forgets.any() and after.select(others).equals(before.select(others)):
            return offset
    raise AssertionError(f"no byte of {path} changes the fingerprints alone")


def byte_breaking_all_but(path: Path, columns: list[str]) -> int:
    """An offset in the Arrow part at `path` whose flip leaves `columns` readable and unchanged
    but makes reading the whole file fail (another column's compressed bytes)."""
    data = path.read_bytes()
    before = _read_part(data, columns)
    for offset in range(len(data) // 4, len(data)):
        damaged = bytearray(data)
        damaged[offset] ^= 0x01
        try:
            if not _read_part(bytes(damaged), columns).equals(before):
                continue
        except (pa.ArrowException, OSError, ValueError, KeyError):
            continue
        try:
            _read_part(bytes(damaged))
        except (pa.ArrowException, OSError, ValueError, KeyError):
            return offset
    raise AssertionError(f"no byte of {path} breaks it but {columns}")
