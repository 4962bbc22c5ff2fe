"""Orders -> their canonical JSON payloads, byte-identical to `Order.to_payload()`, a whole
column at a time: `encode_orders` for any order table (replaying Parquet), `encode_draws` for the
simulator's orders, whose ids and times have fixed widths, so whole runs of each payload are
built as numpy byte matrices and only a few Arrow joins remain (tests/unit/test_encode*.py)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rehearsal.festival import OrderDraws

_NEEDS_ESCAPE = r'["\\\x00-\x1f\x7f]'


def cents_text(amount_cents: pa.Array) -> pa.Array:
    """Integer cents -> '129.90' strings (amounts are positive by contract)."""
    whole = pc.divide(amount_cents, 100)  # integer division truncates
    frac = pc.subtract(amount_cents, pc.multiply(whole, 100))
    return pc.binary_join_element_wise(
        pc.cast(whole, pa.string()), pc.utf8_lpad(pc.cast(frac, pa.string()), 2, "0"), ".")


TS_DIGITS = 13  # epoch milliseconds from 2001-09-09 to 2286-11-20
_FOUR_DIGITS = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode(),
                             dtype=np.uint8).reshape(10_000, 4)


def digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded ASCII digits, one row of `width` bytes each."""
    if len(numbers) and (numbers.min() < 0 or numbers.max() >= 10**width):
        raise ValueError(f"a number does not fit in {width} digits")
    # Four digits per division, looked up as bytes: a tenth of the arithmetic of digit by digit.
    quads = -(-width // 4)
    powers = 10_000 ** np.arange(quads - 1, -1, -1, dtype=np.int64)
    groups = np.asarray(numbers, dtype=np.int64)[:, None] // powers % 10_000
    return _FOUR_DIGITS[groups].reshape(len(numbers), quads * 4)[:, quads * 4 - width:]


def literal(text: str, rows: int) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(text.encode(), dtype=np.uint8), (rows, len(text)))


def fixed_width(parts: list[np.ndarray]) -> pa.Array:
    """Byte matrices side by side -> one string per row."""
    matrix = np.ascontiguousarray(np.concatenate(parts, axis=1))
    rows, width = matrix.shape
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), rows, [None, pa.py_buffer(offsets),
                                                     pa.py_buffer(matrix)])


def _combined(indices: list[np.ndarray], texts: list[list[str]]) -> pa.Array:
    """Several small-vocabulary columns as one: the text of every combination, taken by index."""
    combo = np.zeros(len(indices[0]), dtype=np.int64)
    vocabulary = [""]
    for column, words in zip(indices, texts, strict=True):
        combo = combo * len(words) + column
        vocabulary = [prefix + word for prefix in vocabulary for word in words]
    return pc.take(pa.array(vocabulary, pa.string()), pa.array(combo))


def encode_draws(draws: OrderDraws, numbers: np.ndarray, id_prefix: str,
                 names: dict[str, list[str]]) -> list[bytes]:
    """Payloads of simulated orders; order ids are `id_prefix` + 9 digits of `numbers`."""
    n = len(numbers)
    if n == 0:
        return []
    head = fixed_width([literal(f'{{"order_id":"{id_prefix}', n), digits(numbers, 9),
                        literal('","ts":', n), digits(draws.ts_ms, TS_DIGITS),
                        literal(',"amount":"', n)])
    places = _combined(
        [draws.device, draws.category, draws.region],
        [[f'","device":"{d}' for d in names["device"]],
         [f'","category":"{c}' for c in names["category"]],
         [f'","region":"{r}","merchant_id":"m' for r in names["region"]]])
    ids = fixed_width([digits(draws.merchant, 5), literal('","buyer_id":"u', n),
                       digits(draws.buyer, 7), literal('","item_id":"i', n),
                       digits(draws.merchant * 100 + draws.slot, 7), literal('","quantity":', n)])
    quantities, quantity_index = np.unique(draws.quantity, return_inverse=True)
    tail = _combined([quantity_index, draws.payment],
                     [[str(q) for q in quantities],
                      [f',"payment":"{p}"}}' for p in names["payment"]]])
    body = pc.binary_join_element_wise(head, cents_text(pa.array(draws.amount_cents)), places,
                                       ids, tail, "")
    return pc.cast(body, pa.binary()).to_pylist()


def _escaped(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A string column's values escaped for the inside of JSON string literals (no quotes);
    a dictionary column is escaped once per distinct value."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        return pc.take(_escaped(column.dictionary), column.indices)
    column = pc.cast(column, pa.string())
    if pc.any(pc.match_substring_regex(column, _NEEDS_ESCAPE)).as_py():
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False)[1:-1]
                         for v in column.to_pylist()], pa.string())
    return column


def _payment_part(table: pa.Table) -> pa.Array:
    """',"payment":"alipay"' where a payment path is given, '' where it is not."""
    if "payment" not in table.column_names:
        return pa.nulls(table.num_rows, pa.string()).fill_null("")
    part = pc.binary_join_element_wise(',"payment":"', _escaped(table["payment"]), '"', "")
    return pc.fill_null(part, "")


def encode_orders(table: pa.Table) -> list[bytes]:
    """One compact JSON payload per row, byte-identical to `Order.to_payload()`."""
    if table.num_rows == 0:
        return []

    def text(name: str) -> pa.Array:
        return _escaped(table[name])

    body = pc.binary_join_element_wise(
        '{"order_id":"', text("order_id"),
        '","ts":', pc.cast(table["ts_ms"], pa.string()),
        ',"amount":"', cents_text(table["amount_cents"]),
        '","device":"', text("device"), '","category":"', text("category"),
        '","region":"', text("region"), '","merchant_id":"', text("merchant_id"),
        '","buyer_id":"', text("buyer_id"), '","item_id":"', text("item_id"),
        '","quantity":', pc.cast(table["quantity"], pa.string()),
        _payment_part(table), "}", "")
    return pc.cast(body, pa.binary()).to_pylist()
