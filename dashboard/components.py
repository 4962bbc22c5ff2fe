"""The live parts shared by the big screen and the operations view, and their clientside wiring.

Per screen and second the server hands out the stored snapshot (/api/live), and every five
seconds the night's charts drawn once per process (/api/night-figures); the browser does the
rest: count-up, texts, charts, clock and staleness banner (assets/live.js). The layout is drawn
with the current numbers, so a page never opens empty.
"""

from __future__ import annotations

import functools
import json
import threading
from typing import Any

from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc, html
from plotly.utils import PlotlyJSONEncoder

from dashboard.data import history as history_data
from dashboard.data import live as live_data
from dashboard.figures import (
    OPS_PLOT_PX,
    SERIES_POINTS,
    Marks,
    alert_marks,
    device_share_figure,
    device_trend_figure,
    night_figure,
    no_marks,
    ops_series_figure,
    totals_bar_figure,
)
from dashboard.format import (
    clock,
    format_count,
    format_exact,
    format_headline,
    milestone_label,
    scale_table,
    text,
)
from dashboard.frames import night_version
from dashboard.guesses import Guess
from dashboard.ids import Ids
from dashboard.outlook import big_screen_outlook

LIVE_INTERVAL_MS = 1000
NIGHT_INTERVAL_MS = 5000
GRAPH_CONFIG: Any = {"displayModeBar": False, "responsive": True}


def plumbing(lang: str, live: dict[str, Any] | None) -> list[Any]:
    """Stores and intervals every live page carries, primed with the snapshot the page was
    drawn from."""
    words = {"stale": text(lang, "stale"), "waiting": text(lang, "waiting"), "at": text(lang, "at"),
             "gap": text(lang, "stream_gap_banner"), "continued": text(lang, "night_continued"),
             "quiet": text(lang, "stream_quiet_banner"), "polling": text(lang, "polling"),
             "polling_no_push": text(lang, "polling_no_push")}
    return [
        dcc.Store(id=Ids.LANG, data=lang), dcc.Store(id=Ids.LIVE, data=live),
        dcc.Store(id=Ids.FEED), dcc.Store(id=Ids.OPS_DRAWN, data=last_drawn_ms(live)),
        dcc.Store(id=Ids.WORDS, data=words), dcc.Store(id=Ids.SCALES, data=scale_table(lang)),
        dcc.Interval(id=Ids.TICK, interval=LIVE_INTERVAL_MS),
        dcc.Interval(id=Ids.SLOW_TICK, interval=NIGHT_INTERVAL_MS),
        dcc.Interval(id=Ids.CLOCK_TICK, interval=500),
    ]


def banner() -> html.Div:
    return html.Div(id=Ids.STALE_BANNER, className="banner banner-on", role="alert")


def header(lang: str, title_key: str, controls: list[Any] | None = None,
           clock: bool = True, live: dict[str, Any] | None = None) -> html.Header:
    """The title, the view's controls and (on live views) the night's clock, at `live`'s."""
    return html.Header(className="header", children=[
        html.Div([html.Span("11.11", className="brand"), html.H1(text(lang, title_key))],
                 className="title"),
        *(controls or []), night_clock(lang, live) if clock else ""])


def night_clock(lang: str, live: dict[str, Any] | None = None) -> html.Div:
    """The one clock of a live screen: the night's (the newest second of its data, which its
    alerts are stamped by), kept by the pages' tick; a replayed or continued night is not at the
    wall's time."""
    latest = (live or {}).get("latest_second_ms")
    return html.Div([html.Span(text(lang, "night_time"), className="clock-label"),
                     html.Span(clock(latest) if latest else "--:--:--", id=Ids.CLOCK,
                               className="clock"),
                     html.Span(id=Ids.PUSH_STATE, className="push-state")],
                    className="clock-box", title=text(lang, "night_time_hint"))


def tile(lang: str, label_key: str, value_id: str, value: str = "—", extra: Any = None) -> html.Div:
    return html.Div(className="tile", children=[
        html.Div(text(lang, label_key), className="tile-label"),
        html.Div(value, id=value_id, className="tile-value"), extra or ""])


