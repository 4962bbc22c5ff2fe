"""Text from outside, made safe for one line of a terminal or a log: every character that could
start a new line, move the cursor, hide or reorder what follows (control characters, bidi
controls, line and paragraph separators) is written as its escape, so one value stays one field
of one line (a name with a newline forged an audit line); `for_a_column` also keeps one value one
column of a table (a name with spaces forged most of an audit line without any)."""

from __future__ import annotations

import json
import re
import unicodedata

# What a table shows as it is: the user-name alphabet, and ':' for addresses and times.
_PLAIN = re.compile(r"[a-z0-9._@:-]+")
# What moves, hides or reorders text, spaces that look like ours, and what has no glyph of its own.
_UNSEEN = ("Cc", "Cf", "Zl", "Zp", "Zs", "Cs", "Co", "Cn")


def for_a_line(value: object) -> str:
    return "".join(c if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp")
                   else c.encode("unicode_escape").decode("ascii") for c in str(value))


def for_a_column(value: object) -> str:
    """A value as one column of a table: as it is when it is plain (`ada`, `10.0.0.1`), else a
    JSON string of it whose every control, format character and space other than ' ' is an
    escape (`"ana  sign_in  ok"`, `"x\\u202e"`), so it can never look like several columns or
    another line, and reads back exactly with json.loads."""
    text = str(value)
    if _PLAIN.fullmatch(text):
        return text
    return "".join(json.dumps(c)[1:-1] if c != " " and unicodedata.category(c) in _UNSEEN else c
                   for c in json.dumps(text, ensure_ascii=False))
