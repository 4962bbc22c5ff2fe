"""Recorded past nights (ingest/past_nights.py): real files in tmp_path, read to exact cents."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.settings import load_settings
from ingest.contract import Order
from ingest.past_nights import (
    PastNight,
    PastNightUnreadable,
    configured_past_nights,
    load_past_night,
    load_past_nights,
    write_minutes_jsonl,
)

MIDNIGHT_MS = 1_794_326_400_000  # 2026-11-11T00:00:00+08:00 = 2026-11-10T16:00:00Z
MINUTE = 60_000
SAMPLE = Path(__file__).parents[2] / "sample_data" / "night-2026-11-11.jsonl.gz"


def utc_ms(*when: int) -> int:
    return int(datetime(*when, tzinfo=UTC).timestamp() * 1000)


def write_orders(path: Path, orders: list[Order], extra_lines: tuple[bytes, ...] = ()) -> Path:
    path.write_bytes(b"".join(o.to_payload() + b"\n" for o in orders) +
                     b"".join(line + b"\n" for line in extra_lines))
    return path


def write_lines(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_orders_split_at_beijing_midnight_with_the_eve(tmp_path: Path,
                                                       order_factory: Callable[..., Order]) -> None:
    assert utc_ms(2026, 11, 10, 16) == MIDNIGHT_MS  # Beijing is UTC+8
    night = load_past_night(write_orders(tmp_path / "night.jsonl", [
        order_factory(ts_ms=MIDNIGHT_MS - 86_400_001, amount_cents=1),  # before the eve: not counted
        order_factory(ts_ms=MIDNIGHT_MS - 86_400_000, amount_cents=10),  # the eve's first ms
        order_factory(ts_ms=utc_ms(2026, 11, 10, 15, 59, 59) + 999, amount_cents=20),  # 23:59:59.999
        order_factory(ts_ms=MIDNIGHT_MS, amount_cents=300),  # 00:00:00.000: minute 0
        order_factory(ts_ms=MIDNIGHT_MS + MINUTE - 1, amount_cents=400),
        order_factory(ts_ms=MIDNIGHT_MS + MINUTE, amount_cents=5000),  # 00:01: minute 1
        order_factory(ts_ms=MIDNIGHT_MS + 1439 * MINUTE, amount_cents=60),  # 23:59
        order_factory(ts_ms=MIDNIGHT_MS + 1440 * MINUTE, amount_cents=7),  # the day after
    ]))
    assert night.midnight_ms == MIDNIGHT_MS
    assert night.festival_date == date(2026, 11, 11)
    assert night.minutes.dtype == np.int64 and len(night.minutes) == 1440
    assert night.before_cents == 30
    assert night.minutes[:2].tolist() == [700, 5000]
    assert night.minutes[1439] == 60
    assert night.final_cents == 30 + 700 + 5000 + 60
    assert night.label == "night.jsonl"


def test_an_order_sent_twice_counts_once_first_version_wins(
        tmp_path: Path, order_factory: Callable[..., Order]) -> None:
    first = order_factory(order_id="o-1", amount_cents=12_990)
    night = load_past_night(write_orders(tmp_path / "night.jsonl", [
        first, order_factory(order_id="o-2", amount_cents=100),
        order_factory(order_id="o-1", amount_cents=99_999, ts_ms=MIDNIGHT_MS + 5 * MINUTE), first]))
    assert night.final_cents == 12_990 + 100
    assert night.minutes[5] == 0
    assert night.duplicates == 2


def test_a_line_the_contract_rejects_is_skipped_and_counted(
        tmp_path: Path, order_factory: Callable[..., Order]) -> None:
    good = order_factory(amount_cents=12_990)
    bad_amount = good.to_payload().replace(b'"129.90"', b'"129.901"').replace(b'"o-', b'"x-')
    night = load_past_night(write_orders(tmp_path / "night.jsonl", [good], (
        b"not json", bad_amount, b'{"ts": 1794326400000, "amount": "1.00"}', b"")))
    assert night.final_cents == 12_990
    assert night.rejected == 4  # the blank line too: on the night it is an empty payload


def test_decimal_amounts_are_summed_exactly(tmp_path: Path,
                                            order_factory: Callable[..., Order]) -> None:
    payloads = [json.loads(order_factory().to_payload()) for _ in range(3)]
    payloads[0]["amount"], payloads[1]["amount"] = "0.10", "0.20"
    text = [json.dumps(p) for p in payloads[:2]]
    text.append(json.dumps({**payloads[2], "amount": "AMOUNT"}).replace('"AMOUNT"', "0.29"))
    path = tmp_path / "night.jsonl"
    path.write_text("\n".join(text) + "\n")
    assert load_past_night(path).final_cents == 10 + 20 + 29


def test_an_order_with_an_unknown_minute_field_is_still_an_order(
        tmp_path: Path, order_factory: Callable[..., Order]) -> None:
    payload = json.loads(order_factory(amount_cents=250).to_payload())
    path = write_lines(tmp_path / "night.jsonl", [{**payload, "minute": "whatever"}])
    assert load_past_night(path).minutes[0] == 250


def test_a_gzipped_recording_reads_like_the_worker_counted_it() -> None:
    night = load_past_night(SAMPLE)
    truth = json.loads(SAMPLE.with_name("night-2026-11-11.labels.json").read_text())["truth"]
    assert night.final_cents == int(truth["gmv"].replace(".", ""))
    assert (night.rejected, night.duplicates) == (truth["rejected"], truth["duplicates"])
    assert night.midnight_ms == MIDNIGHT_MS


@pytest.mark.parametrize("columns", [
    {"ts_ms": pa.int64(), "amount_cents": pa.int64()},
    {"ts": pa.int64(), "amount": pa.string(), "order_id": pa.string()},
])
def test_parquet_orders(tmp_path: Path, columns: dict[str, pa.DataType]) -> None:
    ts = [MIDNIGHT_MS - 1, MIDNIGHT_MS, MIDNIGHT_MS + 90_000, MIDNIGHT_MS + 90_000]
    values: dict[str, list[Any]] = {
        "ts_ms": ts, "ts": ts, "amount_cents": [5, 10, 20, 20],
        "amount": ["0.05", "0.10", "0.20", "0.20"], "order_id": ["a", "b", "c", "c"]}
    path = tmp_path / "night.parquet"
    pq.write_table(pa.table({name: pa.array(values[name], kind) for name, kind in columns.items()}),
                   path)
    night = load_past_night(path)
    repeated = "order_id" in columns
    assert night.before_cents == 5
    assert night.minutes[:2].tolist() == [10, 20 if repeated else 40]
    assert night.duplicates == (1 if repeated else 0)


def test_parquet_rows_the_contract_rejects_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "night.parquet"
    pq.write_table(pa.table({
        "ts": pa.array([MIDNIGHT_MS, 1_794_326_400, MIDNIGHT_MS, MIDNIGHT_MS, None], pa.int64()),
        "amount": ["1.00", "2.00", "3.001", None, "5.00"],
        "device": ["pc", "pc", "pc", "pc", "fridge"]}), path)
    night = load_past_night(path)
    assert night.final_cents == 100
    assert night.rejected == 4


def test_minutes_jsonl_csv_and_parquet_read_the_same(tmp_path: Path) -> None:
    jsonl = write_lines(tmp_path / "m.jsonl", [
        {"minute": "2026-11-10T23:59:00+08:00", "gmv": "1.50"},
        {"minute": "2026-11-10T16:00:00+00:00", "gmv": "12345678.90"},
        {"minute": MIDNIGHT_MS + MINUTE, "gmv": "0.10"}])
    csv = tmp_path / "m.csv"
    csv.write_text("minute,gmv_cents\n2026-11-10T23:59:00+08:00,150\n"
                   f"2026-11-11T00:00:00+08:00,1234567890\n{MIDNIGHT_MS + MINUTE},10\n")
    parquet = tmp_path / "m.parquet"
    pq.write_table(pa.table({"minute": ["2026-11-10T23:59:00+08:00", "2026-11-11T00:00:00+08:00",
                                        "2026-11-11T00:01:00+08:00"],
                             "gmv": ["1.5", "12345678.9", "0.1"]}), parquet)
    for path in (jsonl, csv, parquet):
        night = load_past_night(path)
        assert (night.before_cents, night.minutes[:3].tolist(), night.midnight_ms) == \
            (150, [1_234_567_890, 10, 0], MIDNIGHT_MS), path.name


def test_festival_day_is_inferred_from_the_busiest_minute_or_given(tmp_path: Path) -> None:
    last_year_midnight = MIDNIGHT_MS - 365 * 86_400_000
    path = write_lines(tmp_path / "two.jsonl", [
        {"minute": MIDNIGHT_MS - 86_400_000 + 5 * MINUTE, "gmv_cents": 900},  # 11-10 00:05
        {"minute": MIDNIGHT_MS + MINUTE, "gmv_cents": 1000},  # 11-11 00:01: the busiest
        {"minute": last_year_midnight, "gmv_cents": 999}])
    assert load_past_night(path).midnight_ms == MIDNIGHT_MS
    given = load_past_night(path, date(2026, 11, 10))
    assert given.midnight_ms == MIDNIGHT_MS - 86_400_000
    assert (given.minutes[5], given.before_cents) == (900, 0)
    assert load_past_night(path, date(2025, 11, 11)).minutes[0] == 999


def test_a_night_round_trips_through_its_minutes_file(tmp_path: Path) -> None:
    night = load_past_night(SAMPLE)
    # An eve far larger than any minute of the day must not be taken for the festival's.
    bigger_eve = PastNight("x", night.minutes, 10**12 + 1, night.midnight_ms)
    for original in (night, bigger_eve):
        write_minutes_jsonl(original, tmp_path / "m.jsonl")
        back = load_past_night(tmp_path / "m.jsonl")
        assert (back.midnight_ms, back.before_cents, back.final_cents) == \
            (original.midnight_ms, original.before_cents, original.final_cents)
        assert np.array_equal(back.minutes, original.minutes)
        assert back == PastNight("m.jsonl", original.minutes, original.before_cents,
                                 original.midnight_ms)


def test_several_nights_newest_first_and_from_the_setting(tmp_path: Path) -> None:
    paths = []
    for year in (2024, 2026, 2025):
        midnight = int(datetime(year, 11, 11, tzinfo=UTC).timestamp() * 1000) - 8 * 3_600_000
        paths.append(write_lines(tmp_path / f"{year}.jsonl", [{"minute": midnight, "gmv": "1"}]))
    assert [n.festival_date.year for n in load_past_nights(paths)] == [2026, 2025, 2024]
    configured = load_settings(env={"GMV_PAST_NIGHTS": os.pathsep.join(map(str, paths))})
    assert [n.label for n in configured_past_nights(configured)] == \
        ["2026.jsonl", "2025.jsonl", "2024.jsonl"]
    assert configured_past_nights(load_settings(env={})) == []


def _parquet(table: pa.Table) -> Callable[[Path], None]:
    return lambda path: pq.write_table(table, path)


def _text(text: str | bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(text.encode() if isinstance(text, str) else text)


ORDER = ('{"order_id":"o","ts":1794326400000,"amount":"1.00","device":"pc","category":"c",'
         '"region":"ZJ","merchant_id":"m","buyer_id":"b","item_id":"i","quantity":1}')
UNREADABLE = {
    "does not exist": None,
    "is a directory": "dir",
    "is empty": _text("\n\n"),
    "line 2 is not readable": _text('{"minute": 1794326400000, "gmv": "1"}\n{oops\n'),
    "line 1: minute '2026-11-11T00:00:00' has no offset": _text(
        '{"minute": "2026-11-11T00:00:00", "gmv": "1"}\n'),
    "is not the start of a minute": _text('{"minute": 1794326400001, "gmv": "1"}\n'),
    "line 1: gmv '1.001' is not yuan with at most 2 decimals": _text(
        '{"minute": 1794326400000, "gmv": "1.001"}\n'),
    "has neither gmv": _text('{"minute": 1794326400000}\n'),
    "gives both gmv and gmv_cents": _text('{"minute": 1794326400000, "gmv": "1", "gmv_cents": 1}\n'),
    "line 3: minute 1794326400000 is given twice (line 2 first)": _text(
        "minute,gmv\n1794326400000,1\n1794326400000,2\n"),
    "line 2 has 3 fields, the header 2": _text("minute,gmv\n1794326400000,1,2\n"),
    "is CSV without a header naming minute and gmv or gmv_cents; its first line is 'minute,x'": _text(
        "minute,x\n1,2\n"),
    "has no accepted orders (it holds 0 orders; 2 rejected, the first line 1: not JSON: ": _text(
        "hello,world\n1,2\n"),
    "has no minute with GMV": _text('{"minute": 1794326400000, "gmv": "0"}\n'),
    "has no accepted orders (it holds 0 orders; 2 rejected, the first line 1: not JSON": _text(
        "not json\n{}\n"),
    "has no orders of the festival day 2026-11-12 (it holds 1 orders from 2026-11-11T00:00": _text(
        ORDER + "\n"),
    "row 1: gmv 1.5 is not yuan": _parquet(pa.table({"minute": [MIDNIGHT_MS], "gmv": [1.5]})),
    "has no column amount or amount_cents": _parquet(pa.table({"ts": [MIDNIGHT_MS]})),
    "has ts and ts_ms: one of them": _parquet(pa.table({
        "ts": [MIDNIGHT_MS], "ts_ms": [MIDNIGHT_MS], "amount": ["1"]})),
    "column ts is string, not integers": _parquet(pa.table({"ts": ["1"], "amount": ["1"]})),
    "column amount is double, not strings": _parquet(pa.table({"ts": [MIDNIGHT_MS],
                                                               "amount": [1.5]})),
    "is Parquet with neither orders' columns": _parquet(pa.table({"x": [1]})),
    "is not a readable Parquet file": _text(b"PAR1" + b"\0" * 50),
    "cannot be read (BadGzipFile": _text(b"\x1f\x8bnot gzip at all"),
}


@pytest.mark.parametrize("problem", UNREADABLE)
def test_every_unreadable_file_is_one_clear_error(tmp_path: Path, problem: str) -> None:
    path = tmp_path / "night.rec"
    make = UNREADABLE[problem]
    if make == "dir":
        path.mkdir()
    elif callable(make):
        make(path)
    festival = date(2026, 11, 12) if "2026-11-12" in problem else None
    with pytest.raises(PastNightUnreadable) as caught:
        load_past_night(path, festival)
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)
    assert isinstance(caught.value, ValueError)


PREFIXES = [b"", b"PAR1", b"\x1f\x8b", b"\xef\xbb\xbf", b'{"minute":', b"minute,gmv\n",
            b"minute,gmv_cents\n1794326400000,", ORDER.encode()[:-1], ORDER.encode() + b"\n"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(prefix=st.sampled_from(PREFIXES), tail=st.binary(max_size=300),
       gzipped=st.booleans())
def test_any_bytes_give_a_night_or_one_clear_error(prefix: bytes, tail: bytes,
                                                   gzipped: bool) -> None:
    data = prefix + tail
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "night"
        path.write_bytes(gzip.compress(data) if gzipped else data)
        try:
            night = load_past_night(path)
        except PastNightUnreadable as err:
            assert str(err).startswith(f"{path}: ")
        else:
            assert len(night.minutes) == 1440 and night.minutes.dtype == np.int64
            assert night.minutes.min() >= 0 and night.final_cents > 0