def headline(lang: str, live: dict[str, Any] | None) -> html.Section:
    """GMV as the headline (counting up in the browser), and the numbers beside it."""
    values = headline_values(live or {}, lang)
    *_, milestones, outlook = night_outputs(live_data.source(), lang)
    return html.Section(className="headline", children=[
        html.Div(className="gmv-box", children=[
            html.Div(text(lang, "gmv"), className="gmv-label"),
            html.Div(values["target"]["text"] if live else "—", id=Ids.GMV, className="gmv"),
            html.Div(values["target"]["exact"] if live else "", id=Ids.GMV_EXACT,
                     className="gmv-exact"),
            html.Div(outlook, id=Ids.OUTLOOK, className="outlook"),
            html.Div(milestones, id=Ids.MILESTONES, className="milestones"),
        ]),
        html.Div(className="tiles", children=[
            tile(lang, "orders", Ids.ORDERS, values["orders"]),
            tile(lang, "ops_now", Ids.OPS_NOW, values["ops_now"]),
            tile(lang, "peak", Ids.PEAK, values["peak"],
                  html.Div(values["peak_at"], id=Ids.PEAK_AT, className="tile-sub")),
        ]),
    ])


def _panel(title: str, body: Any, name: str) -> html.Div:
    return html.Div(className=f"panel panel-{name}", children=[html.H2(title), body])


def _graph(graph_id: str, figure: Any, height_rem: float | None) -> dcc.Graph:
    """A chart `height_rem` tall, or (None) as tall as its panel leaves it."""
    return dcc.Graph(id=graph_id, figure=figure, config=GRAPH_CONFIG, className="chart",
                     style={"height": f"{height_rem}rem" if height_rem else "100%"})


def night_panels(lang: str, live: dict[str, Any] | None, fill: bool = False) -> html.Section:
    """The night's charts: GMV so far with last year and milestones, orders/s, devices,
    categories and regions. `fill`: the big screen's, sharing the window's height (no scroll);
    on a phone the first two come first and the rest behind a 'more' button."""
    source = live_data.source()
    (night, trend, categories, regions, *_), _, _, version = _drawing(source, lang)
    tall, short = (None, None) if fill else (21, 14)
    return html.Section(className="charts fill" if fill else "charts", children=[
        dcc.Store(id=Ids.NIGHT_VERSION, data=version),
        html.Div(className="grid top", children=[
            _panel(text(lang, "night"), _graph(Ids.NIGHT_CHART, night, tall), "night"),
            _panel(text(lang, "ops_series"),
                   _graph(Ids.OPS_CHART, ops_series_figure(live, lang, live_marks(source, lang)),
                          tall), "ops"),
            _panel(text(lang, "devices"),
                   _graph(Ids.DEVICE_SHARES, device_share_figure(live, lang), tall), "devices")]),
        more_button(lang),
        html.Div(className="grid bottom", children=[
            _panel(text(lang, "device_trend"), _graph(Ids.DEVICE_TREND, trend, short), "trend"),
            _panel(text(lang, "categories"), _graph(Ids.CATEGORIES, categories, short),
                   "categories"),
            _panel(text(lang, "regions"), _graph(Ids.REGIONS, regions, short), "regions")]),
    ])


def more_button(lang: str) -> html.Button:
    words: dict[str, Any] = {"data-more": text(lang, "more"), "data-less": text(lang, "less")}
    return html.Button(text(lang, "more"), id=Ids.MORE, className="more", n_clicks=0, **words)


def wide_only(lang: str) -> html.Div:
    """What /ops and /review say on a phone (CSS shows it below 600 px, instead of the page)."""
    return html.Div(className="wide-only", role="note", children=[
        text(lang, "wide_only"), " ", dcc.Link(text(lang, "big_screen"), href=f"/?lang={lang}")])


def headline_values(live: dict[str, Any], lang: str) -> dict[str, Any]:
    """The texts of the headline and its tiles as the page first shows them (the browser keeps
    them up to date with the same rules)."""
    cents = int(live.get("gmv_cents", 0))
    peak_at = live.get("peak_second_ms")
    return {
        "target": {"cents": cents, "text": format_headline(cents, lang), "exact": format_exact(cents)},
        "orders": format_count(live.get("orders")),
        "ops_now": format_count(live.get("ops_now")),
        "peak": format_count(live.get("peak_ops")),
        "peak_at": f"{text(lang, 'at')} {clock(peak_at)}" if peak_at else "",
    }


def last_drawn_ms(live: dict[str, Any] | None) -> int | None:
    """The last complete second of the snapshot's series: where the ops chart has got to."""
    series = (live or {}).get("series") or {}
    if not series.get("start_ms") or len(series.get("orders", [])) < 2:
        return None
    return int(series["start_ms"]) + (len(series["orders"]) - 2) * 1000


def night_outputs(source: live_data.DataSource, lang: str) -> tuple[Any, ...]:
    """The night's figures and milestone chips, drawn once per night document and language in
    each process, however many screens ask."""
    return _drawing(source, lang)[0]


def night_payload(source: live_data.DataSource, lang: str) -> bytes:
    """The same, encoded once, for /api/night-figures."""
    return _drawing(source, lang)[1]


