"""A string from outside (a value that came with an order, a person's name, an alert built from
them) as a screen shows it: on one line with every invisible or reordering character made visible
(common/text.py), cut to the room it has; and, for a chart, escaped. Plotly reads a label as its
own HTML, not as text: a region named `<a href="…">Re-login here</a>` was a link on the wall."""

from __future__ import annotations

from common.text import for_a_line

ELLIPSIS = "…"
# What Plotly reads in a label as more than a character: a tag (<a href>, <span style>, <b>,
# <br>, … in svg_text_utils.js: convertToTspans), an entity (&lt;, &#60;), a $…$ pair (LaTeX,
# were MathJax loaded), and in a template or a name beside a `meta` a %{…} it fills in. Each
# becomes an entity that Plotly decodes back into just that character when it draws the label;
# a quote needs none, as no tag is left for it to end an attribute of.
_PLOTLY_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "$": "&#36;",
                                 "%": "&#37;"})


def shown(value: object, max_chars: int | None = None) -> str:
    """`value` as one line of text, cut to `max_chars` (the last of them an ellipsis)."""
    line = for_a_line(value)
    if max_chars is not None and len(line) > max_chars:
        return line[:max(max_chars - 1, 0)] + ELLIPSIS
    return line


def chart_text(value: object, max_chars: int | None = None) -> str:
    """`shown(value)` as a Plotly label (a tick, a trace's name, an annotation, a value a hover
    template puts in, a template's text) that reads as exactly those characters."""
    return shown(value, max_chars).translate(_PLOTLY_ESCAPES)
