"""The review view (`/review`), for the analyst the morning after: the whole day with a brush,
the chosen range in detail (partial buckets said so, incidents on the time axis, a comparison
line), what changed against the baseline (every value of every dimension ranked by the GMV it
gained or lost against its share; click one for its curve), per-dimension tables, the range's
incidents, exports capped in rows, a printable report, and a replay of any range."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
from dash import ALL, Input, Output, Patch, State, callback, ctx, dcc, html, no_update

from dashboard.alert_feed import acknowledgement, evidence_line
from dashboard.alert_text import alert_headline, alert_message, where_unsaid
from dashboard.components import GRAPH_CONFIG, header, wide_only
from dashboard.data import history as history_data
from dashboard.data import live as live_data
from dashboard.data.ranges import RangeNote, RangeOrder
from dashboard.data.report import ReportError, Span, build_report, nights
from dashboard.data.review import (
    CHART_VALUES,
    EXPORT_MAX_ROWS,
    ExportTooBig,
    ReviewQuery,
    answer,
    chart_series,
    export_answer,
    export_orders,
    orders_csv,
    partial_buckets,
    to_csv,
    to_parquet,
)
from dashboard.figures import (
    REVIEW_PLOT_PX,
    alert_marks,
    buckets_figure,
    cumulative_figure,
    partial_marks,
    range_band,
    share_figure,
)
from dashboard.format import (
    beijing_text,
    clock,
    format_change,
    format_count,
    format_exact,
    format_signed,
    language,
    text,
    value_name,
)
from dashboard.gate import current_identity, gate, requires, source_address
from dashboard.ids import Ids
from dashboard.nav import nav, page_layout
from dashboard.params import (
    MAX_RANGE_MS,
    BadParameter,
    BadTime,
    comparison,
    export_pick,
    one_of,
    review_query,
    whole_number,
)
from dashboard.report_text import report_html
from dashboard.roles import Can
from dashboard.said import said
from dashboard.sealed import Forged, seal, unseal
from dashboard.shown import shown
from ingest.detect.incidents import by_incident

REPLAY_TICK_MS = 500
REPLAY_SPEEDS = (10, 60, 300, 600, 3600)
REPLAY_POINTS = 1_500
NICE_BUCKETS_S = (1, 5, 10, 30, 60, 300, 600, 1800, 3600)
OVERVIEW_POINTS = 1_500
CONTRIBUTORS_SHOWN = 12
DIMENSION_ROWS = 15
TABLE_DIMENSIONS = ("device", "region", "category", "payment", "merchant")
REPORT_STORE = "review-report"  # what the sealed stores are for (dashboard/sealed.py)
REPLAY_STORE = "review-replay"


def nice_bucket_s(span_ms: int, points: int, floor_s: int = 1) -> int:
    return next((b for b in NICE_BUCKETS_S if b >= floor_s and span_ms / 1000 / b <= points),
                NICE_BUCKETS_S[-1])


def layout(lang: str | None = None, **_: Any) -> html.Div:
    lang = language(lang)
    source = live_data.source()
    bounds = source.history().bounds_ms()
    start, end = (bounds[0] // 60_000 * 60_000, (bounds[1] // 60_000 + 1) * 60_000) if bounds \
        else (source.festival_midnight_ms(), source.festival_midnight_ms() + 600_000)
    start = max(start, end - MAX_RANGE_MS)  # the longest range the review answers
    choice = [{"label": text(lang, d), "value": d} for d in history_data.DIMENSIONS]
    return html.Div(className="review", lang="zh-CN" if lang == "zh" else "en", children=[
        wide_only(lang),
        html.Div(id=Ids.PAGE, className="page", children=[
            dcc.Store(id=Ids.LANG, data=lang), dcc.Download(id=Ids.DOWNLOAD),
            dcc.Store(id=Ids.REVIEW_REPORT),
            header(lang, "review_title", [nav(lang, "/review")], clock=False),
            html.Div(className="panel controls-panel", children=[
                html.Div(className="controls", children=[
                    _field(f"{text(lang, 'from')} ({text(lang, 'beijing_time')})",
                           dcc.Input(id=Ids.REVIEW_START, value=beijing_text(start), debounce=True,
                                     className="review-time")),
                    _field(f"{text(lang, 'to')} ({text(lang, 'beijing_time')})",
                           dcc.Input(id=Ids.REVIEW_END, value=beijing_text(end), debounce=True,
                                     className="review-time")),
                    _field(text(lang, "resolution"), dcc.RadioItems(
                        id=Ids.REVIEW_RESOLUTION, value="minute", className="radio",
                        options=[{"label": text(lang, f"per_{r}"), "value": r}
                                 for r in ("second", "minute", "hour")])),
                    _field(text(lang, "dimension"), dcc.Dropdown(
                        id=Ids.REVIEW_DIMENSION, options=choice, placeholder=text(lang, "all"),
                        className="dimension-choice")),
                    _field(text(lang, "compare"), dcc.RadioItems(
                        id=Ids.REVIEW_COMPARE, className="radio",
                        value="last_year" if source.last_year() else "previous",
                        options=[{"label": text(lang, f"compare_{c}"), "value": c}
                                 for c in ("none", "previous", "last_year")])),
                    html.Div(className="buttons", children=[
                        html.Button(text(lang, "export_csv"), id=Ids.EXPORT_CSV,
                                    className="button"),
                        html.Button(text(lang, "export_parquet"), id=Ids.EXPORT_PARQUET,
                                    className="button ghost"),
                        html.Button(text(lang, "export_orders"), id=Ids.EXPORT_ORDERS,
                                    className="button ghost"),
                        html.Button(text(lang, "export_report"), id=Ids.EXPORT_REPORT,
                                    className="button ghost")]),
                ]),
                html.Div(id=Ids.REVIEW_ERROR, className="error",
                         children="" if bounds else text(lang, "no_history")),
                html.Div(id=Ids.EXPORT_NOTE, className="note"),
            ]),
            html.Div(className="panel", children=[
                html.H2(text(lang, "overview")),
                dcc.Graph(id=Ids.REVIEW_OVERVIEW, config=GRAPH_CONFIG, style={"height": "8rem"},
                          figure=_overview(source, lang)),
            ]),
            html.Div(className="review-grid", children=[
                html.Div(className="panel", children=[
                    html.Div(id=Ids.REVIEW_TOTALS, className="totals"),
                    dcc.Graph(id=Ids.REVIEW_CHART, config=GRAPH_CONFIG, style={"height": "24rem"},
                              figure=buckets_figure({"bucket_ms": []}, lang, "gmv")),
                ]),
                html.Div(className="panel", children=[
                    html.H2(text(lang, "incidents")),
                    html.Ul(id=Ids.REVIEW_ALERTS, className="alerts review-alerts"),
                ]),
            ]),
            html.Div(className="review-grid", children=[
                html.Div(className="panel", children=[
                    html.H2(text(lang, "what_changed")),
                    html.Div(text(lang, "what_changed_hint"), className="hint"),
                    html.Div(id=Ids.REVIEW_CONTRIBUTORS),
                    html.H2(id=Ids.REVIEW_CONTRIBUTOR_TITLE, className="contributor-title"),
                    dcc.Graph(id=Ids.REVIEW_CONTRIBUTOR_CHART, config=GRAPH_CONFIG,
                              style={"height": "15rem"},
                              figure=share_figure({"bucket_ms": []}, lang, "", "")),
                ]),
                html.Div(className="panel", children=[
                    html.H2(text(lang, "by_dimension")),
                    dcc.Tabs(id=Ids.REVIEW_DIMENSION_TABS, value="region", className="tabs",
                             children=[dcc.Tab(label=text(lang, d), value=d, className="tab",
                                               selected_className="tab-selected")
                                       for d in TABLE_DIMENSIONS]),
                    html.Div(id=Ids.REVIEW_DIMENSION_TABLE),
                ]),
            ]),
            html.Div(className="panel", children=[
                html.H2(text(lang, "replay")),
                html.Div(className="controls", children=[
                    html.Button(text(lang, "play"), id=Ids.REPLAY_PLAY, className="button"),
                    _field(text(lang, "speed"), dcc.RadioItems(
                        id=Ids.REPLAY_SPEED, value=60, className="radio",
                        options=[{"label": f"{s}×", "value": s} for s in REPLAY_SPEEDS])),
                    html.Div(id=Ids.REPLAY_GMV, className="replay-gmv"),
                ]),
                dcc.Store(id=Ids.REPLAY_STATE, data={"cursor_ms": None, "playing": False}),
                dcc.Store(id=Ids.REPLAY_DATA),
                dcc.Interval(id=Ids.REPLAY_TICK, interval=REPLAY_TICK_MS, disabled=True),
                dcc.Graph(id=Ids.REPLAY_CHART, config=GRAPH_CONFIG, style={"height": "14rem"},
                          figure=cumulative_figure([], [], lang)),
            ]),
        ]),
    ])


def _field(label: str, control: Any) -> html.Label:
    return html.Label([label, control], className="field")


def _overview(source: live_data.DataSource, lang: str) -> Any:
    """The whole history at a resolution a browser draws at once, to drag a range on."""
    history = source.history()
    bounds = history.bounds_ms()
    if bounds is None:
        return buckets_figure({"bucket_ms": []}, lang, "gmv")
    bucket_s = nice_bucket_s(bounds[1] - bounds[0], OVERVIEW_POINTS, 60)
    first = bounds[0] // (bucket_s * 1000) * bucket_s * 1000
    table = history.series(first, bounds[1] + 1, bucket_s)
    series = {"bucket_ms": table["bucket_ms"].to_pylist(),
              "all": [int(c) / 100 for c in table["gmv_cents"].to_pylist()]}
    figure = buckets_figure(series, lang, "gmv", most_steps=2)  # a strip 8rem tall
    figure["layout"] |= {"dragmode": "select", "selectdirection": "h",
                         "margin": figure["layout"]["margin"] | {"t": 4, "b": 28}}
    partial = partial_buckets(ReviewQuery(first, bounds[1] + 1, "minute"), bounds[1])
    figure["layout"]["shapes"] = partial_marks([p for p in partial if p >= series["bucket_ms"][-1]]
                                               if series["bucket_ms"] else [], bucket_s, lang)
    return figure


def _festival_day(source: live_data.DataSource) -> date:
    return date.fromisoformat(source.settings.festival_date)


@callback(Output(Ids.REVIEW_START, "value"), Output(Ids.REVIEW_END, "value"),
          Input(Ids.REVIEW_OVERVIEW, "selectedData"), Input(Ids.REVIEW_OVERVIEW, "relayoutData"),
          prevent_initial_call=True)
@requires(Can.REVIEW)
def range_from_overview(selected: Any, relayout: Any) -> Any:
    """Dragging a range (or zooming) on the overview sets the fields; anything else the browser
    sends (a selection of another shape) changes nothing. The fields are checked when read."""
    picked = _dragged(selected)
    if picked is None and isinstance(relayout, dict):
        picked = _ends(relayout.get("xaxis.range[0]"), relayout.get("xaxis.range[1]"))
    return picked if picked is not None else (no_update, no_update)


def _dragged(selected: Any) -> tuple[str, str] | None:
    """The x range of a box selection, as Plotly sends it: {"range": {"x": [first, last]}}."""
    box = selected.get("range") if isinstance(selected, dict) else None
    x = box.get("x") if isinstance(box, dict) else None
    return _ends(*x) if isinstance(x, list) and len(x) == 2 else None


def _ends(first: Any, last: Any) -> tuple[str, str] | None:
    """Two ends of a range as the fields show them ('2026-11-11 00:05:30'): times as text."""
    if not all(isinstance(v, str) and 0 < len(v) <= 40 for v in (first, last)):
        return None
    return str(first)[:19], str(last)[:19]


def _report_compare(compare: str) -> str:
    return "last-year" if compare == "last_year" else "previous"


@callback(Output(Ids.REVIEW_CHART, "figure"), Output(Ids.REVIEW_TOTALS, "children"),
          Output(Ids.REVIEW_ERROR, "children"), Output(Ids.REVIEW_ALERTS, "children"),
          Output(Ids.REVIEW_REPORT, "data"), Output(Ids.REVIEW_CONTRIBUTORS, "children"),
          Output(Ids.REVIEW_OVERVIEW, "figure"),
          Input(Ids.REVIEW_START, "value"), Input(Ids.REVIEW_END, "value"),
          Input(Ids.REVIEW_RESOLUTION, "value"), Input(Ids.REVIEW_DIMENSION, "value"),
          Input(Ids.REVIEW_COMPARE, "value"), State(Ids.LANG, "data"))
@requires(Can.REVIEW)
def refresh_review(start: str, end: str, resolution: str, dimension: str | None, compare: str,
                   lang: str) -> tuple[Any, ...]:
    source = live_data.source()
    unchanged = (no_update,) * 7
    try:
        query = review_query(start, end, resolution, dimension, _festival_day(source))
        compare = comparison(compare)
    except BadTime as err:
        return *unchanged[:2], f"{said(err, lang)} — {text(lang, 'bad_range')}", *unchanged[3:]
    except RangeOrder as err:
        return *unchanged[:2], text(lang, err.key), *unchanged[3:]
    except ValueError as err:  # a question the review refuses, with its reason
        return *unchanged[:2], said(err, lang), *unchanged[3:]
    tonight, last_year = nights(source.settings)
    try:
        report = build_report(Span(query.start_ms, query.end_ms), _report_compare(compare),
                              tonight, last_year, source.stored_alerts())
    except ReportError as err:
        return *unchanged[:2], said(err, lang), *unchanged[3:]
    history = source.history()
    table = history.series(query.start_ms, query.end_ms, query.bucket_s, query.dimension,
                           top=CHART_VALUES)
    # Split by a dimension, the lines are its values: the baseline's total is not comparable
    # with them, and would squash them at the foot of its scale.
    other = _comparison(source, query, report["baseline"]) \
        if compare != "none" and query.dimension is None else None
    name = text(lang, f"compare_{compare}")
    figure = buckets_figure(chart_series(table, "gmv"), lang, "gmv",
                            chart_series(other, "gmv") if other is not None else None, name)
    bounds = history.bounds_ms()
    partial = partial_buckets(query, bounds[1] if bounds else None)
    marks = alert_marks(report["incidents"], lang, query.end_ms, query.start_ms, REVIEW_PLOT_PX)
    figure["layout"]["shapes"] = marks["shapes"] + partial_marks(partial, query.bucket_s, lang)
    figure["layout"]["annotations"] = marks["annotations"]
    figure["layout"]["meta"] = marks["meta"]
    overview = Patch()
    overview["layout"]["shapes"] = [range_band(query.start_ms, query.end_ms)]
    if not table.num_rows:  # Plotly's axis of nothing is −1…6: the range's own times instead
        figure["layout"]["xaxis"] |= {"type": "date", "tickformat": "%H:%M", "range": [
            beijing_text(query.start_ms), beijing_text(query.end_ms)]}
    if (note := report["note"]) is not None:  # not ¥0.00: nothing is there (yet)
        return (figure, [], RangeNote(note["key"], note["at_ms"]).said(lang),
                _incident_items(report["incidents"], lang), seal(REPORT_STORE, _stored(report)),
                _contributors_table(report, lang), overview)
    return (figure, _totals(report, lang), "", _incident_items(report["incidents"], lang),
            seal(REPORT_STORE, _stored(report)), _contributors_table(report, lang), overview)


def _stored(report: dict[str, Any]) -> dict[str, Any]:
    """What the page keeps of the report: the top of what changed, each dimension's values."""
    by_dimension: dict[str, list[dict[str, Any]]] = {}
    for row in report["contributors"]:
        by_dimension.setdefault(row["dimension"], []).append(row)
    return {"from_ms": report["from_ms"], "to_ms": report["to_ms"],
            "baseline": report["baseline"],
            "contributors": report["contributors"][:CONTRIBUTORS_SHOWN],
            "dimensions": {d: sorted(rows, key=lambda r: -r["gmv_cents"])[:DIMENSION_ROWS]
                           for d, rows in by_dimension.items()}}


