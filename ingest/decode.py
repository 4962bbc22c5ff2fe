"""One batch of stream entries -> one Arrow table of valid orders, plus the rejected with reasons.

The fast path proves a payload is in the canonical compact form (`Order.to_payload()`: the
contract's keys in its order, no spaces, printable ASCII without escapes, an optional `payment`,
an optional `retry` counter) from the positions of its quotes, for the whole batch at once in
numpy. Once no byte is a control character, a backslash or non-ASCII, every quote delimits a
string, so the text between two quotes is either fixed (a key, a separator), which must be the
canonical text (compared eight bytes at a time), or a value, whose length and digits are checked
column by column (digits eight at a time too). Where the compiled reader-decoder is built
(ingest/_resp.c), the same form is proved in C instead, in one pass over the payloads, its columns
handed to Arrow as buffers; the numpy proof is its fallback. Every other entry goes to the contract's
reference rules (`ingest.contract.judge_payload`), one by one, inside its guard: whatever the
bytes, each entry gets a fate and a reason. Both paths agree by construction and by test
(tests/unit/test_decode.py; the C and numpy proofs against each other: tests/unit/test_read_wire.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.contract import (
    DEVICES,
    ORDER_SCHEMA,
    PAYLOAD_MAX_BYTES,
    QUANTITY_MAX,
    TS_MAX_MS,
    TS_MIN_MS,
    judge_payload,
)
from ingest.payloads import Payloads
from ingest.read import Entries, id_key
from ingest.wire import COMPILED, _resp

DECODED = pa.schema([("index", pa.int64()), *ORDER_SCHEMA])
# Strings are first views into the batch's own bytes, then copied out in one cast (pyarrow
# cannot yet filter or take views): cheaper than gathering them byte by byte.
_VIEWS = pa.schema([pa.field(f.name, pa.string_view()) if f.type == pa.string() else f
                    for f in DECODED])
_COLON, _COMMA, _CLOSE = 58, 44, 125
_DEVICE_WORDS = np.array([int.from_bytes(d.encode(), "little") for d in DEVICES], np.uint64)
_LIMITS = {"order_id": 64, "category": 64, "region": 64, "merchant_id": 64, "buyer_id": 64,
           "item_id": 64, "payment": 32, "device": 6}
# {"order_id":"V","ts":N,"amount":"V","device":"V","category":"V","region":"V",
#  "merchant_id":"V","buyer_id":"V","item_id":"V","quantity":N ...: every variant starts with
# these 36 quotes. Piece j is the text between quote j-1 and quote j (piece 0: before the first).
# Each run: (first piece, its text, the quotes inside it included) of fixed text.
_RUNS = ((0, b'{"order_id":'), (4, b',"ts'), (7, b'amount":'), (10, b',"device":'),
         (14, b',"category":'), (18, b',"region":'), (22, b',"merchant_id":'),
         (26, b',"buyer_id":'), (30, b',"item_id":'), (34, b',"quantity'))
_VALUES = {"order_id": 3, "amount": 9, "device": 13, "category": 17, "region": 21,
           "merchant_id": 25, "buyer_id": 29, "item_id": 33}
_TS_PIECE, _PREFIX_QUOTES = 6, 36
# Then, by the number of quotes: '}' (36), ',"retry":R}' (38), ',"payment":"P"}' (40),
# ',"payment":"P","retry":R}' (42).
_TAILS = (36, 38, 40, 42)


@dataclass
class Decoded:
    """`orders`: valid orders in stream order, with `index` (position in the batch).
    `rejected`: (position, reason) of every entry that breaks a rule."""

    orders: pa.Table
    rejected: list[tuple[int, str]]


def _canonical(data: Payloads, rows: np.ndarray, first_arrival_ms: int,
               future_margin_ms: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Which rows are canonical orders, and their fields: spans of the strings, values of the
    numbers."""
    buf = data.buf
    quote_at = data.quote_run(rows, 0, _PREFIX_QUOTES)

    def start(piece: int) -> np.ndarray:
        return data.offsets[rows] if piece == 0 else quote_at[:, piece - 1] + 1

    ok = np.ones(len(rows), bool)
    for piece, text in _RUNS:  # the run's bytes, its quotes, and the next quote right after
        at = start(piece)
        ok &= data.equals(at, text) & (quote_at[:, piece + text.count(b'"')] == at + len(text))
    fields: dict[str, np.ndarray] = {}
    first, stop = start(_TS_PIECE), quote_at[:, _TS_PIECE]  # ':1794326400000,'
    ok &= (buf[first] == _COLON) & (buf[stop - 1] == _COMMA)
    fields["ts"], fine = data.integer(first + 1, stop - 1)
    ok &= fine & (fields["ts"] >= TS_MIN_MS) & (fields["ts"] < TS_MAX_MS)
    ok &= fields["ts"] <= first_arrival_ms + future_margin_ms
    amount = _VALUES["amount"]
    fields["amount_cents"], fine = data.cents(start(amount), quote_at[:, amount])
    ok &= fine
    for name, piece in _VALUES.items():
        if name != "amount":
            span_start, span_end = start(piece), quote_at[:, piece]
            ok &= (span_end - span_start >= 1) & (span_end - span_start <= _LIMITS[name])
            fields[f"{name}_start"], fields[f"{name}_end"] = span_start, span_end
    device, length = fields["device_start"], fields["device_end"] - fields["device_start"]
    word = data.words[device] & ((np.uint64(1) << (8 * np.minimum(length, 7)).astype(
        np.uint64)) - np.uint64(1))
    ok &= np.isin(word, _DEVICE_WORDS)
    tail_ok, quantity_end, fields["payment_start"], fields["payment_end"] = _tail(data, rows)
    quantity_start = quote_at[:, _PREFIX_QUOTES - 1] + 1  # ':3,' or ':3}'
    fields["quantity"], fine = data.integer(quantity_start + 1, quantity_end)
    ok &= tail_ok & fine & (buf[quantity_start] == _COLON)
    ok &= (fields["quantity"] >= 1) & (fields["quantity"] <= QUANTITY_MAX)
    return ok, fields


