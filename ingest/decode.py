"""One batch of stream payloads -> one Arrow table of valid orders, plus the rejected with reasons.

The fast path takes every payload in the canonical compact form (`Order.to_payload()`, the
simulator's, and any producer that writes the contract's fields in its order) for the whole
batch at once: one anchored regular expression proves the shape, a split on the quotes lays the
fields out at fixed positions, and the contract's ranges are column checks. Every other payload
(another key order, spaces, escapes, non-ASCII text, a JSON number for `amount`, extra fields
other than `retry`, anything broken) is judged one by one by the reference rules of
`ingest.contract`, which also write the rejection reasons. Both paths agree by construction and
by test (tests/unit/test_decode.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.contract import (
    DEVICES,
    MAX_AMOUNT_CENTS,
    ORDER_SCHEMA,
    QUANTITY_MAX,
    TS_MAX_MS,
    TS_MIN_MS,
    InvalidEvent,
    cents_from_text,
    parse_order,
)

_TEXT = r'"[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}"'  # printable ASCII, no quote or backslash
CANONICAL = (
    r'^\{"order_id":' + _TEXT + r',"ts":[1-9][0-9]{0,18},"amount":"[0-9]{1,12}(\.[0-9]{1,2})?"'
    r',"device":"[a-z]{1,16}","category":' + _TEXT + r',"region":' + _TEXT
    + r',"merchant_id":' + _TEXT + r',"buyer_id":' + _TEXT + r',"item_id":' + _TEXT
    + r',"quantity":[1-9][0-9]{0,4}(,"payment":"[\x20\x21\x23-\x5b\x5d-\x7e]{1,32}")?'
    r'(,"retry":[0-9]{1,9})?\}$')
# Positions of the fields among the pieces of a canonical payload split on '"'.
_TOKENS = {"order_id": 3, "ts": 6, "amount": 9, "device": 13, "category": 17, "region": 21,
           "merchant_id": 25, "buyer_id": 29, "item_id": 33, "quantity": 36}
_PAYMENT_KEY, _PAYMENT = 37, 39
_OUTPUT_SCHEMA = pa.schema([("index", pa.int64()), *ORDER_SCHEMA])


@dataclass
class Decoded:
    """`orders`: valid orders in stream order, with `index` (position in the batch).
    `rejected`: (position, reason) of every payload that breaks a rule."""

    orders: pa.Table
    rejected: list[tuple[int, str]]


def _mask(checks: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(checks.to_numpy(zero_copy_only=False), dtype=bool)


def _fields(canonical: pa.BinaryArray, index: np.ndarray) -> pa.Table:
    """Canonical payloads -> order columns, by position among their quote-separated pieces."""
    # The shape proved them printable ASCII: valid UTF-8 without checking again.
    pieces = pc.split_pattern(canonical.cast(pa.string(), safe=False), '"')
    flat = pieces.flatten()
    starts = pieces.offsets.to_numpy()[:-1]
    lengths = pc.list_value_length(pieces).to_numpy()

    def piece(position: int) -> pa.Array:
        return flat.take(pa.array(starts + position))

    def number(position: int) -> pa.Array:  # ':123,' or ':123}'
        return pc.cast(pc.utf8_slice_codeunits(piece(position), 1, -1), pa.int64())

    has_payment = (lengths > _PAYMENT) & _mask(pc.equal(
        flat.take(pa.array(np.minimum(starts + _PAYMENT_KEY, len(flat) - 1))), "payment"))
    payment = flat.take(pa.array(np.where(has_payment, starts + _PAYMENT, 0)))
    return pa.table({
        "index": pa.array(index, pa.int64()), "order_id": piece(_TOKENS["order_id"]),
        "ts_ms": number(_TOKENS["ts"]),
        "amount_cents": cents_from_text(piece(_TOKENS["amount"])),
        **{name: piece(_TOKENS[name]) for name in ("device", "category", "region",
                                                   "merchant_id", "buyer_id", "item_id")},
        "quantity": number(_TOKENS["quantity"]),
        "payment": pc.if_else(pa.array(has_payment), payment, pa.scalar(None, pa.string())),
    }, schema=_OUTPUT_SCHEMA)


def _in_range(orders: pa.Table) -> np.ndarray:
    """The contract's ranges that the canonical shape does not already imply."""
    checks = [
        pc.is_in(orders["device"], pa.array(DEVICES)),
        pc.greater_equal(orders["ts_ms"], TS_MIN_MS), pc.less(orders["ts_ms"], TS_MAX_MS),
        pc.less_equal(orders["quantity"], QUANTITY_MAX),
        pc.greater(orders["amount_cents"], 0),
        pc.less_equal(orders["amount_cents"], MAX_AMOUNT_CENTS),
    ]
    return _mask(functools.reduce(pc.and_, checks))


def _reference(payloads: Sequence[bytes], index: np.ndarray) -> tuple[pa.Table,
                                                                    list[tuple[int, str]]]:
    rows, rejected = [], []
    for i in index.tolist():
        try:
            order = parse_order(payloads[i])
        except InvalidEvent as err:
            rejected.append((i, str(err)))
            continue
        rows.append({"index": i, **vars(order)})
    return pa.Table.from_pylist(rows, schema=_OUTPUT_SCHEMA), rejected


def decode_batch(payloads: Sequence[bytes]) -> Decoded:
    """Every payload's fate short of duplicates: valid orders (as a table) or rejected."""
    if not payloads:
        return Decoded(_OUTPUT_SCHEMA.empty_table(), [])
    batch = pa.array(payloads, pa.binary())
    canonical = _mask(pc.match_substring_regex(batch, CANONICAL))
    rows = np.flatnonzero(canonical)
    fast = _fields(batch if len(rows) == len(batch) else batch.filter(pa.array(canonical)), rows)
    ok = _in_range(fast)
    slow = np.sort(np.concatenate([np.flatnonzero(~canonical), rows[~ok]]))
    slow_orders, rejected = _reference(payloads, slow)
    orders = pa.concat_tables([fast.filter(pa.array(ok)), slow_orders])
    return Decoded(orders.sort_by("index") if len(slow) else orders, rejected)
