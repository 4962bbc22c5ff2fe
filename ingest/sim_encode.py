"""Simulated orders -> payloads, fast: their ids and times have fixed widths, so whole runs of
each payload are built as numpy byte matrices and only a few Arrow joins remain.

Byte-identical to `Order.to_payload()` (tests/unit/test_sim_encode.py); the general encoder for
arbitrary tables is `ingest.encode.encode_orders`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.encode import cents_text
from ingest.festival import OrderDraws

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
