"""A corpus of payloads that break the contract, the way real producers break it."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from ingest.contract import PAYLOAD_MAX_BYTES

_TEMPLATE = {
    "order_id": "bad-0", "ts": 1_762_790_400_000, "amount": "129.90", "device": "mobile",
    "category": "apparel", "region": "ZJ", "merchant_id": "m00001", "buyer_id": "u0000001",
    "item_id": "i0000101", "quantity": 1,
}
_MISSING = object()


def _with(**changes: object) -> bytes:
    body = {**_TEMPLATE, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not _MISSING},
                      separators=(",", ":")).encode()


# Each maker returns one payload that the contract rejects; none contains a newline, so every
# one of them survives a round trip through a JSON Lines file.
MAKERS: dict[str, Callable[[str], bytes]] = {
    "truncated": lambda oid: _with(order_id=oid)[:37],
    "invalid_utf8": lambda oid: _with(order_id=oid).replace(b'"ZJ"', b'"Z\xff\xfe"'),
    "nan_amount": lambda oid: _with(order_id=oid, amount=0).replace(b'"amount":0', b'"amount":NaN'),
    "infinite_amount": lambda oid: _with(order_id=oid, amount=0).replace(
        b'"amount":0', b'"amount":Infinity'),
    "nested_amount": lambda oid: _with(order_id=oid, amount={"value": "129.90"}),
    "amount_3_decimals": lambda oid: _with(order_id=oid, amount="129.999"),
    "amount_negative": lambda oid: _with(order_id=oid, amount="-5.00"),
    "amount_zero": lambda oid: _with(order_id=oid, amount="0.00"),
    "amount_too_big": lambda oid: _with(order_id=oid, amount="10000000.01"),
    "amount_words": lambda oid: _with(order_id=oid, amount="12 yuan"),
    "quantity_string": lambda oid: _with(order_id=oid, quantity="2"),
    "quantity_zero": lambda oid: _with(order_id=oid, quantity=0),
    "quantity_float": lambda oid: _with(order_id=oid).replace(b'"quantity":1', b'"quantity":1.5'),
    "ts_string": lambda oid: _with(order_id=oid, ts="2026-11-11T00:00:00+08:00"),
    "ts_seconds": lambda oid: _with(order_id=oid, ts=1_762_790_400),
    "device_unknown": lambda oid: _with(order_id=oid, device="tv"),
    "device_number": lambda oid: _with(order_id=oid, device=1),
    "region_empty": lambda oid: _with(order_id=oid, region=""),
    "order_id_too_long": lambda oid: _with(order_id=(oid + "x" * 64)[:65]),
    "order_id_null": lambda oid: _with(order_id=None),
    "missing_item": lambda oid: _with(order_id=oid, item_id=_MISSING),
    "missing_amount": lambda oid: _with(order_id=oid, amount=_MISSING),
    "payment_too_long": lambda oid: _with(order_id=oid, payment="p" * 33),
    "array": lambda oid: json.dumps([oid, 129.9]).encode(),
    "string": lambda oid: json.dumps(oid).encode(),
    "null": lambda oid: b"null",
    "empty": lambda oid: b"",
    "huge": lambda oid: _with(order_id=oid, note="x" * PAYLOAD_MAX_BYTES),
}
# A huge body is rare in practice and costly in a sample file.
_WEIGHTS = np.array([0.1 if name == "huge" else 1.0 for name in MAKERS])


def malformed_payloads(rng: np.random.Generator, count: int, id_prefix: str) -> list[bytes]:
    """`count` rejected-by-contract payloads of seeded kinds; ids are unique under `id_prefix`."""
    kinds = rng.choice(len(MAKERS), size=count, p=_WEIGHTS / _WEIGHTS.sum())
    makers = list(MAKERS.values())
    return [makers[k](f"{id_prefix}-{i}") for i, k in enumerate(kinds)]