def _tail(data: Payloads, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                   np.ndarray]:
    """After the quantity: whether the rest is one of the tails, where the quantity ends, and the
    span of the payment (empty when there is none)."""
    buf = data.buf
    count, row_end = data.quote_count[rows], data.offsets[rows + 1]
    ok = buf[row_end - 1] == _CLOSE
    quantity_end = row_end - 1
    payment_start, payment_end = np.zeros(len(rows), np.int64), np.zeros(len(rows), np.int64)
    for tail in _TAILS[1:]:
        subset = np.flatnonzero(count == tail)
        if not len(subset):
            continue
        q = data.quote_run(rows[subset], _PREFIX_QUOTES, tail - _PREFIX_QUOTES)
        end = row_end[subset]
        fine = buf[q[:, 0] - 1] == _COMMA
        quantity_end[subset] = q[:, 0] - 1
        retry = 0  # the quote that opens "retry"
        if tail >= 40:  # "payment":"P"
            fine &= data.equals(q[:, 0], b'"payment":"') & (q[:, 1] == q[:, 0] + 8) & (
                q[:, 2] == q[:, 0] + 10)
            length = q[:, 3] - q[:, 2] - 1
            fine &= (length >= 1) & (length <= _LIMITS["payment"])
            payment_start[subset], payment_end[subset] = q[:, 2] + 1, q[:, 3]
            if tail == 40:
                fine &= end == q[:, 3] + 2
            else:
                fine &= data.equals(q[:, 3], b'",') & (q[:, 4] == q[:, 3] + 2)
                retry = 4
        if tail in (38, 42):  # "retry":R, any JSON integer, ignored
            fine &= data.equals(q[:, retry], b'"retry":') & (q[:, retry + 1] == q[:, retry] + 6)
            _, digits = data.integer(q[:, retry] + 8, end - 1)
            fine &= digits
        ok[subset] &= fine
    return ok, quantity_end, payment_start, payment_end


