"""The operations view (`/ops`): the big screen's numbers plus pipeline health, the alert feed,
top merchants and a drill-down by device, region and category."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import (
    ALL,
    Input,
    Output,
    State,
    callback,
    dcc,
    html,
    no_update,
)
from werkzeug.exceptions import BadRequest

from dashboard.alert_feed import alert_count, alert_items, feed_digest
from dashboard.alert_text import alert_headline, alert_of_key
from dashboard.audit_text import audit_action, audit_what, audit_where, audit_who
from dashboard.components import (
    GRAPH_CONFIG,
    banner,
    header,
    headline,
    night_panels,
    plumbing,
    tile,
    wide_only,
)
from dashboard.data import live as live_data
from dashboard.figures import buckets_figure
from dashboard.format import clock, format_compact, format_count, language, text, value_name
from dashboard.gate import allowed, current_identity, gate, requires, source_address
from dashboard.ids import Ids
from dashboard.nav import nav, page_layout
from dashboard.outlook import ops_outlook
from dashboard.params import BadParameter, one_of, text_value
from dashboard.pipeline import pipeline_values
from dashboard.roles import Can
from dashboard.shown import shown

DRILL_DIMENSIONS = ("device", "region", "category")
DRILL_WINDOW_MS = 60 * 60_000
AUDIT_SHOWN = 30


def layout(lang: str | None = None, **_: Any) -> html.Div:
    lang = language(lang)
    live = live_data.source().live()
    return html.Div(className="ops", lang="zh-CN" if lang == "zh" else "en", children=[
        wide_only(lang),
        html.Div(id=Ids.PAGE, className="page", children=[
            *plumbing(lang, live), banner(),
            header(lang, "ops_title", [nav(lang, "/ops")], live=live),
            headline(lang, live),
            html.Section(className="ops-grid", children=[
                alerts_panel(lang),
                html.Div(className="panel", children=[
                    html.H2(text(lang, "pipeline")),
                    html.Div(className="tiles small", children=[
                        tile(lang, "lag", Ids.LAG), tile(lang, "ingest_rate", Ids.INGEST_RATE),
                        tile(lang, "capacity", Ids.CAPACITY), tile(lang, "utilization", Ids.LOAD),
                        tile(lang, "rejected", Ids.REJECTED),
                        tile(lang, "duplicates", Ids.DUPLICATES),
                        tile(lang, "heartbeat", Ids.HEARTBEAT), tile(lang, "worker", Ids.WORKER)]),
                ]),
                html.Div(className="panel outlook-panel", children=[
                    html.H2(text(lang, "forecast_title")),
                    html.Div(outlook_rows(lang), id=Ids.OPS_OUTLOOK, className="ops-outlook")]),
                html.Div(className="panel", children=[
                    html.H2(text(lang, "top_merchants")),
                    html.Table(id=Ids.MERCHANTS, className="table")]),
                *([audit_panel(lang)] if allowed(Can.ADMIN) else []),
                html.Div(className="panel", children=[
                    html.H2(text(lang, "drill")),
                    html.Div(className="controls", children=[
                        dcc.Dropdown(id=Ids.DRILL_DIMENSION, clearable=False, value="device",
                                     options=[{"label": text(lang, d), "value": d}
                                              for d in DRILL_DIMENSIONS]),
                        dcc.Dropdown(id=Ids.DRILL_VALUE, clearable=False)]),
                    html.Div(id=Ids.DRILL_TITLE, className="hint"),
                    dcc.Graph(id=Ids.DRILL_CHART, config=GRAPH_CONFIG, style={"height": "15rem"},
                              figure=buckets_figure({"bucket_ms": []}, lang, "gmv"))]),
            ]),
            night_panels(lang, live)]),
    ])


def alerts_panel(lang: str) -> html.Div:
    """The feed across the page, drawn with the page; the toast beside its count, over no alert."""
    alerts, now_ms = live_data.source().alerts(), int(time.time() * 1000)
    return html.Div(className="panel alerts-panel", children=[
        dcc.Store(id=Ids.ALERTS_DIGEST, data=feed_digest(alerts, now_ms)),
        html.Div(className="alerts-head", children=[
            html.H2(text(lang, "alerts")),
            html.Span(alert_count(alerts, lang), id=Ids.ALERT_COUNT, className="alert-count"),
            html.Div(id=Ids.ACK_NOTE, className="ack-note", role="status")]),
        html.Div(alert_items(alerts, lang, now_ms=now_ms), id=Ids.ALERTS, className="alert-feed")])


@callback(Output(Ids.ALERTS, "children"), Output(Ids.ALERT_COUNT, "children"),
          Output(Ids.ALERTS_DIGEST, "data"),
          Input(Ids.TICK, "n_intervals"), State(Ids.ALERTS_DIGEST, "data"), State(Ids.LANG, "data"),
          prevent_initial_call=True)
@requires(Can.OPS)
def refresh_alerts(_: int | None, drawn: Any, lang: str) -> tuple[Any, ...]:
    """The feed, redrawn only when what it shows has changed: a redraw each second would take
    the button from under an operator's press."""
    alerts, now_ms = live_data.source().alerts(), int(time.time() * 1000)
    digest = feed_digest(alerts, now_ms)
    if digest == drawn:
        return no_update, no_update, no_update
    return alert_items(alerts, lang, now_ms=now_ms), alert_count(alerts, lang), digest


