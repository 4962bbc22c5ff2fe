"""What a range of the night asked for is, one rule for `gmv report` and /review: an end not after
its start is refused as empty (the same moment) or backwards; a range that holds none of the
night's data is answered with a note that says where the data lies (after it, before it, none
yet), never as a length it does not have; with no range asked, the night so far."""

from __future__ import annotations

from typing import NamedTuple

from dashboard.format import beijing_text, text


class RangeOrder(ValueError):
    """Range ends whose end is not after their start: `empty` when they are the same moment. The
    page says it in its language (`key`, a text of dashboard/format.py); `str()` is its English
    line, what the command line prints."""

    def __init__(self, empty: bool) -> None:
        self.key = "range_empty" if empty else "range_backward"
        super().__init__(text("en", self.key))


def ordered(start_ms: int, end_ms: int) -> None:
    """Nothing when the range ends after it starts, else RangeOrder."""
    if end_ms <= start_ms:
        raise RangeOrder(empty=end_ms == start_ms)


class Night(NamedTuple):
    """The committed data's extent: from its first second to just after its last (excluded)."""

    start_ms: int
    end_ms: int


def night_of(bounds_ms: tuple[int, int] | None) -> Night | None:
    """The seconds the committed orders fall in (History.bounds_ms: first and last event time)."""
    if bounds_ms is None:
        return None
    first, last = bounds_ms
    return Night(first // 1000 * 1000, last // 1000 * 1000 + 1000)


class RangeNote(NamedTuple):
    """Why a range holds none of the night's orders: a text key and the time it names."""

    key: str  # range_no_data, range_after_night, range_before_night (dashboard/format.py)
    at_ms: int | None

    def said(self, lang: str) -> str:
        return text(lang, self.key, time=beijing_text(self.at_ms)) if self.at_ms is not None \
            else text(lang, self.key)


def outside_night(start_ms: int, end_ms: int, night: Night | None) -> RangeNote | None:
    """None when the range meets the night's data; else where the data lies: none yet, ended
    before the range (its last second), or beginning after it (its first second)."""
    if night is None:
        return RangeNote("range_no_data", None)
    if start_ms >= night.end_ms:
        return RangeNote("range_after_night", night.end_ms - 1000)
    if end_ms <= night.start_ms:
        return RangeNote("range_before_night", night.start_ms)
    return None
