"""Recorded nights on disk: JSON Lines (optionally gzipped) or Parquet, with their sidecar files."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from common.atomic import atomic_path
from ingest.contract import InvalidEvent, cents_from_text, format_cents, parse_order
from rehearsal.encode import encode_orders

PARQUET_SCHEMA = pa.schema(
    [("order_id", pa.string()), ("ts", pa.int64()), ("amount", pa.string()),
     ("device", pa.string()), ("category", pa.string()), ("region", pa.string()),
     ("merchant_id", pa.string()), ("buyer_id", pa.string()), ("item_id", pa.string()),
     ("quantity", pa.int64()), ("payment", pa.string())])
_SUFFIXES = (".gz", ".jsonl", ".ndjson", ".json", ".parquet")


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


def sidecar(path: Path, name: str) -> Path:
    """night.jsonl.gz + 'labels.json' -> night.labels.json, beside the recording."""
    stem = path.name
    while Path(stem).suffix.lower() in _SUFFIXES:
        stem = stem[: -len(Path(stem).suffix)]
    return path.with_name(f"{stem}.{name}")


def _open_binary(path: Path, mode: Literal["rb", "wb"]) -> BinaryIO:
    if path.suffix.lower() == ".gz":
        raw = open(path, mode)  # noqa: SIM115 - closed with the GzipFile
        # No file name and no mtime in the header: the same night gives the same bytes.
        compressed = gzip.GzipFile(filename="", mode=mode, fileobj=raw, mtime=0)
        compressed.myfileobj = raw  # type: ignore[assignment]  # closing it closes the file
        return compressed  # type: ignore[return-value]
    return open(path, mode)  # noqa: SIM115 - the caller closes it


def read_jsonl(path: Path, batch_bytes: int = 8 << 20) -> Iterator[list[bytes]]:
    """Lines without their newline, verbatim, in batches of about `batch_bytes`."""
    with _open_binary(path, "rb") as source:
        while lines := source.readlines(batch_bytes):
            yield [line[:-1] if line.endswith(b"\n") else line for line in lines]


def write_jsonl(path: Path, batches: Iterable[list[bytes]]) -> int:
    count = 0
    with atomic_path(path) as tmp, _open_binary(tmp, "wb") as sink:
        for payloads in batches:
            if any(b"\n" in p for p in payloads):
                raise ValueError("a payload contains a newline and cannot be a JSON Lines record")
            if payloads:
                sink.write(b"\n".join(payloads) + b"\n")
            count += len(payloads)
    return count


def _parquet_rows(payloads: list[bytes]) -> tuple[pa.Table, int]:
    rows, skipped = [], 0
    for payload in payloads:
        try:
            order = parse_order(payload)
        except InvalidEvent:
            skipped += 1
            continue
        row: dict[str, Any] = dict(vars(order))
        row["ts"] = row.pop("ts_ms")
        row["amount"] = format_cents(row.pop("amount_cents"))
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA), skipped


def write_parquet(path: Path, batches: Iterable[list[bytes]]) -> tuple[int, int]:
    """Valid orders as contract columns; a malformed payload has no columns and is skipped."""
    written = skipped = 0
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, PARQUET_SCHEMA) as sink:
        for payloads in batches:
            table, bad = _parquet_rows(payloads)
            sink.write_table(table)
            written, skipped = written + table.num_rows, skipped + bad
    return written, skipped


def parquet_to_payloads(table: pa.Table) -> list[bytes]:
    """Parquet rows with contract columns -> payloads; rows that do not convert go as they are,
    so that the worker, not the replayer, gives them their fate."""
    try:
        orders = table.rename_columns(
            {"ts": "ts_ms", "amount": "amount_cents"}).set_column(
            table.schema.get_field_index("amount"), "amount_cents", cents_from_text(table["amount"]))
        return encode_orders(orders)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError):
        return [json.dumps({k: v for k, v in row.items() if v is not None}, default=str).encode()
                for row in table.to_pylist()]


def read_parquet(path: Path, batch_rows: int = 100_000) -> Iterator[list[bytes]]:
    source = pq.ParquetFile(path)
    for batch in source.iter_batches(batch_size=batch_rows):
        yield parquet_to_payloads(pa.Table.from_batches([batch]))


def read_recording(path: Path) -> Iterator[list[bytes]]:
    return read_parquet(path) if is_parquet(path) else read_jsonl(path)