def audit_panel(lang: str) -> html.Div:
    return html.Div(className="panel audit-panel", children=[
        html.H2(text(lang, "audit")), html.Ul(id=Ids.AUDIT, className="audit",
                                             children=audit_items(lang))])


def audit_items(lang: str) -> list[Any]:
    """The newest entries first: who, when, what, from where."""
    entries = gate().accounts.audit(limit=AUDIT_SHOWN)[::-1]
    if not entries:
        return [html.Li(text(lang, "no_audit"), className="quiet")]
    return [html.Li(className="audit-entry", children=[
        html.Span(clock(e["at_ms"]), className="audit-when"), html.B(shown(audit_who(e, lang))),
        html.Span(audit_action(e, lang), className="audit-action"),
        html.Span(shown(audit_what(e, lang)), className="audit-what"),
        html.Span(shown(audit_where(e, lang)), className="audit-source")]) for e in entries]


@callback(Output(Ids.AUDIT, "children"), Input(Ids.SLOW_TICK, "n_intervals"),
          State(Ids.LANG, "data"), prevent_initial_call=True)
@requires(Can.ADMIN)
def refresh_audit(_: int | None, lang: str) -> list[Any]:
    return audit_items(lang)


def outlook_rows(lang: str) -> list[Any]:
    source = live_data.source()
    return ops_outlook(source.night(), source.live(), source.guesses(),
                       source.guess_board().closes_at_ms, lang)


@callback(Output(Ids.OPS_OUTLOOK, "children"), Input(Ids.SLOW_TICK, "n_intervals"),
          State(Ids.LANG, "data"), prevent_initial_call=True)
@requires(Can.OPS)
def refresh_outlook(_: int | None, lang: str) -> list[Any]:
    return outlook_rows(lang)


def merchant_rows(night: dict[str, Any], lang: str) -> list[Any]:
    rows = [html.Tr([html.Th(text(lang, "merchant")), html.Th(text(lang, "gmv")),
                     html.Th(text(lang, "orders"))])]
    for merchant, totals in night.get("top_merchants", {}).items():
        rows.append(html.Tr([html.Td(shown(merchant), className="name"),
                             html.Td(format_compact(totals["gmv_cents"], lang)),
                             html.Td(format_count(totals["orders"]))]))
    return rows


@callback(Output(Ids.ACK_NOTE, "children"),
          Input({"type": Ids.ACK_BUTTON, "key": ALL}, "n_clicks"), State(Ids.LANG, "data"),
          prevent_initial_call=True)
