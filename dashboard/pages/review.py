"""The review view (`/review`): any range of the night from the history files."""

from __future__ import annotations

from typing import Any

import dash
from dash import html

from dashboard.format import language


def layout(lang: str | None = None, **_: Any) -> html.Div:
    lang = language(lang)
    return html.Div("review")


dash.register_page(__name__, path="/review", title="GMV 11.11 · review", name="review", layout=layout)
