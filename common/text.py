"""Text from outside, made safe for one line of a terminal or a log: every character that could
start a new line, move the cursor, hide or reorder what follows (control characters, bidi
controls, line and paragraph separators) is written as its escape, so one value stays one field
of one line (a name with a newline forged an audit line)."""

from __future__ import annotations

import unicodedata


def for_a_line(value: object) -> str:
    return "".join(c if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp")
                   else c.encode("unicode_escape").decode("ascii") for c in str(value))
