"""The order and inventory events of shared/contract.md: their rules, their fates, exact money."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

DEVICES: tuple[str, ...] = ("pc", "mobile", "pad", "other")
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")  # the festival day and every time shown
MAX_AMOUNT_CENTS = 1_000_000_000  # 10,000,000.00 CNY
QUANTITY_MIN, QUANTITY_MAX = 1, 10_000
PAYLOAD_MAX_BYTES = 64 * 1024
# The contract gives no range for ts; these bounds catch the classic producer bug of sending
# epoch *seconds* (or microseconds) while allowing any plausible event time.
TS_MIN_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
TS_MAX_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
# name -> maximum length in characters; every one of them is required, 1 character at least.
REQUIRED_STRINGS: dict[str, int] = {
    "order_id": 64, "category": 64, "region": 64,
    "merchant_id": 64, "buyer_id": 64, "item_id": 64,
}
OPTIONAL_STRINGS: dict[str, int] = {"payment": 32}
ORDER_FIELDS: tuple[str, ...] = (
    "order_id", "ts", "amount", "device", "category", "region",
    "merchant_id", "buyer_id", "item_id", "quantity", "payment",
)
_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
# Column names of an order table: the contract's fields, with money in integer cents.
STRING_COLUMNS = ("order_id", "device", "category", "region", "merchant_id", "buyer_id",
                  "item_id")
ORDER_SCHEMA = pa.schema(
    [("order_id", pa.string()), ("ts_ms", pa.int64()), ("amount_cents", pa.int64()),
     *[(name, pa.string()) for name in STRING_COLUMNS[1:]],
     ("quantity", pa.int64()), ("payment", pa.string())])


class Fate(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


class InvalidEvent(ValueError):
    """An event that breaks a rule; its message is the dead-letter reason."""


@dataclass(frozen=True)
class Order:
    order_id: str
    ts_ms: int
    amount_cents: int
    device: str
    category: str
    region: str
    merchant_id: str
    buyer_id: str
    item_id: str
    quantity: int
    payment: str | None = None

    def to_payload(self) -> bytes:
        """The canonical wire form: compact JSON, amount as a two-decimal string."""
        fields = asdict(self)
        fields["ts"] = fields.pop("ts_ms")
        fields["amount"] = format_cents(fields.pop("amount_cents"))
        body = {name: fields[name] for name in ORDER_FIELDS if fields[name] is not None}
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class InventoryEvent:
    item_id: str
    ts_ms: int
    stock: int

    def to_payload(self) -> bytes:
        body = {"item_id": self.item_id, "ts": self.ts_ms, "stock": self.stock}
        return json.dumps(body, separators=(",", ":")).encode()


def format_cents(cents: int) -> str:
    """Integer cents as a yuan string with exactly two decimals: 12990 -> '129.90'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def amount_to_cents(value: Any) -> int:
    """A contract amount (plain decimal string, or JSON number read as a Decimal) in integer cents."""
    if isinstance(value, str):
        if not _PLAIN_DECIMAL.fullmatch(value):
            raise InvalidEvent(f"amount {value!r} is not a plain decimal like \"129.90\"")
        number = Decimal(value)
    elif isinstance(value, Decimal | int) and not isinstance(value, bool):
        number = Decimal(value)
    else:
        raise InvalidEvent(f"amount must be a string or a number, got {_json_type(value)}")
    if not number.is_finite():
        raise InvalidEvent(f"amount {value!r} is not a finite number")
    cents = number * 100
    if cents != cents.to_integral_value():
        raise InvalidEvent(f"amount {value!r} has more than 2 decimals")
    if not 0 < cents <= MAX_AMOUNT_CENTS:
        raise InvalidEvent(f"amount {value!r} is outside (0, 10000000.00]")
    return int(cents)


def cents_from_text(amount: pa.Array | pa.ChunkedArray) -> pa.Array:
    """'129.90' strings (at most 2 decimals) -> integer cents, exactly, through DECIMAL."""
    exact = pc.cast(amount, pa.decimal128(16, 2))
    return pc.cast(pc.multiply(exact, pa.scalar(100, pa.decimal128(4, 0))), pa.int64())


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _reject_constant(name: str) -> Any:
    raise InvalidEvent(f"{name} is not valid JSON")


