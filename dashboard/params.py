"""Every parameter a request brings (query strings, and what the review's controls send), checked
in one place: a bad one is a clear 400 (or the review's message), never a guess or a traceback."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from dashboard.data.history import DIMENSIONS
from dashboard.data.review import ReviewQuery
from dashboard.format import LANGUAGES, parse_beijing

MAX_VALUE_CHARS = 200


class BadTime(ValueError):
    """A range field that is not a time (the review shows it with the accepted formats)."""


class BadParameter(ValueError):
    """A request parameter that cannot be used: says which and what it should be."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name


def language(value: str | None) -> str:
    """`?lang=`: zh (the default) or en."""
    if value is None or value == "":
        return "zh"
    if value not in LANGUAGES:
        raise BadParameter("lang", f"{value[:20]!r} is not one of {', '.join(LANGUAGES)}")
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
    if value not in DIMENSIONS:
        raise BadParameter("dimension", f"{str(value)[:40]!r} is not one of {', '.join(DIMENSIONS)}")
    return value


def review_query(start: str | None, end: str | None, resolution: str | None,
                 chosen: str | None, festival_day: date) -> ReviewQuery:
    """The review's range fields, resolution and dimension as one question (BadTime, or a
    ValueError from the question itself, says what is wrong)."""
    try:
        start_ms = parse_beijing(str(start or "")[:MAX_VALUE_CHARS], festival_day)
        end_ms = parse_beijing(str(end or "")[:MAX_VALUE_CHARS], festival_day)
    except ValueError as err:
        raise BadTime(str(err)) from None
    return ReviewQuery(start_ms, end_ms, str(resolution), dimension(chosen))


def export_pick(pick: str | None) -> tuple[str | None, str | None]:
    """The curve on show when orders are exported ('dimension=value', or nothing: all orders)."""
    chosen, _, value = str(pick or "").partition("=")
    if not chosen:
        return None, None
    if len(value) > MAX_VALUE_CHARS:
        raise BadParameter("value", f"longer than {MAX_VALUE_CHARS} characters")
    return dimension(chosen), value or None