def _totals(report: dict[str, Any], lang: str) -> list[Any]:
    change = format_change(report["gmv_cents"], report["baseline"]["gmv_cents"])
    parts = [html.Span([html.Span(text(lang, "gmv"), className="label"),
                        html.B(format_exact(report["gmv_cents"]))]),
             html.Span([html.Span(text(lang, "orders"), className="label"),
                        html.B(format_count(report["orders"]))]),
             html.Span([html.Span(f"{text(lang, 'against')} {text(lang, 'baseline')}",
                                  className="label"),
                        html.B(change, className="up" if change.startswith("+") else "down")])]
    if report["peak"]:
        parts.append(html.Span([html.Span(text(lang, "peak"), className="label"),
                                html.B(f"{format_count(report['peak']['orders_per_s'])} "
                                       f"{text(lang, 'at')} {clock(report['peak']['at_ms'])}")]))
    return parts


def _incident_items(incidents: list[dict[str, Any]], lang: str) -> list[Any]:
    """One item per incident (the alerts one cause set off): its cause, the GMV it lost (once),
    the alerts it explains beneath."""
    if not incidents:
        return [html.Li(text(lang, "no_incidents"), className="alert quiet")]
    items = []
    for i, *evidence in by_incident(incidents):
        lost = f" · {text(lang, 'gmv_lost')} {format_exact(i['gmv_lost_cents'])}" \
            if i["gmv_lost_cents"] else ""
        items.append(html.Li(className=f"alert {i['severity'] or ''} resolved", children=[
            html.Div(className="alert-head", children=[
                html.B(shown(alert_headline(i, lang))),
                html.Span(shown(where_unsaid(i, lang)), className="alert-where"),
                html.Span(f"{clock(i['start_ms'])} · {_duration(i['duration_s'], lang)}{lost}",
                          className="alert-when"),
                *([html.Span(acked, className="acked")] if (acked := acknowledgement(i, lang))
                  else [])]),
            html.Div(shown(alert_message(i, lang, incidents)), className="alert-message"),
            *([html.Ul([evidence_line(a, lang) for a in evidence], className="alert-evidence")]
              if evidence else [])]))
    return items


