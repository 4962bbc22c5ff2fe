"""The order and inventory events of shared/contract.md: their rules, their fates, exact money."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingest import strict_json
from ingest.strict_json import HugeInteger, HugeNumber

DEVICES: tuple[str, ...] = ("pc", "mobile", "pad", "other")
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")  # the festival day and every time shown
MAX_AMOUNT_CENTS = 1_000_000_000  # 10,000,000.00 CNY
QUANTITY_MIN, QUANTITY_MAX = 1, 10_000
PAYLOAD_MAX_BYTES = 16 * 1024
FUTURE_TS_MARGIN_MS = 300_000  # the contract's default; the worker's is a setting
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
    """A contract amount (plain decimal string, or JSON number read as a Decimal) in integer cents,
    exactly: no rounding at any length, no arithmetic on absurd exponents."""
    if isinstance(value, HugeInteger | HugeNumber):
        raise InvalidEvent(f"amount {_shown(value)} is outside (0, 10000000.00]")
    elif isinstance(value, str):
        if not _PLAIN_DECIMAL.fullmatch(value):
            raise InvalidEvent(f"amount {_shown(value)} is not a plain decimal like \"129.90\"")
        number = Decimal(value)
    elif isinstance(value, Decimal | int) and not isinstance(value, bool):
        number = Decimal(value)
    else:
        raise InvalidEvent(f"amount must be a string or a number, got {_json_type(value)}")
    if not number.is_finite():
        raise InvalidEvent(f"amount {_shown(value)} is not a finite number")
    sign, digits, exponent = number.as_tuple()
    significant = len(digits) - (len(digits) - len("".join(map(str, digits)).rstrip("0")))
    if sign or significant == 0 or number.adjusted() > 7:
        raise InvalidEvent(f"amount {_shown(value)} is outside (0, 10000000.00]")
    exponent = int(exponent) + len(digits) - significant  # the trailing zeros dropped
    if exponent < -2:
        raise InvalidEvent(f"amount {_shown(value)} has more than 2 decimals")
    cents = int("".join(map(str, digits[:significant]))) * 10 ** (exponent + 2)
    if cents > MAX_AMOUNT_CENTS:
        raise InvalidEvent(f"amount {_shown(value)} is outside (0, 10000000.00]")
    return cents


def _shown(value: Any, limit: int = 40) -> str:
    """A value as a reason quotes it: short, whatever its length."""
    text = repr(value) if isinstance(value, str) and not isinstance(value, HugeInteger | HugeNumber) \
        else str(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def cents_from_text(amount: pa.Array | pa.ChunkedArray) -> pa.Array:
    """'129.90' strings (at most 2 decimals) -> integer cents, exactly, through DECIMAL."""
    exact = pc.cast(amount, pa.decimal128(16, 2))
    return pc.cast(pc.multiply(exact, pa.scalar(100, pa.decimal128(4, 0))), pa.int64())


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | HugeInteger):
        return "integer"
    if isinstance(value, Decimal | float):
        return "number"
    if isinstance(value, HugeInteger):
        return "integer"
    if isinstance(value, HugeNumber):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def parse_object(payload: bytes | str) -> dict[str, Any]:
    """One UTF-8 JSON object and nothing else (ingest/strict_json.py), or InvalidEvent."""
    if len(payload) > PAYLOAD_MAX_BYTES:
        raise InvalidEvent(f"payload is {len(payload):,} bytes, over the {PAYLOAD_MAX_BYTES:,}-byte "
                           "limit")
    try:
        body = strict_json.loads(payload)
    except strict_json.NotStrictJson as err:
        raise InvalidEvent(str(err)) from None
    if not isinstance(body, dict):
        raise InvalidEvent(f"payload is a JSON {_json_type(body)}, not an object")
    return body


def _integer(body: dict[str, Any], name: str, low: int, high: int) -> int:
    if name not in body:
        raise InvalidEvent(f"{name} is missing")
    value = body[name]
    if isinstance(value, HugeInteger):
        raise InvalidEvent(f"{name} {_shown(value)} is outside [{low}, {high}]")
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidEvent(f"{name} must be an integer, got {_json_type(value)}")
    if not low <= value <= high:
        raise InvalidEvent(f"{name} {value} is outside [{low}, {high}]")
    return value


def _string(body: dict[str, Any], name: str, max_chars: int) -> str:
    if name not in body:
        raise InvalidEvent(f"{name} is missing")
    value = body[name]
    if not isinstance(value, str) or isinstance(value, HugeInteger | HugeNumber):
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


NO_DATA = "no_data: the entry has no data field"


def judge_payload(payload: bytes | None, arrival_ms: int,
                  future_margin_ms: int = FUTURE_TS_MARGIN_MS) -> tuple[Order | None, str | None]:
    """One entry's order, or the reason it is rejected: the guard that every payload passes
    through, so no bytes can raise out of it. `arrival_ms`: when its stream entry was added."""
    if payload is None:
        return None, NO_DATA
    try:
        order = parse_order(payload)
    except InvalidEvent as err:
        return None, str(err)
    except Exception as err:  # noqa: BLE001 - whatever it is, it is this payload's fate
        return None, f"undecodable: {type(err).__name__}"
    if order.ts_ms > arrival_ms + future_margin_ms:
        return None, (f"future_ts: ts is {(order.ts_ms - arrival_ms) / 1000:,.0f} s ahead of its "
                      f"arrival (at most {future_margin_ms / 1000:,.0f} s)")
    return order, None


@dataclass(frozen=True)
class Verdict:
    fate: Fate
    order: Order | None = None
    reason: str | None = None


def judge(payloads: Iterable[bytes | None], accepted_ids: set[str],
          arrivals_ms: Iterable[int] | None = None,
          future_margin_ms: int = FUTURE_TS_MARGIN_MS) -> Iterator[Verdict]:
    """The reference fate of each entry's payload, in order (`arrivals_ms`: when each entry
    was added; default: now); `accepted_ids` is updated as orders are accepted.

    This is the slow, obviously-correct definition. The ingest hot path decides fates for
    whole batches and is tested against this function.
    """
    arrivals = iter(arrivals_ms) if arrivals_ms is not None else None
    for payload in payloads:
        arrival = next(arrivals) if arrivals is not None else int(time.time() * 1000)
        order, reason = judge_payload(payload, arrival, future_margin_ms)
        if order is None:
            yield Verdict(Fate.REJECTED, reason=reason)
        elif order.order_id in accepted_ids:
            yield Verdict(Fate.DUPLICATE, order=order)
        else:
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
