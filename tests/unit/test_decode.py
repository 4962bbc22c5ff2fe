"""The batch decoder gives every entry the same fate and values as the contract's reference judge,
whatever the bytes: canonical payloads, near misses of the canonical form (the fast path's
edge), odd but valid JSON, hostile literals and random bytes, entries without data."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.contract import FUTURE_TS_MARGIN_MS, judge_payload
from ingest.decode import decode_batch
from ingest.read import Entries
from rehearsal.malformed import MAKERS, malformed_payloads
from tests.unit.test_contract import HUGE, body, orders

ARRIVAL_MS = 1_794_330_000_000  # the entries' stream time
odd_but_valid = [
    body(amount=5).replace(b'"amount": 5', b'"amount": 5.50'),
    body(category="书籍"), body(region='Z"J'),
    body(retry=1, extra={"nested": [1, 2]}), body(amount="1.230"), body(amount="007.50"),
    b'{"order_id":"sp","ts":1794326426000,"amount":"1.00","device":"pc","category":"c",'
    b'"region":"r","merchant_id":"m","buyer_id":"b","item_id":"i","quantity": 1 }',
]
twins = [body(order_id="t", ts=1_794_326_426_000).replace(b"}", b', "order_id": "u"}'),
         b'{"order_id":"a"}{"order_id":"b"}', body(quantity=1).replace(b'"quantity": 1',
                                                                       b'"quantity": 1.0')]
hostile = [
    body(quantity=0).replace(b'"quantity": 0', f'"quantity": {HUGE}'.encode()),
    body(amount=0).replace(b'"amount": 0', b'"amount": 1e999999999'),
    body(order_id="x").replace(b'"x"', b'"\\ud800"'),
    body(amount=0).replace(b'"amount": 0', b'"amount": NaN'),
    body().replace(b'"order_id": "o-1"', b'"order_id": "o-1", "order_id": "o-2"'),
    body(quantity=True), body(amount="１２.５０"), b"[" * 20_000 + b"]" * 20_000,
    body(ts=ARRIVAL_MS + FUTURE_TS_MARGIN_MS + 1), body(ts=ARRIVAL_MS + FUTURE_TS_MARGIN_MS),
]
# Bytes that the canonical form's edges turn on.
EDGE_BYTES = b'"\\:,{}. 0123456789-eE\x00\x7f\xc3a'


@st.composite
def near_canonical(draw: st.DrawFn) -> bytes:
    """A canonical payload with one byte replaced, inserted or deleted, mostly next to its
    structure (quotes, colons, commas, braces, the dot of an amount), where the fast path's
    checks turn."""
    payload = bytearray(draw(orders).to_payload())
    structure = [i + d for i, b in enumerate(payload) if b in b'":,.{}' for d in (-1, 0, 1)
                 if 0 <= i + d < len(payload)]
    at = draw(st.sampled_from(structure) | st.integers(0, len(payload) - 1))
    change = draw(st.sampled_from(["replace", "insert", "delete"]))
    byte = draw(st.sampled_from(list(EDGE_BYTES)))
    if change == "replace":
        payload[at] = byte
    elif change == "insert":
        payload.insert(at, byte)
    else:
        del payload[at]
    return bytes(payload)


payloads = st.one_of(
    orders.map(lambda o: o.to_payload()),
    orders.map(lambda o: o.to_payload()[:-1] + b',"retry":3}'),
    near_canonical(),
    st.sampled_from([*odd_but_valid, *twins, *hostile]),
    st.sampled_from(list(MAKERS)).map(lambda k: MAKERS[k]("h")),
    st.binary(max_size=200),
    st.none(),  # an entry without a data field
    st.dictionaries(st.sampled_from(["order_id", "ts", "amount", "device", "quantity", "x"]),
                    st.one_of(st.integers(), st.text(max_size=5), st.none(), st.floats(),
                              st.booleans()), max_size=6).map(lambda d: json.dumps(d).encode()),
)


def entries(batch: list[bytes | None]) -> Entries:
    return Entries([f"{ARRIVAL_MS}-{i}".encode() for i in range(len(batch))], batch)


def assert_same_as_reference(batch: list[bytes | None]) -> None:
    decoded = decode_batch(entries(batch), FUTURE_TS_MARGIN_MS)
    accepted, rejected = [], []
    for i, payload in enumerate(batch):
        order, reason = judge_payload(payload, ARRIVAL_MS, FUTURE_TS_MARGIN_MS)
        if order is None:
            rejected.append((i, reason))
        else:
            accepted.append({"index": i, **vars(order)})
    assert decoded.rejected == rejected
    assert decoded.orders.to_pylist() == accepted


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, max_size=60))
def test_any_mix_of_entries_decodes_like_the_reference(batch: list[bytes | None]) -> None:
    assert_same_as_reference(batch)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(near_canonical(), min_size=1, max_size=20))
def test_a_near_miss_of_the_canonical_form_gets_the_reference_fate(batch: list[bytes]) -> None:
    assert_same_as_reference(batch)  # type: ignore[arg-type]


def test_odd_valid_and_hostile_payloads_get_their_exact_fates() -> None:
    assert_same_as_reference([*odd_but_valid, *twins, *hostile])
    assert len(decode_batch(entries(odd_but_valid), FUTURE_TS_MARGIN_MS).orders) == \
        len(odd_but_valid)


def test_ten_thousand_malformed_payloads_never_become_orders(order_factory) -> None:
    bad = malformed_payloads(np.random.default_rng(1), 10_000, "m")
    good = [order_factory().to_payload() for _ in range(500)]
    decoded = decode_batch(entries(bad + good), FUTURE_TS_MARGIN_MS)
    assert len(decoded.rejected) == 10_000
    assert decoded.orders["index"].to_pylist() == list(range(10_000, 10_500))


def single_byte_changes(payload: bytes) -> list[bytes]:
    """Every replacement, insertion and deletion of one byte (from EDGE_BYTES) in `payload`."""
    changed = []
    for at in range(len(payload) + 1):
        for byte in EDGE_BYTES:
            changed.append(payload[:at] + bytes([byte]) + payload[at:])
            if at < len(payload):
                changed.append(payload[:at] + bytes([byte]) + payload[at + 1:])
        if at < len(payload):
            changed.append(payload[:at] + payload[at + 1:])
    return changed


def test_every_single_byte_change_of_a_canonical_payload_gets_the_reference_fate(
        order_factory) -> None:
    bases = [order_factory(amount_cents=12_990, quantity=12).to_payload(),
             order_factory(payment=None, amount_cents=5, order_id="x").to_payload(),
             order_factory(amount_cents=10_000_000_00).to_payload()[:-1] + b',"retry":10}']
    for base in bases:
        assert_same_as_reference(single_byte_changes(base))  # type: ignore[arg-type]