def _duration(seconds: float, lang: str) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} {text(lang, 'seconds_short')}"
    return f"{seconds / 60:,.0f} {text(lang, 'minutes_short')}"


def _change_table(rows: list[dict[str, Any]], lang: str, clickable: bool) -> html.Table:
    """Values with their GMV, share now and in the baseline, and the change; the contributors
    (clickable, with their dimension) or one dimension's values."""
    numbers = ("gmv", "share", "was", "delta")
    head = [*(["dimension"] if clickable else []), "value", *numbers]
    body = []
    for i, r in enumerate(rows):
        cells = [*([html.Td(text(lang, r["dimension"]))] if clickable else []),
                 html.Td(shown(value_name(lang, r["value"])), className="name"),
                 html.Td(format_exact(r["gmv_cents"]), className="n"),
                 html.Td(f"{r['share']:.1%}", className="n"),
                 html.Td(f"{r['baseline_share']:.1%}", className="n"),
                 html.Td(format_signed(r["delta_cents"]),
                         className="n " + ("up" if r["delta_cents"] > 0 else "down"))]
        body.append(html.Tr(cells, id={"type": Ids.REVIEW_CONTRIBUTOR, "index": i}, n_clicks=0,
                            className="clickable") if clickable else html.Tr(cells))
    return html.Table(className="table", children=[
        html.Thead(html.Tr([html.Th(text(lang, h), className="n" if h in numbers else None)
                            for h in head])),
        html.Tbody(body)])


