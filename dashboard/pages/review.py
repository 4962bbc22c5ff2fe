"""The review view (`/review`): any range of the night from the history files, by any dimension,
compared with the range before or with last year, replayed at N x, exported as CSV or Parquet."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard.alert_feed import alert_items
from dashboard.components import GRAPH_CONFIG, header
from dashboard.data import history as history_data
from dashboard.data import live as live_data
from dashboard.data.review import ReviewQuery, answer, chart_series, to_csv, to_parquet, totals
from dashboard.figures import alert_marks, buckets_figure, cumulative_figure
from dashboard.format import beijing_text, clock, format_count, format_exact, language, parse_beijing, text
from dashboard.ids import Ids
from dashboard.nav import nav

REPLAY_TICK_MS = 500
REPLAY_SPEEDS = (10, 60, 300, 600)


def layout(lang: str | None = None, **_: Any) -> html.Div:
    lang = language(lang)
    source = live_data.source()
    bounds = source.history().bounds_ms()
    start, end = (bounds[0] // 60_000 * 60_000, (bounds[1] // 60_000 + 1) * 60_000) if bounds \
        else (source.festival_midnight_ms(), source.festival_midnight_ms() + 600_000)
    choice = [{"label": text(lang, d), "value": d} for d in history_data.DIMENSIONS]
    return html.Div(className="review", lang="zh-CN" if lang == "zh" else "en", children=[
        html.Div(id=Ids.PAGE, className="page", children=[
            dcc.Store(id=Ids.LANG, data=lang), dcc.Download(id=Ids.DOWNLOAD),
            header(lang, "review_title", [nav(lang, "/review")], clock=False),
            html.Div("" if bounds else text(lang, "no_history"), className="error"),
            html.Div(className="panel", children=[
                html.Div(className="controls", children=[
                    _field(f"{text(lang, 'from')} ({text(lang, 'beijing_time')})",
                           dcc.Input(id=Ids.REVIEW_START, value=beijing_text(start), debounce=True)),
                    _field(f"{text(lang, 'to')} ({text(lang, 'beijing_time')})",
                           dcc.Input(id=Ids.REVIEW_END, value=beijing_text(end), debounce=True)),
                    _field(text(lang, "resolution"), dcc.RadioItems(
                        id=Ids.REVIEW_RESOLUTION, value="minute", className="radio",
                        options=[{"label": text(lang, "per_minute"), "value": "minute"},
                                 {"label": text(lang, "per_second"), "value": "second"}])),
                    _field(text(lang, "dimension"), dcc.Dropdown(
                        id=Ids.REVIEW_DIMENSION, options=choice, placeholder=text(lang, "all"))),
                    _field(text(lang, "compare"), dcc.RadioItems(
                        id=Ids.REVIEW_COMPARE, value="none", className="radio",
                        options=[{"label": text(lang, f"compare_{c}"), "value": c}
                                 for c in ("none", "previous", "last_year")])),
                    html.Button(text(lang, "export_csv"), id=Ids.EXPORT_CSV, className="button"),
                    html.Button(text(lang, "export_parquet"), id=Ids.EXPORT_PARQUET,
                                className="button ghost"),
                ]),
                html.Div(id=Ids.REVIEW_ERROR, className="error"),
                html.Div(id=Ids.REVIEW_TOTALS, className="totals"),
                dcc.Graph(id=Ids.REVIEW_OVERVIEW, config=GRAPH_CONFIG, style={"height": "9rem"},
                          figure=_overview(source, lang)),
                dcc.Graph(id=Ids.REVIEW_CHART, config=GRAPH_CONFIG, style={"height": "24rem"},
                          figure=buckets_figure({"bucket_ms": []}, lang, "gmv")),
                html.Ul(id=Ids.REVIEW_ALERTS, className="alerts review-alerts"),
            ]),
            html.Div(className="panel", children=[
                html.H2(text(lang, "replay")),
                html.Div(className="controls", children=[
                    html.Button(text(lang, "play"), id=Ids.REPLAY_PLAY, className="button"),
                    _field(text(lang, "speed"), dcc.Dropdown(
                        id=Ids.REPLAY_SPEED, value=60, clearable=False,
                        options=[{"label": f"{s}×", "value": s} for s in REPLAY_SPEEDS])),
                    html.Div(id=Ids.REPLAY_GMV, className="replay-gmv"),
                ]),
                dcc.Store(id=Ids.REPLAY_STATE, data={"cursor_ms": None, "playing": False}),
                dcc.Interval(id=Ids.REPLAY_TICK, interval=REPLAY_TICK_MS, disabled=True),
                dcc.Graph(id=Ids.REPLAY_CHART, config=GRAPH_CONFIG, style={"height": "16rem"},
                          figure=cumulative_figure([], [], lang)),
            ]),
        ]),
    ])


def _field(label: str, control: Any) -> html.Label:
    return html.Label([label, control], className="field")


def _overview(source: live_data.DataSource, lang: str) -> Any:
    """The whole night per minute, to drag a range on."""
    history = source.history()
    bounds = history.bounds_ms()
    if bounds is None:
        return buckets_figure({"bucket_ms": []}, lang, "gmv")
    table = history.series(bounds[0], bounds[1] + 1, 60)
    series = {"bucket_ms": table["bucket_ms"].to_pylist(),
              "all": [int(c) / 100 for c in table["gmv_cents"].to_pylist()]}
    figure = buckets_figure(series, lang, "gmv")
    figure["layout"] |= {"dragmode": "select", "selectdirection": "h",
                         "margin": figure["layout"]["margin"] | {"t": 4, "b": 28}}
    return figure


def parse_query(start: str, end: str, resolution: str, dimension: str | None,
                festival_day: date) -> ReviewQuery:
    return ReviewQuery(parse_beijing(start or "", festival_day), parse_beijing(end or "", festival_day),
                       resolution, dimension or None)


def _festival_day(source: live_data.DataSource) -> date:
    return date.fromisoformat(source.settings.festival_date)


@callback(Output(Ids.REVIEW_START, "value"), Output(Ids.REVIEW_END, "value"),
          Input(Ids.REVIEW_OVERVIEW, "selectedData"), Input(Ids.REVIEW_OVERVIEW, "relayoutData"),
          prevent_initial_call=True)
def range_from_overview(selected: dict[str, Any] | None, relayout: dict[str, Any] | None) -> Any:
    """Dragging a range (or zooming) on the overview sets the fields."""
    if ctx.triggered_id == Ids.REVIEW_OVERVIEW and selected and selected.get("range"):
        first, last = selected["range"]["x"]
    elif relayout and "xaxis.range[0]" in relayout:
        first, last = relayout["xaxis.range[0]"], relayout["xaxis.range[1]"]
    else:
        return no_update, no_update
    return str(first)[:19], str(last)[:19]


@callback(Output(Ids.REVIEW_CHART, "figure"), Output(Ids.REVIEW_TOTALS, "children"),
          Output(Ids.REVIEW_ERROR, "children"), Output(Ids.REVIEW_ALERTS, "children"),
          Input(Ids.REVIEW_START, "value"), Input(Ids.REVIEW_END, "value"),
          Input(Ids.REVIEW_RESOLUTION, "value"), Input(Ids.REVIEW_DIMENSION, "value"),
          Input(Ids.REVIEW_COMPARE, "value"), State(Ids.LANG, "data"))
def refresh_review(start: str, end: str, resolution: str, dimension: str | None, compare: str,
                   lang: str) -> tuple[Any, ...]:
    source = live_data.source()
    try:
        query = parse_query(start, end, resolution, dimension, _festival_day(source))
    except ValueError as err:
        return no_update, no_update, f"{err} — {text(lang, 'bad_range')}", no_update
    table = answer(source.history(), query)
    other, name = _comparison(source, query, compare, lang)
    figure = buckets_figure(chart_series(table, "gmv"), lang, "gmv",
                            chart_series(other, "gmv") if other is not None else None, name)
    # The alerts of the range, as they were raised that night.
    alerts = [a for a in source.stored_alerts() if a["state"] != "pending"
              and a["start_ms"] < query.end_ms and (a["end_ms"] or query.end_ms) >= query.start_ms]
    figure["layout"] |= alert_marks(alerts, lang, query.end_ms, query.start_ms)
    orders, gmv = totals(table)
    summary = (f"{text(lang, 'total')} {format_exact(gmv)} · {text(lang, 'orders')} "
               f"{format_count(orders)} · {beijing_text(query.start_ms)} – {beijing_text(query.end_ms)}")
    return figure, summary, "", alert_items(alerts[::-1], lang, with_actions=False)


def _comparison(source: live_data.DataSource, query: ReviewQuery, compare: str,
                lang: str) -> tuple[Any, str]:
    if compare == "previous":
        return answer(source.history(), query.shifted(query.start_ms - query.end_ms)), \
            text(lang, "compare_previous")
    last_year = source.last_year()
    midnight = last_year.festival_midnight_ms() if last_year else None
    if compare == "last_year" and last_year is not None and midnight is not None:
        return answer(last_year, query.shifted(midnight - source.festival_midnight_ms())), \
            text(lang, "last_year")
    return None, ""


@callback(Output(Ids.DOWNLOAD, "data"),
          Input(Ids.EXPORT_CSV, "n_clicks"), Input(Ids.EXPORT_PARQUET, "n_clicks"),
          State(Ids.REVIEW_START, "value"), State(Ids.REVIEW_END, "value"),
          State(Ids.REVIEW_RESOLUTION, "value"), State(Ids.REVIEW_DIMENSION, "value"),
          prevent_initial_call=True)
def export(_csv: int | None, _parquet: int | None, start: str, end: str, resolution: str,
           dimension: str | None) -> Any:
    """What the chart shows, every value and bucket, as a file."""
    source = live_data.source()
    try:
        query = parse_query(start, end, resolution, dimension, _festival_day(source))
    except ValueError:
        return no_update
    table = answer(source.history(), query)
    name = (f"gmv-{beijing_text(query.start_ms)}-{beijing_text(query.end_ms)}-{resolution}"
            f"{'-' + dimension if dimension else ''}").replace(" ", "T").replace(":", "")
    if ctx.triggered_id == Ids.EXPORT_PARQUET:
        return dcc.send_bytes(to_parquet(table), f"{name}.parquet")
    return dcc.send_string(to_csv(table), f"{name}.csv")


@callback(Output(Ids.REPLAY_STATE, "data"), Output(Ids.REPLAY_TICK, "disabled"),
          Output(Ids.REPLAY_PLAY, "children"),
          Input(Ids.REPLAY_PLAY, "n_clicks"), Input(Ids.REPLAY_TICK, "n_intervals"),
          State(Ids.REPLAY_STATE, "data"), State(Ids.REPLAY_SPEED, "value"),
          State(Ids.REVIEW_START, "value"), State(Ids.REVIEW_END, "value"), State(Ids.LANG, "data"),
          prevent_initial_call=True)
def replay_step(_clicks: int | None, _ticks: int | None, state: dict[str, Any], speed: int,
                start: str, end: str, lang: str) -> tuple[Any, ...]:
    """Play/pause, and move the replay's clock by `speed` x the tick while playing."""
    try:
        query = parse_query(start, end, "minute", None, _festival_day(live_data.source()))
    except ValueError:
        return no_update, True, text(lang, "play")
    cursor = state.get("cursor_ms")
    if ctx.triggered_id == Ids.REPLAY_PLAY:
        playing = not state.get("playing")
        if playing and (cursor is None or cursor >= query.end_ms):
            cursor = query.start_ms
    else:
        playing = bool(state.get("playing"))
        cursor = min((cursor or query.start_ms) + speed * REPLAY_TICK_MS, query.end_ms)
        playing = playing and cursor < query.end_ms
    return ({"cursor_ms": cursor, "playing": playing}, not playing,
            text(lang, "pause" if playing else "play"))


