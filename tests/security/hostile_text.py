"""Text that tries to be more than text (issue #23, row 4 and its property tests): markup Plotly
or a browser would draw, entities, templates, spreadsheet formulas, control characters, bidi
overrides, zero-width characters, and interface keys; the orders that carry it; and, for the
browser checks, a war room of their own and Chromium."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dashboard.format import STRINGS
from ingest.contract import OPTIONAL_STRINGS, REQUIRED_STRINGS, Order
from tests.conftest import MIDNIGHT_MS

MARKUP = (
    '<a href="https://evil.example/login">Re-login here</a>',
    '<span style="font-size:60px;color:red">HACKED</span>', "<b>", "</b>", "<br>", "<sup>x</sup>",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&lt;b&gt;", "&#60;a&#62;",
    "&amp;", "&#x3c;", "&nbsp;", "$x^2$", "%{x}", "%{meta[0]}", '"', "'", "`", "{", "}",
)
FORMULAS = ("=cmd|' /C calc'!A0", '=HYPERLINK("https://evil.example","x")', "@SUM(1+1)",
            "+SUM(1)", "-1+2", "\t=1", "\r=1")
CONTROLS = (*(chr(c) for c in range(0x20)), "\x7f", "\x85", "\u2028", "\u2029")
BIDI = ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
        "\u200e", "\u200f", "\u061c")
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
# A value the same as a key of the interface's phrases ("stale", "waiting"): a name, not a phrase.
INTERFACE_KEYS = tuple(sorted(STRINGS["en"]))

STREAM_CHARS = min(REQUIRED_STRINGS.values())  # what the contract lets a string field hold
PAYMENT_CHARS = OPTIONAL_STRINGS["payment"]


def hostile_text(max_pieces: int = 8) -> st.SearchStrategy[str]:
    """A string made of hostile pieces and arbitrary text."""
    pieces = st.one_of(st.sampled_from(MARKUP + FORMULAS + CONTROLS + BIDI + ZERO_WIDTH),
                       st.sampled_from(INTERFACE_KEYS), st.text(max_size=6))
    return st.lists(pieces, min_size=1, max_size=max_pieces).map("".join).filter(bool)


def very_long_text() -> st.SearchStrategy[str]:
    """Ten thousand characters and more: a piece repeated, hostile ones among them."""
    return st.tuples(hostile_text(3), st.text(min_size=1, max_size=3)).map(
        lambda parts: (parts[0] + parts[1]) * (10_000 // len(parts[0] + parts[1]) + 1))


def stream_text(max_chars: int = STREAM_CHARS) -> st.SearchStrategy[str]:
    """What the contract accepts in a string field of an order: 1 to `max_chars` characters."""
    return hostile_text().map(lambda s: s[:max_chars]).filter(bool)


def any_shown_text() -> st.SearchStrategy[str]:
    return st.one_of(hostile_text(), very_long_text())


def drawn(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """`count` examples of `strategy`, drawn up front (for a check that is run once, in a
    browser): Hypothesis' generation, collected."""
    examples: list[Any] = []

    @settings(max_examples=count, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example: Any) -> None:
        examples.append(example)

    collect()
    return examples


def is_invisible_or_reordering(c: str) -> bool:
    """A character that would end a line, hide itself or reorder what follows (common/text.py)."""
    return unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")


_ENTITY = re.compile(r"&(#\d+|#x[\da-fA-F]+|[a-z]+);")
_NAMED = {"mu": "\u03bc", "amp": "&", "lt": "<", "gt": ">", "nbsp": "\xa0", "times": "\xd7",
          "plusmn": "\xb1", "deg": "\xb0"}


def as_plotly_draws(label: str) -> str:
    """The characters Plotly draws for a label without tags: its convertEntities
    (svg_text_utils.js), one pass, as plotly.js 4 does it."""
    def one(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref.startswith("#"):
            code = int(ref[2:], 16) if ref[1:2] == "x" else int(ref[1:])
            return chr(code) if code <= 0x10FFFF else match.group(0)
        return _NAMED.get(ref, match.group(0))
    return _ENTITY.sub(one, label)


def order_payload(index: int, *, region: str = "ZJ", category: str = "apparel",
                  merchant_id: str = "m00001", payment: str | None = "alipay",
                  amount_cents: int = 12_990, device: str = "mobile") -> bytes:
    """One valid order of the festival night's first minutes (one a second)."""
    return Order(order_id=f"hostile-{index}", ts_ms=MIDNIGHT_MS + 60_000 + index * 1000,
                 amount_cents=amount_cents, device=device, category=category, region=region,
                 merchant_id=merchant_id, buyer_id=f"b{index}", item_id="i-hostile", quantity=1,
                 payment=payment).to_payload()


# In the page: what markup from the stream would have made. Plotly writes a link as an SVG <a>
# with an xlink:href, and a <span style> as a <tspan style>.
MADE_BY_MARKUP = """() => {
    const links = [...document.querySelectorAll('a')].map(a =>
        a.getAttribute('href') || a.getAttribute('xlink:href') ||
        a.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || '')
        .filter(href => href.includes('evil.example'));
    const styled = [...document.querySelectorAll('[style]')]
        .map(e => e.getAttribute('style').replace(/\\s+/g, ''))
        .filter(style => style.includes('font-size:60px') || style.includes('fill:red'));
    const foreign = [...document.querySelectorAll('img[onerror], script')]
        .filter(e => e.hasAttribute('onerror') || e.textContent.includes('alert(1)'));
    return {links, styled, foreign: foreign.map(e => e.outerHTML)};
}"""


NOTHING_MADE: dict[str, list[str]] = {"links": [], "styled": [], "foreign": []}


def texts_of(selector: str) -> str:
    """A page function: the text of every element `selector` finds, each on a line."""
    return f"""() => [...document.querySelectorAll({selector!r})].map(e => e.textContent)
        .join('\\n')"""