def _contributors_table(report: dict[str, Any], lang: str) -> Any:
    note = [] if report["baseline"]["gmv_cents"] else [
        html.Div(text(lang, "empty_baseline"), className="hint")]
    return [*note, _change_table(report["contributors"][:CONTRIBUTORS_SHOWN], lang, True)]


@callback(Output(Ids.REVIEW_DIMENSION_TABLE, "children"),
          Input(Ids.REVIEW_DIMENSION_TABS, "value"), Input(Ids.REVIEW_REPORT, "data"),
          State(Ids.LANG, "data"))
@requires(Can.REVIEW)
def dimension_table(dimension: Any, sealed: Any, lang: str) -> Any:
    if not sealed:
        return no_update
    try:
        chosen = one_of("dimension", dimension, TABLE_DIMENSIONS)
        stored = unseal(REPORT_STORE, sealed)
    except ValueError as err:  # a tab or a report the browser made up
        return html.Div(said(err, lang), className="error")
    return _change_table(stored["dimensions"].get(chosen, []), lang, False)


@callback(Output(Ids.REVIEW_CONTRIBUTOR_CHART, "figure"),
          Output(Ids.REVIEW_CONTRIBUTOR_TITLE, "children"),
          Output(Ids.REVIEW_CONTRIBUTOR_TITLE, "data-pick"), Output(Ids.EXPORT_ORDERS, "children"),
          Input({"type": Ids.REVIEW_CONTRIBUTOR, "index": ALL}, "n_clicks"),
          Input(Ids.REVIEW_REPORT, "data"), State(Ids.LANG, "data"))
