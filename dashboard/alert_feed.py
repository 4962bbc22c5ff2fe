"""The alert feed of /ops (and the review's list of a range's alerts)."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboard.alert_text import alert_headline, alert_message, where_text
from dashboard.audit_text import who_text
from dashboard.format import clock, text
from dashboard.ids import Ids
from dashboard.shown import shown

MAX_FEED = 20


def alert_items(alerts: list[dict[str, Any]], lang: str, with_actions: bool = True) -> list[Any]:
    """The feed: what, where, how big against expected, since when; open ones first, each
    with its acknowledgement (a button until someone has pressed it)."""
    if not alerts:
        return [html.Li(text(lang, "no_alerts"), className="alert quiet")]
    items = []
    for alert in alerts[:MAX_FEED]:
        acked = acknowledgement(alert, lang)
        if acked:
            action: Any = html.Span(acked, className="acked")
        elif with_actions and alert.get("state") == "firing" and alert.get("key"):
            action = html.Button(text(lang, "acknowledge"), n_clicks=0, className="ack",
                                 id={"type": Ids.ACK_BUTTON, "key": alert["key"]})
        else:
            action = None
        items.append(html.Li(
            className=f"alert {alert.get('severity', '')} {alert.get('state', '')}",
            children=[html.Div(className="alert-head", children=[
                          html.B(shown(alert_headline(alert, lang))),
                          html.Span(shown(where_text(alert.get("dimension"), lang)),
                                    className="alert-where"),
                          html.Span(_when(alert, lang), className="alert-when"), action]),
                      html.Div(shown(alert_message(alert, lang, alerts)),
                               className="alert-message")]))
    return items


def acknowledgement(alert: dict[str, Any], lang: str) -> str:
    """'acknowledged by mei 00:03:05' (or '' while nobody has)."""
    at, by = alert.get("acknowledged_ms"), alert.get("acknowledged_by")
    if not at:
        return ""
    said = text(lang, "acknowledged_by", who=shown(who_text(by, lang))) if by \
        else text(lang, "acknowledged")
    return f"{said} {clock(at)}"


def _when(alert: dict[str, Any], lang: str) -> str:
    if not alert.get("start_ms"):
        return ""
    since = f"{text(lang, 'since')} {clock(alert['start_ms'])}"
    return f"{since} – {clock(alert['end_ms'])}" if alert.get("end_ms") else since
