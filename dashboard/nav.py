"""The links between the views and the language switch (the big screen has neither: a kiosk)."""

from __future__ import annotations

from dash import dcc, html

from dashboard.format import text
from dashboard.ids import Ids

VIEWS = (("/", "big_screen"), ("/ops", "ops"), ("/review", "review"))


def nav(lang: str, here: str) -> html.Nav:
    other = "en" if lang == "zh" else "zh"
    links = [dcc.Link(text(lang, key), href=f"{path}?lang={lang}",
                      className="nav-link here" if path == here else "nav-link")
             for path, key in VIEWS]
    # A full reload: each page draws its labels once, in one language.
    switch = html.A(text(lang, "language"), href=f"{here}?lang={other}", id=Ids.LANG_SWITCH,
                    className="nav-link lang")
    return html.Nav([*links, switch], className="nav")