@requires(Can.REVIEW)
def contributor_curve(_clicks: Any, sealed: Any, lang: str) -> Any:
    """The chosen value's share of GMV through the range against the baseline's (the top
    contributor until one is clicked). The report is the one this server sealed: a made-up or
    altered one is refused, never drawn. The orders export says whose orders it gives."""
    everything = text(lang, "export_orders")
    if not sealed:
        return no_update, "", "", everything
    try:
        stored = unseal(REPORT_STORE, sealed)
        rows = stored["contributors"]
        picked = whole_number("row", ctx.triggered_id.get("index"), 0, max(len(rows) - 1, 0)) \
            if isinstance(ctx.triggered_id, dict) else 0
    except (Forged, BadParameter) as err:
        return no_update, said(err, lang), "", everything
    if not rows:
        return no_update, "", "", everything
    row = rows[picked]
    source = live_data.source()
    span_ms = stored["to_ms"] - stored["from_ms"]
    bucket_s = nice_bucket_s(span_ms, 120, 60 if row["dimension"] == "merchant" else 1)
    now = _shares(source.history(), row, stored["from_ms"], stored["to_ms"], bucket_s)
    baseline = stored["baseline"]
    then = _shares(_baseline_history(source, baseline) or source.history(), row,
                   baseline["from_ms"], baseline["to_ms"], bucket_s)
    name = f"{text(lang, row['dimension'])} · {value_name(lang, row['value'])}"
    title = f"{shown(name)}: {format_signed(row['delta_cents'])}"
    return (share_figure({"bucket_ms": now[0], "now": now[1]}, lang, name,
                         text(lang, "baseline"), then[1]), title,
            f"{row['dimension']}={row['value']}", text(lang, "export_orders_of", pick=shown(name)))


