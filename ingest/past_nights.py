"""Recorded past festival nights as GMV per minute of their festival day and their eve's, in
exact cents: the history that the forecast's calibration and the live forecast lean on.

A recording is either the night's orders (JSON Lines of the stream's payloads, judged by the
contract as the worker judges them; or Parquet with `ts`/`ts_ms`, `amount`/`amount_cents` and
optionally `order_id` and the contract's other columns) or its GMV per minute (JSON Lines, CSV
or Parquet with `minute` and `gmv`/`gmv_cents`): ingest/past_orders.py and past_minutes.py
read them. Which one a file holds is told by its first bytes and its columns or keys, never by
its name.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common.atomic import atomic_path
from common.settings import Settings
from ingest import strict_json
from ingest.contract import beijing_iso, format_cents, midnight_ms
from ingest.history import midnight_of_busiest
from ingest.past_minutes import MINUTE_MS, PastNightUnreadable, Recorded, csv_minutes, minutes_table
from ingest.past_orders import Lines, jsonl_orders, parquet_orders

__all__ = ["PastNight", "PastNightUnreadable", "configured_past_nights", "load_past_night",
           "load_past_nights", "write_minutes_jsonl"]

DAY_MINUTES = 1440
_GZIP, _PARQUET = b"\x1f\x8b", b"PAR1"
_READ_BYTES = 8 << 20
_FORMATS = ("; a recording is a night's orders (JSON Lines of the contract's payloads, or Parquet "
            "with ts or ts_ms and amount or amount_cents) or its GMV per minute (JSON Lines, CSV "
            "or Parquet with minute and gmv or gmv_cents)")


@dataclass(frozen=True)
class PastNight:
    """One past festival day: `minutes[i]` is the GMV in cents of its minute i after the Beijing
    midnight `midnight_ms` (0 where none), `before_cents` its eve's (the 24 h before that
    midnight that the recording holds). `rejected`, `duplicates`: orders of the recording that
    did not count (0 for a per-minute recording)."""

    label: str
    minutes: np.ndarray
    before_cents: int
    midnight_ms: int
    rejected: int = 0
    duplicates: int = 0

    @property
    def final_cents(self) -> int:
        """The festival day's GMV as the war room would have said at 24:00: the eve's included."""
        return self.before_cents + int(self.minutes.sum())

    @property
    def festival_date(self) -> date:
        return date.fromisoformat(beijing_iso(self.midnight_ms)[:10])

    def __eq__(self, other: object) -> bool:  # by value (an array's == is per element)
        if not isinstance(other, PastNight):
            return NotImplemented
        return (self.label, self.before_cents, self.midnight_ms, self.rejected,
                self.duplicates) == (other.label, other.before_cents, other.midnight_ms,
                                     other.rejected, other.duplicates) \
            and np.array_equal(self.minutes, other.minutes)


def load_past_night(path: Path, festival_date: date | None = None) -> PastNight:
    """The festival day recorded in `path`: `festival_date`'s when given, else the day whose
    Beijing midnight opens the busiest minute (every festival peaks just after its midnight).
    PastNightUnreadable, naming the file and what is wrong, when it cannot tell one."""
    path = Path(path)
    recorded = read_recording(path)
    return _night_of(path, recorded, festival_date)


def read_recording(path: Path) -> Recorded:
    """The file's GMV per minute, or PastNightUnreadable (never a library's own error)."""
    try:
        return _read(path)
    except PastNightUnreadable:
        raise
    except FileNotFoundError:
        raise PastNightUnreadable(path, "does not exist") from None
    except IsADirectoryError:
        raise PastNightUnreadable(path, "is a directory, not a recording") from None
    except (OSError, EOFError, zlib.error) as err:
        raise PastNightUnreadable(path, f"cannot be read ({_said(err)})") from None
    except pa.ArrowException as err:
        raise PastNightUnreadable(path, f"is not a readable Parquet file ({_said(err)})") from None
    except Exception as err:  # noqa: BLE001 - whatever the bytes, one error that names the file
        raise PastNightUnreadable(path, f"is not a recording this loader reads ({_said(err)})") \
            from None


def _said(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= 200 else text[:200] + "…"


def _read(path: Path) -> Recorded:
    if not path.is_dir() and not stat.S_ISREG(path.stat().st_mode):
        # a named pipe would wait for a writer for ever, a device (/dev/zero) read for ever
        raise PastNightUnreadable(path, "is not a regular file (a pipe or a device): a "
                                  "recording is a file")
    with open(path, "rb") as raw:
        head = raw.read(4)
    if head == _PARQUET:
        return _read_parquet(path)
    with _opened(path, head) as source:
        lines = _numbered_lines(source)
        blank = []  # before the first line that tells the format: payloads too (rejected)
        for first in lines:
            if first[1].strip():
                break
            blank.append(first)
        else:
            raise PastNightUnreadable(path, "is empty: no orders, no minutes")
        if not first[1].lstrip().startswith(b"{") and b"minute" in first[1]:
            return csv_minutes(path, first, lines)  # its header; else payloads, good or bad
        if _is_minute_row(first[1]):
            return minutes_table(path, _json_rows(path, _chain(first, rest=lines)), "line")
        return jsonl_orders(_chain(*blank, first, rest=lines))


@contextmanager
def _opened(path: Path, head: bytes) -> Iterator[BinaryIO]:
    if head.startswith(_GZIP):
        with gzip.open(path, "rb") as source:
            yield source  # type: ignore[misc]
    else:
        with open(path, "rb") as source:
            yield source


def _numbered_lines(source: BinaryIO) -> Lines:
    """(line number from 1, the line without its end)."""
    number = 0
    while batch := source.readlines(_READ_BYTES):
        for line in batch:
            number += 1
            yield number, line.rstrip(b"\r\n")


def _chain(*first: tuple[int, bytes], rest: Lines) -> Lines:
    yield from first
    yield from rest


def _is_minute_row(line: bytes) -> bool:
    try:
        body = strict_json.loads(line)
    except strict_json.NotStrictJson:
        return False
    # A payload may carry unknown fields, a `minute` among them: it is still an order.
    return isinstance(body, dict) and "minute" in body and not {"ts", "amount"} & body.keys()


def _json_rows(path: Path, lines: Lines) -> Iterator[tuple[int, dict]]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            body = strict_json.loads(line)
        except strict_json.NotStrictJson as err:
            raise PastNightUnreadable(path, f"line {number} is not readable: {err}") from None
        if not isinstance(body, dict):
            raise PastNightUnreadable(path, f"line {number} is not a JSON object")
        yield number, body


def _read_parquet(path: Path) -> Recorded:
    source = pq.ParquetFile(path)
    names = set(source.schema_arrow.names)
    if "minute" in names and not names & {"ts", "ts_ms"}:
        columns = [c for c in ("minute", "gmv", "gmv_cents", "eve") if c in names]
        rows = enumerate(source.read(columns=columns).to_pylist(), start=1)
        return minutes_table(path, rows, "row")
    if names & {"ts", "ts_ms"}:
        return parquet_orders(path, source)
    raise PastNightUnreadable(path, "is Parquet with neither orders' columns (ts or ts_ms, "
                              "amount or amount_cents) nor GMV per minute's (minute, gmv or "
                              f"gmv_cents): it has {', '.join(sorted(names))[:200] or 'none'}")


def _night_of(path: Path, recorded: Recorded, festival_date: date | None) -> PastNight:
    """The festival day of a recording's GMV per minute (`recorded.minute_ms` need not be
    sorted; one minute may appear several times: summed)."""
    if festival_date is not None:
        midnight = midnight_ms(festival_date)
    else:
        midnight = _midnight_of_busiest_minute(path, recorded)
    offset = (recorded.minute_ms - midnight) // MINUTE_MS
    day = (offset >= 0) & (offset < DAY_MINUTES)
    minutes = _sum_by(offset[day], recorded.cents[day])
    if not minutes.any():
        none = "no orders" if recorded.what == "orders" else "no GMV in the minutes"
        raise PastNightUnreadable(path, f"has {none} of the festival day "
                                  f"{beijing_iso(midnight)[:10]} (it holds {_span(recorded)})")
    eve = (offset >= -DAY_MINUTES) & (offset < 0)
    minutes.setflags(write=False)
    return PastNight(path.name, minutes, int(recorded.cents[eve].sum()), midnight,
                     recorded.rejected, recorded.duplicates)


def _sum_by(offset: np.ndarray, cents: np.ndarray) -> np.ndarray:
    """Cents summed per minute of the day, exactly (integers; numpy's bincount adds floats)."""
    minutes = np.zeros(DAY_MINUTES, np.int64)
    np.add.at(minutes, offset, cents)
    return minutes


def _midnight_of_busiest_minute(path: Path, recorded: Recorded) -> int:
    """The Beijing midnight opening the minute with the most GMV (the earliest of equals); an
    eve's GMV written as one row (write_minutes_jsonl) is no minute of its own."""
    counted = recorded.for_busiest & (recorded.cents > 0)
    if not counted.any():
        none = "no accepted orders" if recorded.what == "orders" else "no minute with GMV"
        raise PastNightUnreadable(path, f"has {none} (it holds {_span(recorded)}){_FORMATS}")
    unique, inverse = np.unique(recorded.minute_ms[counted], return_inverse=True)
    totals = np.zeros(len(unique), np.int64)
    np.add.at(totals, inverse, recorded.cents[counted])
    return midnight_of_busiest(int(unique[int(np.argmax(totals))]) // 1000)


def _span(recorded: Recorded) -> str:
    """What the recording holds, for an error: how many, from when to when, what was skipped."""
    said = f"{recorded.count:,} {recorded.what}"
    if len(recorded.cents):
        said += (f" from {beijing_iso(int(recorded.minute_ms.min()))[:16]} to "
                 f"{beijing_iso(int(recorded.minute_ms.max()))[:16]}")
    if recorded.rejected:
        said += f"; {recorded.rejected:,} rejected, the first {recorded.first_rejection}"
    return said


def load_past_nights(paths: Iterable[Path | str]) -> list[PastNight]:
    """Each recording's festival day (inferred), newest first."""
    nights = [load_past_night(Path(p)) for p in paths]
    return sorted(nights, key=lambda night: night.midnight_ms, reverse=True)


def configured_past_nights(settings: Settings) -> list[PastNight]:
    """The nights of GMV_PAST_NIGHTS (paths separated by os.pathsep), newest first."""
    return load_past_nights(p.strip() for p in settings.past_nights.split(os.pathsep) if p.strip())


def write_minutes_jsonl(night: PastNight, path: Path) -> None:
    """The night as a per-minute recording that reads back to the same cents and day: each of
    its 1,440 minutes, and the eve's GMV as one row at the eve's last minute marked `eve`."""
    rows = []
    if night.before_cents:
        rows.append({"minute": _minute_iso(night.midnight_ms - MINUTE_MS),
                     "gmv": format_cents(night.before_cents), "eve": True})
    rows += [{"minute": _minute_iso(night.midnight_ms + i * MINUTE_MS), "gmv": format_cents(int(c))}
             for i, c in enumerate(night.minutes.tolist())]
    with atomic_path(Path(path)) as tmp:
        tmp.write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows))


def _minute_iso(epoch_ms: int) -> str:
    """2026-11-11T00:01:00+08:00: a minute's start in Beijing time."""
    return beijing_iso(epoch_ms)[:19] + "+08:00"
