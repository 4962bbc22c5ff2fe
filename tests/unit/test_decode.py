"""The batch decoder gives every payload the same fate and values as the reference rules."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.contract import InvalidEvent, parse_order
from ingest.decode import decode_batch
from rehearsal.malformed import MAKERS, malformed_payloads
from tests.unit.test_contract import body, orders

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
payloads = st.one_of(
    orders.map(lambda o: o.to_payload()),
    st.sampled_from([*odd_but_valid, *twins]),
    st.sampled_from(list(MAKERS)).map(lambda k: MAKERS[k]("h")),
    st.binary(max_size=200),
    st.dictionaries(st.sampled_from(["order_id", "ts", "amount", "device", "quantity", "x"]),
                    st.one_of(st.integers(), st.text(max_size=5), st.none(), st.floats(),
                              st.booleans()), max_size=6).map(lambda d: json.dumps(d).encode()),
)


def reference(batch: list[bytes]) -> tuple[list[dict], list[tuple[int, str]]]:
    accepted, rejected = [], []
    for i, payload in enumerate(batch):
        try:
            accepted.append({"index": i, **vars(parse_order(payload))})
        except InvalidEvent as err:
            rejected.append((i, str(err)))
    return accepted, rejected


def assert_same_as_reference(batch: list[bytes]) -> None:
    decoded = decode_batch(batch)
    accepted, rejected = reference(batch)
    assert decoded.rejected == rejected
    assert decoded.orders.to_pylist() == accepted


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, max_size=60))
def test_any_mix_of_payloads_decodes_like_the_reference(batch: list[bytes]) -> None:
    assert_same_as_reference(batch)


def test_odd_but_valid_payloads_are_accepted_with_their_exact_values() -> None:
    assert_same_as_reference(odd_but_valid + twins)
    assert len(decode_batch(odd_but_valid).orders) == len(odd_but_valid)


def test_ten_thousand_malformed_payloads_never_become_orders(order_factory) -> None:
    bad = malformed_payloads(np.random.default_rng(1), 10_000, "m")
    good = [order_factory().to_payload() for _ in range(500)]
    decoded = decode_batch(bad + good)
    assert len(decoded.rejected) == 10_000
    assert decoded.orders["index"].to_pylist() == list(range(10_000, 10_500))