def _shares(history: history_data.History, row: dict[str, Any], start_ms: int, end_ms: int,
            bucket_s: int) -> tuple[list[int], list[float | None]]:
    first = start_ms // (bucket_s * 1000) * bucket_s * 1000
    whole = history.series(first, end_ms, bucket_s)
    mine = history.drill(row["dimension"], row["value"], first, end_ms, bucket_s)
    part = dict(zip(mine["bucket_ms"].to_pylist(), mine["gmv_cents"].to_pylist(), strict=True))
    buckets = list(range(first, end_ms, bucket_s * 1000))
    totals = dict(zip(whole["bucket_ms"].to_pylist(), whole["gmv_cents"].to_pylist(), strict=True))
    return buckets, [round(100 * int(part.get(b, 0)) / int(totals[b]), 3) if totals.get(b) else None
                     for b in buckets]


def _baseline_history(source: live_data.DataSource,
                      baseline: dict[str, Any]) -> history_data.History | None:
    """The night the report's baseline range is in."""
    return source.last_year() if baseline["with"] == "last-year" else source.history()


def _comparison(source: live_data.DataSource, query: ReviewQuery,
                baseline: dict[str, Any]) -> Any:
    """The chart's comparison line: the report's baseline range at the chart's resolution."""
    history = _baseline_history(source, baseline)
    return answer(history, ReviewQuery(baseline["from_ms"], baseline["to_ms"], query.resolution)) \
        if history is not None else None


