"""A recorded night's GMV per minute (rows of `minute` and `gmv` or `gmv_cents`, from JSON
Lines, CSV or Parquet) read exactly, and the shape every recording is read into."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from ingest.contract import TS_MAX_MS, TS_MIN_MS
from ingest.strict_json import HugeInteger, HugeNumber

MINUTE_MS = 60_000
MAX_MINUTE_CENTS = 10**15  # 10 trillion yuan a minute: a day's sum stays far inside int64
_YUAN = re.compile(r"[0-9]{1,13}(\.[0-9]{1,2})?")
_DIGITS = re.compile(r"[0-9]{1,19}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MinuteRows = Iterable[tuple[int, dict[str, Any]]]  # (line or row number, its values by name)


class PastNightUnreadable(ValueError):
    """A file that is not a recorded past night: the message names it and says what is wrong."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class Recorded:
    """A recording's GMV per minute: `minute_ms` (a minute's start; one may repeat), `cents`,
    and whether the row is a minute of its own (`for_busiest`: an eve's GMV written as one row
    is not); `what` it held, `count` of them read; `rejected` orders broke the contract (the
    first one's line and reason: `first_rejection`), `duplicates` repeated one counted before."""

    what: str
    minute_ms: np.ndarray
    cents: np.ndarray
    for_busiest: np.ndarray
    count: int
    rejected: int = 0
    duplicates: int = 0
    first_rejection: str = ""


class _BadValue(ValueError):
    """A value of a row that is not what the per-minute format says."""


def minutes_table(path: Path, rows: MinuteRows, unit: str) -> Recorded:
    """Rows of the per-minute format (`unit`: what a row is called in an error, line or row);
    a minute given twice is an error, but for an eve's row beside it."""
    minutes: list[int] = []
    cents: list[int] = []
    own: list[bool] = []
    seen: dict[int, int] = {}
    for number, row in rows:
        try:
            minute_ms, value, eve = _minute_row(row)
        except _BadValue as err:
            raise PastNightUnreadable(path, f"{unit} {number}: {err}") from None
        if not eve and minute_ms in seen:
            raise PastNightUnreadable(path, f"{unit} {number}: minute {row['minute']} is given "
                                      f"twice ({unit} {seen[minute_ms]} first)")
        if not eve:
            seen[minute_ms] = number
        minutes.append(minute_ms)
        cents.append(value)
        own.append(not eve)
    return Recorded("minutes", np.array(minutes, np.int64), np.array(cents, np.int64),
                    np.array(own, bool), len(minutes))


def _minute_row(row: dict[str, Any]) -> tuple[int, int, bool]:
    """(the minute's start in epoch ms, its GMV in cents, whether it is an eve's row)."""
    if row.get("minute") in (None, ""):
        raise _BadValue("minute is missing")
    given = [name for name in ("gmv", "gmv_cents") if row.get(name) not in (None, "")]
    if len(given) != 1:
        raise _BadValue("gives both gmv and gmv_cents" if given else
                        "has neither gmv (yuan, a decimal string) nor gmv_cents")
    value = _yuan_cents(row["gmv"]) if given[0] == "gmv" else _cents(row["gmv_cents"])
    if value > MAX_MINUTE_CENTS:
        raise _BadValue(f"{given[0]} {_shown(row[given[0]])} is more than a minute can hold")
    return _minute_ms(row["minute"]), value, _eve(row.get("eve"))


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) and not isinstance(value, HugeInteger) \
        else str(value)
    return text if len(text) <= 40 else f"{text[:40]}… ({len(text):,} characters)"


def _minute_ms(value: Any) -> int:
    if isinstance(value, str) and not isinstance(value, HugeInteger | HugeNumber) \
            and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        epoch_ms = value
    elif isinstance(value, datetime) or (isinstance(value, str) and not isinstance(
            value, HugeInteger | HugeNumber)):
        epoch_ms = _iso_ms(value)
    else:
        raise _BadValue(f"minute {_shown(value)} is neither ISO 8601 with an offset nor epoch ms")
    if not TS_MIN_MS <= epoch_ms < TS_MAX_MS:
        raise _BadValue(f"minute {_shown(value)} is not between 2000 and 2100")
    if epoch_ms % MINUTE_MS:
        raise _BadValue(f"minute {_shown(value)} is not the start of a minute")
    return epoch_ms


def _iso_ms(value: str | datetime) -> int:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except ValueError:
        raise _BadValue(f"minute {_shown(value)} is not ISO 8601 "
                        "(2026-11-11T00:01:00+08:00)") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _BadValue(f"minute {_shown(str(value))} has no offset (+08:00 for Beijing time)")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _yuan_cents(value: Any) -> int:
    """A decimal string (or a JSON number, read by its exact decimal value) of yuan, in cents."""
    if isinstance(value, str) and not isinstance(value, HugeInteger | HugeNumber):
        if not _YUAN.fullmatch(value.strip()):
            raise _BadValue(f"gmv {_shown(value)} is not yuan with at most 2 decimals "
                            "(\"129.90\")")
        return int(Decimal(value.strip()) * 100)
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        exact = Decimal(value)
        if exact.is_finite() and 0 <= exact < 10**13 and (exact * 100) % 1 == 0:
            return int(exact * 100)
    raise _BadValue(f"gmv {_shown(value)} is not yuan with at most 2 decimals (\"129.90\")")


def _cents(value: Any) -> int:
    if isinstance(value, str) and not isinstance(value, HugeInteger | HugeNumber) \
            and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise _BadValue(f"gmv_cents {_shown(value)} is not a whole number of cents")


def _eve(value: Any) -> bool:
    if value in (None, "", False, "false", "0"):
        return False
    if value in (True, "true", "1"):
        return True
    raise _BadValue(f"eve {_shown(value)} is neither true nor false")


def csv_minutes(path: Path, first: tuple[int, bytes],
                lines: Iterator[tuple[int, bytes]]) -> Recorded:
    """CSV with a header naming `minute` and `gmv` or `gmv_cents` (other columns ignored)."""
    header = [name.strip() for name in next(csv.reader([_text(path, *first)]))]
    if "minute" not in header or not {"gmv", "gmv_cents"} & set(header):
        raise PastNightUnreadable(path, "is CSV without a header naming minute and gmv or "
                                  "gmv_cents; its first line is "
                                  f"{_shown(first[1].decode('utf-8', 'replace'))}")
    return minutes_table(path, _csv_rows(path, header, lines), "line")


def _csv_rows(path: Path, header: list[str], lines: Iterator[tuple[int, bytes]]) -> MinuteRows:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            values = next(csv.reader([_text(path, number, line)]))
        except csv.Error as err:
            raise PastNightUnreadable(path, f"line {number} is not CSV ({err})") from None
        if len(values) != len(header):
            raise PastNightUnreadable(path, f"line {number} has {len(values)} fields, the header "
                                      f"{len(header)}")
        yield number, dict(zip(header, values, strict=True))


def _text(path: Path, number: int, line: bytes) -> str:
    try:
        return line.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as err:
        raise PastNightUnreadable(path, f"line {number} is not UTF-8 (byte {err.start})") from None
