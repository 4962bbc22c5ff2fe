"""Every validation rule of shared/contract.md, and the fate of each event."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.contract import (
    DEVICES,
    NO_DATA,
    Fate,
    InvalidEvent,
    Order,
    amount_to_cents,
    format_cents,
    judge,
    judge_payload,
    parse_inventory,
    parse_order,
)

text_64 = st.text(min_size=1, max_size=64).filter(lambda s: len(s) <= 64)
orders = st.builds(
    Order, order_id=text_64, ts_ms=st.integers(946_684_800_000, 4_102_444_799_999),
    amount_cents=st.integers(1, 1_000_000_000), device=st.sampled_from(DEVICES),
    category=text_64, region=text_64, merchant_id=text_64, buyer_id=text_64, item_id=text_64,
    quantity=st.integers(1, 10_000),
    payment=st.none() | st.text(min_size=1, max_size=32))


def body(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "order_id": "o-1", "ts": 1_794_326_426_000, "amount": "129.90", "device": "mobile",
        "category": "apparel", "region": "ZJ", "merchant_id": "m1", "buyer_id": "u1",
        "item_id": "i1", "quantity": 1}
    fields.update(changes)
    return json.dumps({k: v for k, v in fields.items() if v is not ...}).encode()


@given(orders)
def test_a_valid_order_survives_its_own_wire_form(order: Order) -> None:
    assert parse_order(order.to_payload()) == order


@given(st.integers(1, 1_000_000_000))
def test_money_text_round_trips_to_the_cent(cents: int) -> None:
    assert amount_to_cents(format_cents(cents)) == cents


@pytest.mark.parametrize("amount, cents", [
    ("129.90", 12990), ("0.01", 1), ("10000000.00", 1_000_000_000), ("7", 700), ("5.5", 550),
])
def test_amount_strings_are_read_exactly(amount: str, cents: int) -> None:
    assert parse_order(body(amount=amount)).amount_cents == cents


@pytest.mark.parametrize("raw, cents", [(b"129.9", 12990), (b"3", 300), (b"0.10", 10),
                                        (b"1.00e2", 10000)])
def test_a_json_number_is_read_by_its_decimal_value(raw: bytes, cents: int) -> None:
    payload = body(amount=0).replace(b'"amount": 0', b'"amount": ' + raw)
    assert parse_order(payload).amount_cents == cents


@pytest.mark.parametrize("change, reason", [
    ({"amount": "129.999"}, "more than 2 decimals"),
    ({"amount": "0.00"}, "outside"),
    ({"amount": "-1.00"}, "plain decimal"),
    ({"amount": "10000000.01"}, "outside"),
    ({"amount": "1e3"}, "plain decimal"),
    ({"amount": " 12.00"}, "plain decimal"),
    ({"amount": True}, "string or a number"),
    ({"amount": None}, "string or a number"),
    ({"amount": ...}, "amount is missing"),
    ({"ts": "1794326426000"}, "ts must be an integer"),
    ({"ts": 1_794_326_426}, "epoch milliseconds"),
    ({"ts": 1.5}, "ts must be an integer"),
    ({"ts": ...}, "ts is missing"),
    ({"device": "tv"}, "not one of"),
    ({"device": "PC"}, "not one of"),
    ({"quantity": 0}, "outside"),
    ({"quantity": 10_001}, "outside"),
    ({"quantity": "1"}, "quantity must be an integer"),
    ({"quantity": True}, "quantity must be an integer"),
    ({"order_id": ""}, "1-64 characters"),
    ({"order_id": "x" * 65}, "1-64 characters"),
    ({"order_id": 7}, "order_id must be a string"),
    ({"region": None}, "region must be a string"),
    ({"item_id": ...}, "item_id is missing"),
    ({"merchant_id": ["m1"]}, "merchant_id must be a string"),
    ({"buyer_id": {"id": 1}}, "buyer_id must be a string"),
    ({"category": "c" * 65}, "1-64 characters"),
    ({"payment": ""}, "payment must be 1-32"),
    ({"payment": "p" * 33}, "payment must be 1-32"),
    ({"payment": 3}, "payment must be a string"),
])
def test_each_rule_rejects_with_a_reason_a_human_can_act_on(change: dict, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_order(body(**change))


@pytest.mark.parametrize("payload, reason", [
    (b"", "not JSON"), (b"{", "not JSON"), (b"[1, 2]", "array, not an object"),
    (b"null", "null, not an object"), (b'"x"', "string, not an object"),
    (b'{"amount": NaN}', "NaN is not valid JSON"), (b"\xff\xfe{}", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "over the 16,384-byte limit"),
    (b"[" * 8_000 + b"]" * 8_000, "nests too deeply|not an object"),
    (b'{"a": 1} {"b": 2}', "Extra data"), (b'x{"a": 1}', "not JSON"),
])
def test_payloads_that_are_not_one_json_object_are_rejected(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_order(payload)


HUGE = "9" * 5_000


@pytest.mark.parametrize("payload, reason", [
    (body(quantity=0).replace(b'"quantity": 0', f'"quantity": {HUGE}'.encode()),
     "quantity 9999.*outside"),
    (body(ts=0).replace(b'"ts": 0', f'"ts": {HUGE}'.encode()), "ts 9999.*outside"),
    (body(amount=0).replace(b'"amount": 0', f'"amount": {HUGE}'.encode()), "outside"),
    (body(amount=0).replace(b'"amount": 0', b'"amount": 1e999999999'), "outside"),
    (body(amount=0).replace(b'"amount": 0', b'"amount": 1e-999999999'), "more than 2 decimals"),
    (body(amount="1.00000000000000000000000000001"), "more than 2 decimals"),
    (body(amount="１２.５０"), "plain decimal"), (body(amount="١٢"), "plain decimal"),
    (body(order_id="x").replace(b'"x"', b'"\\ud800"'), "lone surrogate"),
    (body(extra="x").replace(b'"x"', b'"\\udfff tail"'), "lone surrogate"),
    (body(amount=0).replace(b'"amount": 0', b'"amount": NaN'), "NaN"),
    (body(amount=0).replace(b'"amount": 0', b'"amount": -Infinity'), "Infinity"),
    (body().replace(b'"order_id": "o-1"', b'"order_id": "o-1", "order_id": "o-2"'),
     "appears twice"),
    (body(extra={"a": 1}).replace(b'{"a": 1}', b'{"a": 1, "a": 2}'), "appears twice"),
    (body(quantity=True), "quantity must be an integer, got boolean"),
    (body(quantity=2.5), "quantity must be an integer, got number"),
    (body(ts=1.794326426e12), "ts must be an integer"),
    (body(order_id=0).replace(b'"order_id": 0', b'"order_id": 123456789012345678901234'),
     "order_id must be a string, got integer"),
    (body(amount=0).replace(b'"amount": 0', b'"amount": 1e99999999999999999999999'), "outside"),
    (body(quantity=0).replace(b'"quantity": 0', b'"quantity": 1e99999999999999999999999'),
     "quantity must be an integer, got number"),
])
def test_hostile_payloads_are_judged_not_crashed_on(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_order(payload)


def test_an_unknown_field_of_any_length_is_ignored() -> None:
    payload = body(extra=0).replace(b'"extra": 0', f'"extra": {HUGE}'.encode())
    assert parse_order(payload).quantity == 1
    absurd = body(extra=0).replace(b'"extra": 0', b'"extra": 1e99999999999999999999999')
    assert parse_order(absurd).quantity == 1
    pair = body(extra="x").replace(b'"x"', b'"\\ud83d\\ude00"')  # a whole pair: fine
    assert parse_order(pair).order_id == "o-1"


def test_an_order_stamped_beyond_the_margin_ahead_of_its_arrival_is_future_ts() -> None:
    arrival = 1_794_326_426_000
    assert judge_payload(body(ts=arrival + 300_000), arrival)[0] is not None
    order, reason = judge_payload(body(ts=arrival + 300_001), arrival)
    assert order is None and reason is not None and reason.startswith("future_ts")
    assert judge_payload(body(ts=arrival + 60_000), arrival, future_margin_ms=30_000)[0] is None


def test_whatever_goes_wrong_judging_a_payload_is_its_rejection_not_a_crash() -> None:
    order, reason = judge_payload(12345, 0)  # type: ignore[arg-type]  # not even bytes
    assert order is None and reason == "undecodable: TypeError"


def test_an_entry_without_data_is_no_data() -> None:
    assert judge_payload(None, 0) == (None, NO_DATA) and NO_DATA.startswith("no_data")


def test_unknown_fields_are_ignored_and_payment_is_optional() -> None:
    order = parse_order(body(retry=1, coupon={"x": 1}))
    assert order.payment is None and order.amount_cents == 12990


@given(st.binary(max_size=300))
def test_any_bytes_get_a_fate_and_never_an_exception(payload: bytes) -> None:
    verdicts = list(judge([payload], set()))
    assert len(verdicts) == 1 and verdicts[0].fate in set(Fate)
    assert verdicts[0].fate is not Fate.REJECTED or verdicts[0].reason


def test_the_first_accepted_version_of_an_order_wins() -> None:
    first, changed, broken = body(amount="1.00"), body(amount="9.00"), body(amount="x")
    verdicts = list(judge([broken, first, changed, first], set()))
    assert [v.fate for v in verdicts] == [Fate.REJECTED, Fate.ACCEPTED, Fate.DUPLICATE,
                                          Fate.DUPLICATE]
    assert verdicts[1].order is not None and verdicts[1].order.amount_cents == 100


VALID = {body(order_id="a"): "a", body(order_id="b"): "b", body(order_id="a", amount="2.00"): "a"}
INVALID = [b"not json", body(device="tv")]


@settings(max_examples=50)
@given(st.lists(st.sampled_from([*VALID, *INVALID]), max_size=40))
def test_sent_is_accepted_plus_rejected_plus_duplicates(stream: list[bytes]) -> None:
    fates = Counter(v.fate for v in judge(stream, set()))
    valid = [VALID[p] for p in stream if p in VALID]
    assert fates[Fate.ACCEPTED] == len(set(valid))
    assert fates[Fate.DUPLICATE] == len(valid) - len(set(valid))
    assert fates[Fate.REJECTED] == len(stream) - len(valid)


def test_inventory_events_follow_their_own_rules() -> None:
    assert parse_inventory(b'{"item_id": "i1", "ts": 1794326426000, "stock": 5}').stock == 5
    with pytest.raises(InvalidEvent, match="stock"):
        parse_inventory(b'{"item_id": "i1", "ts": 1794326426000, "stock": -1}')
    with pytest.raises(InvalidEvent, match="item_id is missing"):
        parse_inventory(b'{"ts": 1794326426000, "stock": 5}')


def test_money_is_never_a_float() -> None:
    assert isinstance(amount_to_cents(Decimal("0.1") + Decimal("0.2")), int)
    assert amount_to_cents("0.30") == 30
