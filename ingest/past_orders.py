"""A recorded night's orders as GMV per minute: only the orders the contract accepts, each
counted once (the first version wins), in exact cents. JSON Lines are the stream's payloads,
judged as the worker judges a batch; Parquet's columns are judged by the same rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

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
    amount_to_cents,
)
from ingest.decode import decode_batch
from ingest.past_minutes import MINUTE_MS, PastNightUnreadable, Recorded
from ingest.read import Entries

# A recording has no arrival times: every order is taken to arrive at the end of the contract's
# range of event times, so that none is `future_ts`; every other rule holds as on the night.
_ARRIVAL_ID = f"{TS_MAX_MS}-0".encode()
_BATCH_ROWS = 50_000
Lines = Iterator[tuple[int, bytes]]  # (line number, the line without its end)
Rule = Callable[[Any, str], None]  # rows where a rule is broken (null: broken), and why


def jsonl_orders(lines: Lines) -> Recorded:
    """One payload a line; a line the contract rejects (a blank one too, as on the night) is
    counted."""
    accepted: list[pa.Table] = []
    rejected, first_rejection = 0, ""
    for numbers, payloads in _batches(lines):
        decoded = decode_batch(Entries([_ARRIVAL_ID] * len(payloads), list(payloads)), 0)
        rejected += len(decoded.rejected)
        if decoded.rejected and not first_rejection:
            index, reason = decoded.rejected[0]
            first_rejection = f"line {numbers[index]}: {reason}"
        orders = decoded.orders
        accepted.append(pa.table({
            "order_id": orders["order_id"], "ts_ms": orders["ts_ms"],
            "amount_cents": orders["amount_cents"],
            "seq": pc.take(pa.array(numbers, pa.int64()), orders["index"])}))
    return per_minute(pa.concat_tables(accepted) if accepted else None, rejected, first_rejection)


def _batches(lines: Lines) -> Iterator[tuple[list[int], list[bytes | None]]]:
    numbers: list[int] = []
    payloads: list[bytes | None] = []
    for number, line in lines:
        numbers.append(number)
        payloads.append(line)
        if len(payloads) == _BATCH_ROWS:
            yield numbers, payloads
            numbers, payloads = [], []
    if payloads:
        yield numbers, payloads


def per_minute(orders: pa.Table | None, rejected: int, first_rejection: str) -> Recorded:
    """Accepted orders (`order_id` null: none to repeat; `seq`: their place in the recording),
    each counted once, as GMV per minute."""
    if orders is None or orders.num_rows == 0:
        empty = np.zeros(0, np.int64)
        return Recorded("orders", empty, empty, np.zeros(0, bool), 0, rejected, 0, first_rejection)
    named = orders.filter(pc.is_valid(orders["order_id"]))
    firsts = named.group_by("order_id", use_threads=False).aggregate([("seq", "min")])
    keep = pc.or_(pc.is_null(orders["order_id"]), pc.is_in(orders["seq"], firsts["seq_min"]))
    counted = orders.filter(pc.fill_null(keep, True))
    # ts is after 2000: integer division is the floor.
    minute = pc.multiply(pc.divide(counted["ts_ms"], MINUTE_MS), MINUTE_MS)
    sums = pa.table({"minute_ms": minute, "cents": counted["amount_cents"]}).group_by(
        "minute_ms", use_threads=False).aggregate([("cents", "sum")])
    minute_ms = sums["minute_ms"].to_numpy().astype(np.int64)
    return Recorded("orders", minute_ms, sums["cents_sum"].to_numpy().astype(np.int64),
                    np.ones(len(minute_ms), bool), counted.num_rows, rejected,
                    named.num_rows - firsts.num_rows, first_rejection)


def parquet_orders(path: Path, source: pq.ParquetFile) -> Recorded:
    """Columns `ts` or `ts_ms` (int ms), `amount` (decimal strings) or `amount_cents` (int),
    optionally `order_id` and the contract's other fields, each judged by the contract's rule."""
    names = set(source.schema_arrow.names)
    ts = _one_of(path, names, ("ts", "ts_ms"))
    amount = _one_of(path, names, ("amount", "amount_cents"))
    judged = [ts, amount, *[n for n in (*REQUIRED_STRINGS, *OPTIONAL_STRINGS, "device",
                                        "quantity") if n in names]]
    tables, rejected, first_rejection, seen = [], 0, "", 0
    for batch in source.iter_batches(batch_size=_BATCH_ROWS, columns=judged):
        table, bad = _judged(path, pa.Table.from_batches([batch]), ts, amount)
        rows = np.flatnonzero(bad)
        if len(rows) and not first_rejection:
            first_rejection = f"row {seen + int(rows[0]) + 1}: {bad[rows[0]]}"
        rejected += len(rows)
        seq = pa.array(np.arange(seen + 1, seen + batch.num_rows + 1), pa.int64())
        tables.append(table.append_column("seq", seq).filter(pa.array(bad == "")))
        seen += batch.num_rows
    return per_minute(pa.concat_tables(tables) if tables else None, rejected, first_rejection)


def _one_of(path: Path, names: set[str], choices: tuple[str, str]) -> str:
    present = [c for c in choices if c in names]
    if len(present) != 1:
        raise PastNightUnreadable(path, f"has {' and '.join(present)}: one of them, please"
                                  if present else f"has no column {' or '.join(choices)}")
    return present[0]


def _judged(path: Path, table: pa.Table, ts: str, amount: str) -> tuple[pa.Table, np.ndarray]:
    """(order_id, ts_ms, amount_cents) of each row, and the reason each row is rejected ('':
    accepted), the first rule it breaks."""
    reasons = np.full(table.num_rows, "", dtype=object)

    def rule(bad: Any, reason: str) -> None:
        mask = bad if isinstance(bad, np.ndarray) else np.asarray(pc.fill_null(bad, True))
        reasons[(reasons == "") & mask] = reason

    ts_ms = _integers(path, table, ts)
    rule(pc.or_(pc.less(ts_ms, TS_MIN_MS), pc.greater_equal(ts_ms, TS_MAX_MS)),
         f"{ts} is missing or not epoch milliseconds between 2000 and 2100")
    cents = _amount_cents(path, table, amount, rule)
    order_id = table["order_id"] if "order_id" in table.column_names else \
        pa.nulls(table.num_rows, pa.string())
    for name, limit in {**REQUIRED_STRINGS, **OPTIONAL_STRINGS}.items():
        if name in table.column_names:
            length = pc.utf8_length(_strings(path, table, name))
            bad = pc.or_(pc.less(length, 1), pc.greater(length, limit))
            if name in OPTIONAL_STRINGS:  # absent is fine
                bad = pc.fill_null(bad, False)
            rule(bad, f"{name} is missing or not 1-{limit} characters")
    if "device" in table.column_names:
        rule(pc.invert(pc.is_in(_strings(path, table, "device"), pa.array(DEVICES))),
             f"device is not one of {', '.join(DEVICES)}")
    if "quantity" in table.column_names:
        quantity = _integers(path, table, "quantity")
        rule(pc.or_(pc.less(quantity, QUANTITY_MIN), pc.greater(quantity, QUANTITY_MAX)),
             f"quantity is missing or outside [{QUANTITY_MIN}, {QUANTITY_MAX}]")
    ok = reasons == ""
    clean_cents = np.where(ok, cents, 0)
    return pa.table({"order_id": order_id.cast(pa.string()),
                     "ts_ms": pc.fill_null(ts_ms, 0).cast(pa.int64()),
                     "amount_cents": pa.array(clean_cents, pa.int64())}), reasons


def _integers(path: Path, table: pa.Table, name: str) -> pa.ChunkedArray:
    column = table[name]
    if not pa.types.is_integer(column.type):
        raise PastNightUnreadable(path, f"column {name} is {column.type}, not integers")
    return column


def _strings(path: Path, table: pa.Table, name: str) -> pa.ChunkedArray:
    column = table[name]
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise PastNightUnreadable(path, f"column {name} is {column.type}, not strings")
    return column


def _amount_cents(path: Path, table: pa.Table, name: str, rule: Rule) -> np.ndarray:
    """Each row's amount in cents (0 where it breaks the contract, and the rule says why)."""
    if name == "amount_cents":
        cents = _integers(path, table, name)
        rule(pc.or_(pc.less_equal(cents, 0), pc.greater(cents, MAX_AMOUNT_CENTS)),
             f"amount_cents is missing or outside (0, {MAX_AMOUNT_CENTS}]")
        return np.asarray(pc.fill_null(cents, 0).cast(pa.int64()))
    # Each distinct amount judged once by the contract's own rule: a night repeats its prices.
    encoded = pc.dictionary_encode(_strings(path, table, name)).combine_chunks()
    values = encoded.dictionary.to_pylist()
    judged = [_judge_amount(value) for value in values]
    indices = np.asarray(pc.fill_null(encoded.indices, -1), dtype=np.int64)
    by_value = np.array([c for c, _ in judged] + [0], np.int64)
    cents_of_row = by_value[indices]  # -1: the last one, 0 cents, a missing amount
    why = np.array([r for _, r in judged] + ["amount is missing"], dtype=object)[indices]
    for reason in set(why.tolist()) - {""}:
        rule(why == reason, reason)
    return cents_of_row


def _judge_amount(value: str) -> tuple[int, str]:
    try:
        return amount_to_cents(value), ""
    except InvalidEvent as err:
        return 0, str(err)