@callback(Output(Ids.DOWNLOAD, "data"), Output(Ids.EXPORT_NOTE, "children"),
          Input(Ids.EXPORT_CSV, "n_clicks"), Input(Ids.EXPORT_PARQUET, "n_clicks"),
          Input(Ids.EXPORT_REPORT, "n_clicks"), Input(Ids.EXPORT_ORDERS, "n_clicks"),
          State(Ids.REVIEW_START, "value"), State(Ids.REVIEW_END, "value"),
          State(Ids.REVIEW_RESOLUTION, "value"), State(Ids.REVIEW_DIMENSION, "value"),
          State(Ids.REVIEW_COMPARE, "value"), State(Ids.REVIEW_CONTRIBUTOR_TITLE, "data-pick"),
          State(Ids.LANG, "data"), prevent_initial_call=True)
@requires(Can.EXPORT)
def export(_csv: int | None, _parquet: int | None, _report: int | None, _orders: int | None,
           start: str, end: str, resolution: str, dimension: str | None, compare: str,
           pick: str | None, lang: str) -> Any:
    """What the chart shows, every value and bucket, as a file; the range's report; or the
    orders themselves of the value whose curve is shown (all of the range's when none is).
    Limited per person and minute; each one is in the audit log."""
    source = live_data.source()
    try:
        query = review_query(start, end, resolution, dimension, _festival_day(source))
        compare = comparison(compare)
    except RangeOrder as err:
        return no_update, text(lang, err.key)
    except ValueError as err:
        return no_update, said(err, lang)
    who = current_identity()
    assert who is not None
    limit = source.settings.export_rate_per_min
    if who.kind != "local" and (wait := gate().limits.spend("export", who.name, limit)) is not None:
        return no_update, text(lang, "too_many_exports", limit=limit, seconds=wait)
    kinds: dict[str, str] = {Ids.EXPORT_REPORT: "report", Ids.EXPORT_ORDERS: "orders",
                             Ids.EXPORT_PARQUET: "parquet"}
    pressed = ctx.triggered_id
    kind = kinds.get(pressed, "csv") if isinstance(pressed, str) else "csv"
    answer_file, note, rows = _export_file(source, query, kind, compare, pick, lang)
    if answer_file is not no_update:
        gate().accounts.record(who, "export", source_address(), kind=kind,
                               start=beijing_text(query.start_ms), end=beijing_text(query.end_ms),
                               resolution=resolution, dimension=dimension or "", pick=pick or "",
                               rows=rows)
    return answer_file, note


def _export_file(source: live_data.DataSource, query: ReviewQuery, kind: str, compare: str,
                 pick: str | None, lang: str) -> tuple[Any, str, int]:
    """(the file to send, or no_update; the note beside the buttons; the rows in it)"""
    name = (f"gmv-{beijing_text(query.start_ms)}-{beijing_text(query.end_ms)}-{query.resolution}"
            f"{'-' + query.dimension if query.dimension else ''}").replace(" ", "T").replace(":", "")
    if kind == "report":
        tonight, last_year = nights(source.settings)
        try:
            report = build_report(Span(query.start_ms, query.end_ms), _report_compare(compare),
                                  tonight, last_year, source.stored_alerts())
        except ReportError as err:
            return no_update, said(err, lang), 0
        return dcc.send_string(report_html(report, lang), f"{name}-report.html"), "", 0
    if kind == "orders":
        try:
            chosen, value = export_pick(pick)
            orders = export_orders(source.history(), query, chosen, value)
        except ExportTooBig:
            return no_update, text(lang, "export_too_big", limit=EXPORT_MAX_ROWS), 0
        except ValueError as err:  # the pick comes from the browser: an unknown dimension
            return no_update, said(err, lang), 0
        suffix = f"-{chosen}-{value}" if chosen else ""
        return (dcc.send_string(orders_csv(orders), f"orders-{name}{suffix}.csv"),
                text(lang, "exported", rows=orders.num_rows), orders.num_rows)
    try:
        table = export_answer(source.history(), query)
    except ExportTooBig:
        return no_update, text(lang, "export_too_big", limit=EXPORT_MAX_ROWS), 0
    note = text(lang, "exported", rows=table.num_rows)
    if kind == "parquet":
        return dcc.send_bytes(to_parquet(table), f"{name}.parquet"), note, table.num_rows
    return dcc.send_string(to_csv(table), f"{name}.csv"), note, table.num_rows


