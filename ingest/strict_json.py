"""JSON as the contract reads it: one UTF-8 document, numbers exact (Decimal), integer literals
of any length judged rather than converted, and what Python's `json` would let through refused:
NaN and Infinity, a field name that appears twice, a lone surrogate escape."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


class NotStrictJson(ValueError):
    """The text breaks a rule; the message says which, for a dead-letter reason."""


class HugeInteger(str):
    """A JSON integer literal too long to be anything the contract allows (Python refuses to
    convert literals over 4,300 digits): judged out of range, never converted."""


class HugeNumber(str):
    """A JSON number whose exponent no Decimal can hold (1e99999999999999999999): judged out of
    range where the contract reads it, ignored elsewhere like any unknown field."""


def _decimal_literal(text: str) -> Decimal | HugeNumber:
    try:
        return Decimal(text)
    except ArithmeticError:  # decimal.InvalidOperation: the exponent is beyond any context
        return HugeNumber(text)


def _integer_literal(text: str) -> int | HugeInteger:
    return HugeInteger(text) if len(text) > 20 else int(text)


def _reject_constant(name: str) -> Any:
    raise NotStrictJson(f"{name} is not valid JSON")


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body = dict(pairs)
    if len(body) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise NotStrictJson(f"field {key[:40]!r} appears twice")
            seen.add(key)
    return body


def _lone_surrogate(body: Any) -> bool:
    """Whether any string in the document holds a lone surrogate (a "\\ud800" escape without
    its pair), which no UTF-8 text can carry."""
    stack = [body]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def loads(payload: bytes | str) -> Any:
    if isinstance(payload, bytes | bytearray | memoryview):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as err:
            raise NotStrictJson(f"payload is not UTF-8 (byte {err.start})") from None
    try:
        body = json.loads(payload, parse_float=_decimal_literal, parse_int=_integer_literal,
                          parse_constant=_reject_constant, object_pairs_hook=_no_repeats)
    except RecursionError:
        raise NotStrictJson("payload nests too deeply") from None
    except json.JSONDecodeError as err:
        raise NotStrictJson(f"not JSON: {err.msg} at char {err.pos}") from None
    if _lone_surrogate(body):
        raise NotStrictJson("payload has a lone surrogate escape (not UTF-8 text)")
    return body