def parse_object(payload: bytes | str) -> dict[str, Any]:
    """One UTF-8 JSON object, numbers kept exact (Decimal), NaN/Infinity refused."""
    if len(payload) > PAYLOAD_MAX_BYTES:
        raise InvalidEvent(f"payload is {len(payload)} bytes, over the {PAYLOAD_MAX_BYTES}-byte limit")
    if isinstance(payload, bytes | bytearray | memoryview):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidEvent(f"payload is not UTF-8 (byte {err.start})") from None
    try:
        body = json.loads(payload, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise InvalidEvent("payload nests too deeply") from None
    except json.JSONDecodeError as err:
        raise InvalidEvent(f"not JSON: {err.msg} at char {err.pos}") from None
    if not isinstance(body, dict):
        raise InvalidEvent(f"payload is a JSON {_json_type(body)}, not an object")
    return body


def _integer(body: dict[str, Any], name: str, low: int, high: int) -> int:
    if name not in body:
        raise InvalidEvent(f"{name} is missing")
    value = body[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidEvent(f"{name} must be an integer, got {_json_type(value)}")
    if not low <= value <= high:
        raise InvalidEvent(f"{name} {value} is outside [{low}, {high}]")
    return value


def _string(body: dict[str, Any], name: str, max_chars: int) -> str:
    if name not in body:
        raise InvalidEvent(f"{name} is missing")
    value = body[name]
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string, got {_json_type(value)}")
    if not 1 <= len(value) <= max_chars:
        raise InvalidEvent(f"{name} must be 1-{max_chars} characters, got {len(value)}")
    return value


def _timestamp(body: dict[str, Any], name: str) -> int:
    value = _integer(body, name, -(2**63), 2**63 - 1)
    if not TS_MIN_MS <= value < TS_MAX_MS:
        raise InvalidEvent(f"{name} {value} is not epoch milliseconds between 2000 and 2100")
    return value


def parse_order(payload: bytes | str) -> Order:
    """A valid order, or InvalidEvent whose message says which rule it broke."""
    body = parse_object(payload)
    strings = {name: _string(body, name, limit) for name, limit in REQUIRED_STRINGS.items()}
    ts_ms = _timestamp(body, "ts")
    if "amount" not in body:
        raise InvalidEvent("amount is missing")
    amount_cents = amount_to_cents(body["amount"])
    device = _string(body, "device", 16)
    if device not in DEVICES:
        raise InvalidEvent(f"device {device!r} is not one of {', '.join(DEVICES)}")
    quantity = _integer(body, "quantity", QUANTITY_MIN, QUANTITY_MAX)
    payment = _string(body, "payment", OPTIONAL_STRINGS["payment"]) if "payment" in body else None
    return Order(ts_ms=ts_ms, amount_cents=amount_cents, device=device,
                 quantity=quantity, payment=payment, **strings)


def parse_inventory(payload: bytes | str) -> InventoryEvent:
    body = parse_object(payload)
    return InventoryEvent(
        item_id=_string(body, "item_id", REQUIRED_STRINGS["item_id"]),
        ts_ms=_timestamp(body, "ts"),
        stock=_integer(body, "stock", 0, 2**53),
    )


@dataclass(frozen=True)
class Verdict:
    fate: Fate
    order: Order | None = None
    reason: str | None = None


def judge(payloads: Iterable[bytes], accepted_ids: set[str]) -> Iterator[Verdict]:
    """The reference fate of each payload, in order; `accepted_ids` is updated as orders are accepted.

    This is the slow, obviously-correct definition. The ingest hot path decides fates for
    whole Arrow batches and is tested against this function.
    """
    for payload in payloads:
        try:
            order = parse_order(payload)
        except InvalidEvent as err:
            yield Verdict(Fate.REJECTED, reason=str(err))
            continue
        if order.order_id in accepted_ids:
            yield Verdict(Fate.DUPLICATE, order=order)
            continue
        accepted_ids.add(order.order_id)
        yield Verdict(Fate.ACCEPTED, order=order)


def midnight_ms(festival_day: date) -> int:
    """Epoch milliseconds of 00:00 Beijing time on the festival day."""
    start = datetime(festival_day.year, festival_day.month, festival_day.day, tzinfo=BEIJING)
    return int(start.timestamp() * 1000)


def beijing_iso(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO 8601 in Beijing time: 2026-11-11T00:00:26.000+08:00."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone(BEIJING).isoformat(
        timespec="milliseconds")