def decode_batch(entries: Entries, future_margin_ms: int, compiled: bool = COMPILED) -> Decoded:
    """Every entry's fate short of duplicates: valid orders (as a table) or rejected.
    `compiled`: the canonical form proved in C (ingest/_resp.c), else in numpy."""
    n = len(entries)
    if n == 0:
        return Decoded(DECODED.empty_table(), [])
    table = _compiled(entries, future_margin_ms) if compiled else _numpy(entries,
                                                                         future_margin_ms)
    if table.num_rows == n:
        return Decoded(table, [])
    fast = np.zeros(n, bool)
    fast[table["index"].to_numpy()] = True
    slow_orders, rejected = _reference(entries, np.flatnonzero(~fast), future_margin_ms)
    if slow_orders.num_rows:
        table = pa.concat_tables([table, slow_orders]).sort_by("index")
    return Decoded(table, rejected)


def _numpy(entries: Entries, future_margin_ms: int) -> pa.Table:
    """The canonical orders, proved in numpy over the quotes' positions."""
    data = entries.prepared()
    candidates = data.clean() & np.isin(data.quote_count, _TAILS) & entries.has_data
    candidates &= np.diff(data.offsets) <= PAYLOAD_MAX_BYTES
    rows = np.flatnonzero(candidates)
    ok, fields = _canonical(data, rows, entries.first_arrival_ms, future_margin_ms)
    return _table(data, rows[ok], {name: values[ok] for name, values in fields.items()})


def _compiled(entries: Entries, future_margin_ms: int) -> pa.Table:
    """The canonical orders, proved in C in one pass over the payloads; those stamped too far
    ahead of their own arrival are left to the reference judge (which says why)."""
    index, ts, amount, quantity, *texts, paid = _resp.canonical(
        entries.buffer, entries.offsets, entries.has_data)
    rows = np.frombuffer(index, np.int64)
    count = len(rows)
    strings = [pa.Array.from_buffers(pa.string(), count, [
        pa.py_buffer(paid) if k == len(_TEXTS) - 1 and paid else None,
        pa.py_buffer(texts[2 * k]), pa.py_buffer(texts[2 * k + 1])]) for k in range(len(_TEXTS))]
    columns = dict(zip(_TEXTS, strings, strict=True))
    table = pa.table({
        "index": rows, "order_id": columns["order_id"], "ts_ms": np.frombuffer(ts, np.int64),
        "amount_cents": np.frombuffer(amount, np.int64),
        **{name: columns[name] for name in ("device", "category", "region", "merchant_id",
                                            "buyer_id", "item_id")},
        "quantity": np.frombuffer(quantity, np.int64), "payment": columns["payment"],
    }, schema=DECODED)
    in_time = np.frombuffer(ts, np.int64) <= entries.arrivals_ms()[rows] + future_margin_ms
    return table if in_time.all() else table.filter(pa.array(in_time))


_TEXTS = ("order_id", "device", "category", "region", "merchant_id", "buyer_id", "item_id",
          "payment")


def _table(data: Payloads, rows: np.ndarray, fields: dict[str, np.ndarray]) -> pa.Table:
    texts = dict(zip(_TEXTS, data.strings([fields[f"{t}_start"] for t in _TEXTS],
                                          [fields[f"{t}_end"] for t in _TEXTS]), strict=True))
    # An order without `payment` has an empty span there: null, not "".
    paid = fields["payment_end"] > fields["payment_start"]
    if not paid.all():
        texts["payment"] = pc.if_else(pa.array(paid), texts["payment"].cast(pa.string()),
                                      pa.scalar(None, pa.string())).cast(pa.string_view())
    return pa.table({
        "index": pa.array(rows, pa.int64()), "order_id": texts["order_id"],
        "ts_ms": pa.array(fields["ts"], pa.int64()),
        "amount_cents": pa.array(fields["amount_cents"], pa.int64()),
        **{name: texts[name] for name in ("device", "category", "region", "merchant_id",
                                          "buyer_id", "item_id")},
        "quantity": pa.array(fields["quantity"], pa.int64()), "payment": texts["payment"],
    }, schema=_VIEWS).cast(DECODED)


def _reference(entries: Entries, rows: np.ndarray, future_margin_ms: int) -> tuple[
        pa.Table, list[tuple[int, str]]]:
    found, rejected = [], []
    for i in rows.tolist():
        order, reason = judge_payload(entries.payload(i), id_key(entries.entry_id(i))[0],
                                      future_margin_ms)
        if order is None:
            rejected.append((i, str(reason)))
        else:
            found.append({"index": i, **vars(order)})
    return pa.Table.from_pylist(found, schema=DECODED), rejected
