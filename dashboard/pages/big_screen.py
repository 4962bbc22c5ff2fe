"""The big screen (`/`): a kiosk for the wall, no controls; `?lang=en` for English."""

from __future__ import annotations

from typing import Any

import dash
from dash import html

from dashboard.components import banner, header, headline, night_panels, plumbing
from dashboard.data import live as live_data
from dashboard.format import language
from dashboard.ids import Ids
from dashboard.nav import page_layout
from dashboard.roles import Can


def layout(lang: str | None = None, **_: Any) -> html.Div:
    lang = language(lang)
    live = live_data.source().live()
    return html.Div(className="kiosk", lang="zh-CN" if lang == "zh" else "en", children=[
        html.Div(id=Ids.PAGE, className="page", children=[
            *plumbing(lang, live), banner(), header(lang, "title", live=live), headline(lang, live),
            night_panels(lang, live, fill=True)]),
    ])


dash.register_page(__name__, path="/", title="GMV 11.11", name="big-screen",
                   layout=page_layout(Can.BIG_SCREEN, layout))