@requires(Can.ACKNOWLEDGE)
def acknowledge(clicks: list[int | None], lang: str) -> Any:
    """A press of an alert's button (a redrawn feed's new button's 0 is no press). Only an
    alert that awaits it (firing, or a resolved oversell, nobody has acknowledged) can be: any
    other id the browser sends is a 400, and nothing is written."""
    pressed = dash.ctx.triggered_id
    if not pressed or not dash.ctx.triggered[0].get("value"):
        return no_update
    key = pressed.get("key") if isinstance(pressed, dict) else None
    who = current_identity()
    assert who is not None
    now_ms = int(time.time() * 1000)
    source = live_data.source()
    if not isinstance(key, str) or not source.acknowledge(key, who.name, now_ms):
        raise BadRequest(f"no alert awaiting acknowledgement {str(key)[:80]!r}")
    gate().accounts.record(who, "acknowledge", source_address(), alert=key)
    alerts = source.alerts()
    alert = alert_of_key(key, alerts)
    # The incident is acknowledged as one: the alerts its cause explains with it.
    for other in alerts:
        if other.get("incident") and other.get("incident") == alert.get("incident") \
                and other.get("key") != key and source.acknowledge(str(other["key"]), who.name,
                                                                    now_ms):
            gate().accounts.record(who, "acknowledge", source_address(), alert=other["key"])
    # No time: the wall clock's would be a second clock beside the night's.
    return f"{text(lang, 'acknowledged')}: {shown(alert_headline(alert, lang))}"


@callback(
    Output(Ids.LAG, "children"), Output(Ids.INGEST_RATE, "children"),
    Output(Ids.CAPACITY, "children"), Output(Ids.LOAD, "children"), Output(Ids.REJECTED, "children"),
    Output(Ids.DUPLICATES, "children"), Output(Ids.HEARTBEAT, "children"),
    Output(Ids.WORKER, "children"), Output(Ids.MERCHANTS, "children"),
    Input(Ids.TICK, "n_intervals"), State(Ids.LANG, "data"))
@requires(Can.OPS)
def refresh_pipeline(_: int | None, lang: str) -> tuple[Any, ...]:
    source = live_data.source()
    live = source.live()
    if live is None:
        return (no_update,) * 9
    return (*pipeline_values(live, lang), merchant_rows(source.night() or {}, lang))


@callback(Output(Ids.DRILL_VALUE, "options"), Output(Ids.DRILL_VALUE, "value"),
          Input(Ids.DRILL_DIMENSION, "value"), State(Ids.DRILL_VALUE, "value"),
          State(Ids.LANG, "data"))
@requires(Can.OPS)
def drill_values(dimension: Any, current: Any, lang: str) -> tuple[Any, ...]:
    dimension = _drill_dimension(dimension)
    source = live_data.source()
    totals = (source.live() or {}).get("by_device", {}) if dimension == "device" else \
        (source.night() or {}).get(f"by_{dimension}", {})
    values = sorted(totals, key=lambda v: -int(totals[v].get("gmv_cents", 0)))
    options = [{"label": shown(value_name(lang, v)), "value": v} for v in values]
    return options, current if current in values else (values[0] if values else None)


def _drill_dimension(value: Any) -> str:
    """The drill-down's dimension as the browser sends it: one offered, else a 400."""
    try:
        return one_of("dimension", value, DRILL_DIMENSIONS)
    except BadParameter as err:
        raise BadRequest(str(err)) from None


@callback(Output(Ids.DRILL_CHART, "figure"), Output(Ids.DRILL_TITLE, "children"),
          Input(Ids.DRILL_VALUE, "value"),
          Input(Ids.SLOW_TICK, "n_intervals"), State(Ids.DRILL_DIMENSION, "value"),
          State(Ids.LANG, "data"))
@requires(Can.OPS)
def refresh_drill(value: Any, _: int | None, dimension: Any, lang: str) -> Any:
    try:
        value = text_value("value", value)
    except BadParameter as err:
        raise BadRequest(str(err)) from None
    dimension = _drill_dimension(dimension)
    if not value:
        return no_update, no_update
    source = live_data.source()
    latest = (source.live() or {}).get("latest_second_ms")
    if latest is None:
        return no_update, no_update
    # Whole minutes only: the one still filling would look like a collapse.
    until = latest // 60_000 * 60_000
    table = source.history().drill(dimension, value, until - DRILL_WINDOW_MS, until, 60)
    series = {"bucket_ms": table["bucket_ms"].to_pylist(),
              value: [int(c) / 100 for c in table["gmv_cents"].to_pylist()]}
    figure = buckets_figure(series, lang, "gmv")
    # The title above the chart, in the page: it wraps where a chart's own title would be cut.
    return figure, (f"{text(lang, dimension)} = {shown(value_name(lang, value))} · "
                    f"{text(lang, 'per_minute')} · {clock(latest)}")


dash.register_page(__name__, path="/ops", title="GMV 11.11 · ops", name="ops",
                   layout=page_layout(Can.OPS, layout))