@callback(Output(Ids.REPLAY_CHART, "figure"), Output(Ids.REPLAY_GMV, "children"),
          Input(Ids.REPLAY_STATE, "data"), State(Ids.REVIEW_START, "value"),
          State(Ids.REVIEW_END, "value"), State(Ids.LANG, "data"), prevent_initial_call=True)
def replay_frame(state: dict[str, Any], start: str, end: str, lang: str) -> tuple[Any, ...]:
    """The night as it looked at the replay's clock: GMV so far, per second, up to it."""
    source = live_data.source()
    cursor = state.get("cursor_ms")
    try:
        query = parse_query(start, end, "second", None, _festival_day(source))
    except ValueError:
        return no_update, no_update
    if cursor is None:
        return no_update, no_update
    table = answer(source.history(), ReviewQuery(query.start_ms, max(cursor, query.start_ms + 1000),
                                                  "second"))
    seconds = table["bucket_ms"].to_pylist()
    running, cumulative = 0, []
    for cents in table["gmv_cents"].to_pylist():
        running += int(cents)
        cumulative.append(running)
    figure = cumulative_figure([ms + 1000 for ms in seconds], cumulative, lang)
    return figure, f"{clock(cursor)} · {format_exact(running)}"


dash.register_page(__name__, path="/review", title="GMV 11.11 · review", name="review", layout=layout)