def live_marks(source: live_data.DataSource, lang: str) -> Marks:
    """The alerts over the orders/s chart: in the page as it is served, so that a fresh screen
    shows them before its first fetch of the night's figures."""
    return _drawing(source, lang)[2]


def _drawing(source: live_data.DataSource,
             lang: str) -> tuple[tuple[Any, ...], bytes, Marks, str]:
    raw, alerts = source.drawing_raw()
    guesses = source.guesses()
    with _DRAWING:
        return _night_outputs(source, lang, raw, alerts, guesses)


# When the night document changes, the screens asking in that instant wait for one drawing
# instead of each drawing it (hundreds a second would, with a thousand screens).
_DRAWING = threading.Lock()


@functools.lru_cache(maxsize=4)
def _night_outputs(source: live_data.DataSource, lang: str, raw: bytes | None,
                   alerts_raw: tuple[bytes | None, ...],
                   guesses: tuple[Guess, ...]) -> tuple[tuple[Any, ...], bytes, Marks, str]:
    night = live_data.parsed_night(raw) if raw else None
    alerts = live_data.parsed_alerts(alerts_raw)
    last_year = source.last_year()
    curve = history_data.night_curve(last_year) if last_year else None
    outputs = (night_figure(night, curve, source.festival_midnight_ms(), lang, alerts),
               device_trend_figure(night, lang),
               totals_bar_figure((night or {}).get("by_category", {}), lang),
               totals_bar_figure((night or {}).get("by_region", {}), lang),
               milestone_chips(night, lang),
               big_screen_outlook(night, guesses, source.guess_board().closes_at_ms, lang))
    names = ("night", "trend", "categories", "regions", "milestones", "outlook")
    # The alerts of the live orders/s chart's five minutes, laid over it by the browser.
    latest = (night or {}).get("latest_ms")
    marks = alert_marks(alerts, lang, latest, latest - SERIES_POINTS * 1000, OPS_PLOT_PX) \
        if latest else no_marks()
    payload = json.dumps({**dict(zip(names, outputs, strict=True)), "live_marks": marks},
                         cls=PlotlyJSONEncoder, ensure_ascii=False).encode()
    return outputs, payload, marks, night_version(payload)


def milestone_chips(night: dict[str, Any] | None, lang: str) -> list[Any]:
    chips = [html.Span(text(lang, "milestones"), className="milestones-label")]
    for milestone in (night or {}).get("milestones", []):
        chips.append(html.Span([html.B(milestone_label(milestone["yuan"], lang)), " ",
                                clock(milestone["second_ms"])], className="chip"))
    return chips


clientside_callback(ClientsideFunction("gmv", "fetch_live"), Output(Ids.LIVE, "data"),
                    Input(Ids.TICK, "n_intervals"), prevent_initial_call=True)
clientside_callback(
    ClientsideFunction("gmv", "render_live"),
    Output(Ids.FEED, "data"), Output(Ids.ORDERS, "children"), Output(Ids.OPS_NOW, "children"),
    Output(Ids.PEAK, "children"), Output(Ids.PEAK_AT, "children"),
    Output(Ids.DEVICE_SHARES, "figure"), Output(Ids.OPS_CHART, "extendData"),
    Output(Ids.OPS_DRAWN, "data"),
    Input(Ids.LIVE, "data"), State(Ids.OPS_DRAWN, "data"), State(Ids.DEVICE_SHARES, "figure"),
    State(Ids.SCALES, "data"), State(Ids.WORDS, "data"))
clientside_callback(
    ClientsideFunction("gmv", "fetch_night"),
    Output(Ids.NIGHT_CHART, "figure"), Output(Ids.DEVICE_TREND, "figure"),
    Output(Ids.CATEGORIES, "figure"), Output(Ids.REGIONS, "figure"),
    Output(Ids.MILESTONES, "children"), Output(Ids.OUTLOOK, "children"),
    Input(Ids.SLOW_TICK, "n_intervals"), State(Ids.LANG, "data"), prevent_initial_call=True)
clientside_callback(ClientsideFunction("gmv", "tick"), Output(Ids.CLOCK, "children"),
                    Output(Ids.STALE_BANNER, "children"), Output(Ids.STALE_BANNER, "className"),
                    Output(Ids.PAGE, "className"), Output(Ids.PUSH_STATE, "children"),
                    Input(Ids.CLOCK_TICK, "n_intervals"), State(Ids.FEED, "data"),
                    State(Ids.LANG, "data"), State(Ids.WORDS, "data"),
                    State(Ids.NIGHT_VERSION, "data"))
