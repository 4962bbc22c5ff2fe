"""The vectorized encoder writes exactly what the contract's reference encoder writes."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.contract import ORDER_SCHEMA, parse_order
from rehearsal.encode import encode_orders
from tests.unit.test_contract import orders


@settings(max_examples=60)
@given(st.lists(orders, min_size=1, max_size=20))
def test_batch_encoding_matches_the_reference_byte_for_byte(batch: list) -> None:
    table = pa.Table.from_pylist([vars(o) for o in batch], schema=ORDER_SCHEMA)
    payloads = encode_orders(table)
    assert payloads == [o.to_payload() for o in batch]
    assert [parse_order(p) for p in payloads] == batch


def test_dictionary_columns_encode_like_plain_ones(order_factory) -> None:
    batch = [order_factory(device=d) for d in ("pc", "mobile", "pc", "pad")]
    table = pa.Table.from_pylist([vars(o) for o in batch], schema=ORDER_SCHEMA)
    table = table.set_column(3, "device", table["device"].dictionary_encode())
    assert encode_orders(table) == [o.to_payload() for o in batch]
