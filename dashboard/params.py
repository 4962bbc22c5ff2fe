"""Every parameter a request brings (query strings, and what the pages' controls send to their
callbacks), checked in one place: a bad one is a clear 400 (or the page's message), never a guess
or a traceback. Whatever the browser sends, the server bounds it here: the values of an
allow-list (`one_of`), whole numbers in a range, text of a bounded length, a review range of at
most MAX_RANGE_MS."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from dashboard.data.history import DIMENSIONS
from dashboard.data.ranges import ordered
from dashboard.data.review import COMPARISONS, RESOLUTIONS_S, ReviewQuery
from dashboard.format import LANGUAGES, parse_beijing
from dashboard.said import Said

MAX_VALUE_CHARS = 200
MAX_RANGE_MS = 48 * 3_600_000  # a review range: the festival day with its eve and morning after
RESOLUTIONS = tuple(RESOLUTIONS_S)
T = TypeVar("T")


class BadTime(Said):
    """A range field that is not a time (the review shows it with the accepted formats)."""


class BadParameter(ValueError):
    """A request parameter that cannot be used: says which and what it should be."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name


def shown_value(value: Any) -> str:
    """A value from a request, short enough to quote in a message."""
    return repr(value)[:40]


def one_of(name: str, value: Any, allowed: Sequence[T]) -> T:
    """`value` when it is one of `allowed` (the same type, not a look-alike: 1.0 is not 1, True
    is not 1), else BadParameter."""
    for choice in allowed:
        if type(value) is type(choice) and value == choice:
            return choice
    raise BadParameter(name, f"{shown_value(value)} is not one of "
                             f"{', '.join(str(a) for a in allowed)}")


def whole_number(name: str, value: Any, low: int, high: int) -> int:
    """An integer in [low, high] (a JSON number without a fraction; not a bool, NaN or a string)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadParameter(name, f"{shown_value(value)} is not a whole number from {low} to {high}")
    return value


def text_value(name: str, value: Any, max_chars: int = MAX_VALUE_CHARS) -> str:
    """A string of at most `max_chars` characters (None: empty)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadParameter(name, f"{shown_value(value)} is not text")
    if len(value) > max_chars:
        raise BadParameter(name, f"longer than {max_chars} characters")
    return value


def comparison(value: Any) -> str:
    """What the review compares a range with: none, previous or last_year."""
    return one_of("compare", value, COMPARISONS)


def language(value: str | None) -> str:
    """`?lang=`: zh (the default) or en."""
    if value is None or value == "":
        return "zh"
    if not isinstance(value, str) or value not in LANGUAGES:
        raise BadParameter("lang", f"{str(value)[:20]!r} is not one of {', '.join(LANGUAGES)}")
    return value


def check_query(args: Mapping[str, str]) -> None:
    """The query string of any page or /api/ request: `lang` is the one parameter with meaning
    (others, such as a cache buster, are ignored); too long a value is refused."""
    for name, value in args.items():
        if len(value) > MAX_VALUE_CHARS:
            raise BadParameter(name[:40], f"longer than {MAX_VALUE_CHARS} characters")
    language(args.get("lang"))


def dimension(value: str | None) -> str | None:
    """A dimension of the review (device, category, region, payment, merchant), or None: all."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or value not in DIMENSIONS:
        raise BadParameter("dimension", f"{str(value)[:40]!r} is not one of {', '.join(DIMENSIONS)}")
    return value


def review_query(start: str | None, end: str | None, resolution: str | None,
                 chosen: str | None, festival_day: date) -> ReviewQuery:
    """The review's range fields, resolution and dimension as one question (BadTime, or a
    ValueError from the question itself, says what is wrong): a range of at most MAX_RANGE_MS."""
    start_ms, end_ms = _time(start, festival_day), _time(end, festival_day)
    ordered(start_ms, end_ms)
    if end_ms - start_ms > MAX_RANGE_MS:
        raise Said("range_too_long", hours=MAX_RANGE_MS // 3_600_000)
    return ReviewQuery(start_ms, end_ms, one_of("resolution", resolution, RESOLUTIONS),
                       dimension(chosen))


def _time(field: str | None, festival_day: date) -> int:
    value = str(field or "")[:MAX_VALUE_CHARS]
    try:
        return parse_beijing(value, festival_day)
    except ValueError:
        raise BadTime("not_a_time", value=value.strip()) from None


def export_pick(pick: str | None) -> tuple[str | None, str | None]:
    """The curve on show when orders are exported ('dimension=value', or nothing: all orders)."""
    chosen, _, value = text_value("pick", pick, 2 * MAX_VALUE_CHARS).partition("=")
    if not chosen:
        return None, None
    if len(value) > MAX_VALUE_CHARS:
        raise BadParameter("value", f"longer than {MAX_VALUE_CHARS} characters")
    return dimension(chosen), value or None
