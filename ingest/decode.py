"""One batch of stream payloads -> one Arrow table of valid orders, plus the rejected with reasons.

The fast path decodes every ordinary payload of the batch at once with pyarrow.json and checks
the contract's rules as column operations. A payload that is not plainly ordinary (escapes,
non-ASCII, odd spacing, a JSON number for `amount`, anything Arrow refuses) is judged one by one
by the reference rules of `ingest.contract`, which also write the rejection reasons. Both paths
agree by construction and by test (tests/unit/test_decode.py).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ingest.contract import (
    DEVICES,
    MAX_AMOUNT_CENTS,
    OPTIONAL_STRINGS,
    QUANTITY_MAX,
    QUANTITY_MIN,
    REQUIRED_STRINGS,
    TS_MAX_MS,
    TS_MIN_MS,
    InvalidEvent,
    parse_order,
)
from ingest.encode import ORDER_SCHEMA, STRING_COLUMNS, cents_from_text

_JSON_SCHEMA = pa.schema(
    [("order_id", pa.string()), ("ts", pa.int64()), ("amount", pa.string()),
     *[(name, pa.string()) for name in STRING_COLUMNS[1:]],
     ("quantity", pa.int64()), ("payment", pa.string())])
_PARSE = pj.ParseOptions(explicit_schema=_JSON_SCHEMA, unexpected_field_behavior="ignore",
                         newlines_in_values=False)
_READ = pj.ReadOptions(use_threads=False, block_size=1 << 26)
_ORDINARY_MAX_BYTES = 4096
_AMOUNT = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"


@dataclass
class Decoded:
    """`orders`: valid orders in stream order, with `index` (position in the batch).
    `rejected`: (position, reason) of every payload that breaks a rule."""

    orders: pa.Table
    rejected: list[tuple[int, str]]


def _ordinary(payloads: pa.BinaryArray) -> np.ndarray:
    """Payloads the fast path may take: ASCII JSON objects without escapes or line breaks.

    Arrow refuses (and so sends to the reference path) every other shape that could read
    differently: a key given twice, a number where a string is due, nesting, NaN, 1.0 for an
    integer, two objects on one line (tests/unit/test_decode.py).
    """
    text = pc.cast(payloads, pa.string(), safe=False)  # bytes as they are; ASCII is checked next
    checks = [
        pc.string_is_ascii(text), pc.starts_with(text, '{"'),
        pc.less_equal(pc.binary_length(payloads), _ORDINARY_MAX_BYTES),
        pc.invert(pc.match_substring(text, "\\")), pc.invert(pc.match_substring(text, "\n")),
    ]
    return _mask(_all(checks))


def _all(checks: list[pa.Array]) -> pa.Array:
    return functools.reduce(pc.and_, checks)


def _mask(checks: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(checks.to_numpy(zero_copy_only=False), dtype=bool)


def _arrow_table(lines: Sequence[bytes]) -> pa.Table | None:
    try:
        table = pj.read_json(io.BytesIO(b"\n".join(lines)), read_options=_READ,
                             parse_options=_PARSE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table if table.num_rows == len(lines) else None


def _refused(lines: Sequence[bytes], offset: int = 0) -> list[int]:
    """Positions of the lines Arrow refuses, found by splitting only the blocks that fail."""
    if _arrow_table(lines) is not None:
        return []
    if len(lines) == 1:
        return [offset]
    step = max(len(lines) // 16, 1)
    return [bad for start in range(0, len(lines), step)
            for bad in _refused(lines[start:start + step], offset + start)]


def _read_json(lines: Sequence[bytes]) -> tuple[pa.Table, np.ndarray]:
    """The lines Arrow reads, as one table, and the positions of those it refuses."""
    table = _arrow_table(lines)
    if table is not None:
        return table, np.empty(0, np.int64)
    refused = np.array(_refused(lines), dtype=np.int64)
    keep = np.setdiff1d(np.arange(len(lines)), refused)
    table = _arrow_table([lines[i] for i in keep]) if len(keep) else None
    if table is None and len(keep):
        # Each line on its own was read, but not all of them together: take none of them.
        return _JSON_SCHEMA.empty_table(), np.arange(len(lines))
    return (table if table is not None else _JSON_SCHEMA.empty_table()), refused


def _string_ok(column: pa.ChunkedArray, max_chars: int, required: bool) -> pa.Array:
    length = pc.utf8_length(column)
    ok = pc.and_(pc.greater_equal(length, 1), pc.less_equal(length, max_chars))
    return pc.fill_null(ok, not required)


def _valid_rows(table: pa.Table) -> pa.Array:
    """The contract's rules as column checks; False sends the row to the reference path."""
    checks = [_string_ok(table[name], limit, True) for name, limit in REQUIRED_STRINGS.items()]
    checks.append(_string_ok(table["payment"], OPTIONAL_STRINGS["payment"], False))
    checks.append(pc.fill_null(pc.is_in(table["device"], pa.array(DEVICES)), False))
    checks.append(pc.fill_null(pc.and_(pc.greater_equal(table["ts"], TS_MIN_MS),
                                       pc.less(table["ts"], TS_MAX_MS)), False))
    checks.append(pc.fill_null(pc.and_(pc.greater_equal(table["quantity"], QUANTITY_MIN),
                                       pc.less_equal(table["quantity"], QUANTITY_MAX)), False))
    checks.append(pc.fill_null(pc.match_substring_regex(table["amount"], _AMOUNT), False))
    return _all(checks)


def _as_orders(table: pa.Table, index: np.ndarray) -> pa.Table:
    return pa.table({
        "index": pa.array(index, pa.int64()), "order_id": table["order_id"],
        "ts_ms": table["ts"], "amount_cents": cents_from_text(table["amount"]),
        **{name: table[name] for name in ("device", "category", "region", "merchant_id",
                                          "buyer_id", "item_id", "quantity", "payment")},
    })


_OUTPUT_SCHEMA = pa.schema([("index", pa.int64()), *ORDER_SCHEMA])


def _reference(payloads: Sequence[bytes], index: np.ndarray) -> tuple[pa.Table,
                                                                    list[tuple[int, str]]]:
    rows, rejected = [], []
    for i in index:
        try:
            order = parse_order(payloads[i])
        except InvalidEvent as err:
            rejected.append((int(i), str(err)))
            continue
        rows.append({"index": int(i), **vars(order)})
    return pa.Table.from_pylist(rows, schema=_OUTPUT_SCHEMA), rejected


def decode_batch(payloads: Sequence[bytes]) -> Decoded:
    """Every payload's fate short of duplicates: valid orders (as a table) or rejected."""
    if not payloads:
        return Decoded(_OUTPUT_SCHEMA.empty_table(), [])
    is_ordinary = _ordinary(pa.array(payloads, pa.binary()))
    ordinary = np.flatnonzero(is_ordinary)
    table, refused = _read_json([payloads[int(i)] for i in ordinary])
    rows = np.delete(ordinary, refused)
    ok = _mask(_valid_rows(table))
    fast = _as_orders(table.filter(pa.array(ok)), rows[ok])
    in_range = pc.and_(pc.greater(fast["amount_cents"], 0),
                       pc.less_equal(fast["amount_cents"], MAX_AMOUNT_CENTS))
    ok[ok] = _mask(in_range)
    slow = np.concatenate([np.flatnonzero(~is_ordinary), ordinary[refused], rows[~ok]])
    slow_table, rejected = _reference(payloads, np.sort(slow))
    orders = pa.concat_tables([fast.filter(in_range).cast(_OUTPUT_SCHEMA), slow_table])
    return Decoded(orders.sort_by("index"), sorted(rejected))
