"""Every CSV the war room writes, written here: a text cell that a spreadsheet would read as a
formula (`=cmd|' /C calc'!A0`, `@SUM(1)`, `+1`, `-1+2`, a leading tab or carriage return) gets a
single quote in front, and every text cell is quoted (OWASP, "CSV Injection"). Numbers (counts,
exact decimals) are written as numbers, a negative one as it is: only text is neutralised."""

from __future__ import annotations

import io
import itertools
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

# What a spreadsheet reads as the start of a formula (OWASP's list, plus a line feed, which some
# importers drop before looking at the rest).
FORMULA_STARTS = frozenset("=+-@\t\r\n")
_SKIPPED = frozenset(("Cc", "Cf", "Zs", "Zl", "Zp"))  # spaces, controls, invisible characters


def is_formula_like(text: str) -> bool:
    """Would a spreadsheet read this cell as a formula? Its first character is one of
    FORMULA_STARTS, or is after the spaces and invisible characters a spreadsheet may skip, or
    after a compatibility form (a full-width ＝) is read as what it stands for."""
    for c in text:
        if c in FORMULA_STARTS:
            return True
        if unicodedata.category(c) not in _SKIPPED:
            return unicodedata.normalize("NFKC", c)[:1] in FORMULA_STARTS
    return False


def neutral(text: str) -> str:
    """The text as a cell a spreadsheet shows as text: a formula-like one behind a single quote,
    otherwise unchanged."""
    return "'" + text if is_formula_like(text) else text


def cell(value: Any) -> Any:
    """One value as written: None empty, numbers as numbers, a time in ISO 8601, text
    neutralised."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return neutral(str(value))


def _field(value: Any) -> str:
    """Text in double quotes (its own doubled), anything else bare (csv.QUOTE_STRINGS of 3.12)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return str(value)


def csv_text(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> str:
    """A whole CSV file: the header, then the rows, every cell through `cell`."""
    out = io.StringIO()
    for row in itertools.chain([header], rows):
        out.write(",".join(_field(cell(v)) for v in row) + "\n")
    return out.getvalue()