@callback(Output(Ids.REPLAY_STATE, "data"), Output(Ids.REPLAY_TICK, "disabled"),
          Output(Ids.REPLAY_PLAY, "children"), Output(Ids.REPLAY_DATA, "data"),
          Input(Ids.REPLAY_PLAY, "n_clicks"), Input(Ids.REPLAY_TICK, "n_intervals"),
          State(Ids.REPLAY_STATE, "data"), State(Ids.REPLAY_SPEED, "value"),
          State(Ids.REVIEW_START, "value"), State(Ids.REVIEW_END, "value"), State(Ids.LANG, "data"),
          prevent_initial_call=True)
@requires(Can.REVIEW)
def replay_step(_clicks: int | None, _ticks: int | None, state: Any, speed: Any,
                start: str, end: str, lang: str) -> tuple[Any, ...]:
    """Play/pause, and move the replay's clock by `speed` x the tick while playing. On play,
    the range's running GMV is read once, at a resolution of at most REPLAY_POINTS points. The
    clock and the speed the browser sends back are checked: inside the range, a speed offered."""
    source = live_data.source()
    try:
        query = review_query(start, end, "minute", None, _festival_day(source))
        speed = one_of("speed", speed, REPLAY_SPEEDS)
    except ValueError:
        return no_update, True, text(lang, "play"), no_update
    state = state if isinstance(state, dict) else {}
    try:
        cursor: int | None = whole_number("cursor", state.get("cursor_ms"), query.start_ms,
                                          query.end_ms)
    except BadParameter:
        cursor = None
    data: Any = no_update
    if ctx.triggered_id == Ids.REPLAY_PLAY:
        playing = state.get("playing") is not True
        if playing and (cursor is None or cursor >= query.end_ms or cursor < query.start_ms):
            cursor = query.start_ms
        if playing:
            data = seal(REPLAY_STORE, _replay_data(source, query))
    else:
        playing = state.get("playing") is True
        cursor = min((cursor or query.start_ms) + speed * REPLAY_TICK_MS, query.end_ms)
        playing = playing and cursor < query.end_ms
    return ({"cursor_ms": cursor, "playing": playing}, not playing,
            text(lang, "pause" if playing else "play"), data)


def _replay_data(source: live_data.DataSource, query: ReviewQuery) -> dict[str, Any]:
    bucket_s = nice_bucket_s(query.end_ms - query.start_ms, REPLAY_POINTS)
    first = query.start_ms // (bucket_s * 1000) * bucket_s * 1000
    table = source.history().series(max(first, query.start_ms), query.end_ms, bucket_s)
    running, cumulative = 0, []
    for cents in table["gmv_cents"].to_pylist():
        running += int(cents)
        cumulative.append(running)
    return {"end_ms": [int(b) + bucket_s * 1000 for b in table["bucket_ms"].to_pylist()],
            "cumulative": cumulative}


@callback(Output(Ids.REPLAY_CHART, "figure"), Output(Ids.REPLAY_GMV, "children"),
          Input(Ids.REPLAY_STATE, "data"), State(Ids.REPLAY_DATA, "data"),
          State(Ids.LANG, "data"), prevent_initial_call=True)
@requires(Can.REVIEW)
def replay_frame(state: Any, sealed: Any, lang: str) -> tuple[Any, ...]:
    """The range as it looked at the replay's clock: GMV so far, up to it (the running GMV is
    the one this server sealed when the replay started)."""
    cursor = state.get("cursor_ms") if isinstance(state, dict) else None
    if not isinstance(cursor, int) or isinstance(cursor, bool) or not sealed:
        return no_update, no_update
    try:
        data = unseal(REPLAY_STORE, sealed)
    except Forged as err:
        return no_update, said(err, lang)
    shown = sum(1 for ms in data["end_ms"] if ms <= cursor)
    x, y = data["end_ms"][:shown], data["cumulative"][:shown]
    return cumulative_figure(x, y, lang), f"{clock(cursor)} · {format_exact(y[-1] if y else 0)}"


dash.register_page(__name__, path="/review", title="GMV 11.11 · review", name="review",
                   layout=page_layout(Can.REVIEW, layout))
