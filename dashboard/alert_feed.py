"""The alert feed of /ops: every firing alert in sight, the acknowledged and the resolved folded."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dash import html

from dashboard.format import clock, text, value_name
from dashboard.ids import Ids
from dashboard.shown import shown

MAX_RESOLVED = 20  # the newest resolved ones: the review has the rest
SHOWN_FIELDS = ("key", "kind", "severity", "state", "dimension", "message", "start_ms", "end_ms",
                "acknowledged_ms", "acknowledged_by")


def alert_items(alerts: list[dict[str, Any]], lang: str, with_actions: bool = True) -> list[Any]:
    """The feed: every firing alert nobody has acknowledged (what, where, since when, how big
    against expected, its button), then the acknowledged and the resolved, each folded under
    a line that says how many."""
    if not alerts:
        return [html.Ul(html.Li(text(lang, "no_alerts"), className="alert quiet"),
                        className="alerts feed")]
    waiting = [a for a in alerts if _firing(a) and not a.get("acknowledged_ms")]
    acked = [a for a in alerts if _firing(a) and a.get("acknowledged_ms")]
    resolved = [a for a in alerts if not _firing(a)]
    shown_now: list[Any] = [html.Ul([_row(a, lang, with_actions) for a in waiting],
                                    className="alerts feed")]
    for group, label in ((acked, "alerts_acknowledged"), (resolved, "alerts_resolved")):
        if group:
            shown_now.append(html.Details(key=label, className="alert-fold", children=[
                html.Summary(text(lang, label, n=len(group))),
                html.Ul([_row(a, lang, with_actions) for a in group[:MAX_RESOLVED]],
                        className="alerts feed")]))
    return shown_now


def alert_count(alerts: list[dict[str, Any]], lang: str) -> str:
    """'10 firing · 7 unacknowledged'."""
    firing = [a for a in alerts if _firing(a)]
    waiting = sum(1 for a in firing if not a.get("acknowledged_ms"))
    return text(lang, "alerts_count", firing=len(firing), waiting=waiting)


def feed_digest(alerts: list[dict[str, Any]]) -> str:
    """What the feed shows of the alerts, hashed: the feed is redrawn only when it changes."""
    shown_now = [{k: a.get(k) for k in SHOWN_FIELDS} for a in alerts]
    encoded = json.dumps(shown_now, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]


def _firing(alert: dict[str, Any]) -> bool:
    return alert.get("state") == "firing"


def _row(alert: dict[str, Any], lang: str, with_actions: bool) -> html.Li:
    """One line: what, where, since when, the message, and the acknowledgement (a button until
    someone has pressed it). Keyed by the alert, so a redraw keeps each row where it is."""
    acked = acknowledgement(alert, lang)
    if acked:
        action: Any = html.Span(acked, className="acked")
    elif with_actions and _firing(alert) and alert.get("key"):
        action = html.Button(text(lang, "acknowledge"), n_clicks=0, className="ack",
                             id={"type": Ids.ACK_BUTTON, "key": alert["key"]})
    else:
        action = None
    return html.Li(
        key=str(alert.get("key") or ""),
        className=f"alert {alert.get('severity', '')} {alert.get('state', '')}",
        children=[html.Div(className="alert-head", children=[
                      html.B(shown(value_name(lang, alert.get("kind", "")))),
                      html.Span(shown(alert.get("dimension") or ""), className="alert-where"),
                      html.Span(_when(alert, lang), className="alert-when"), action]),
                  html.Div(shown(alert.get("message", "")), className="alert-message")])


def acknowledgement(alert: dict[str, Any], lang: str) -> str:
    """'acknowledged by mei 00:03:05' (or '' while nobody has)."""
    at, by = alert.get("acknowledged_ms"), alert.get("acknowledged_by")
    if not at:
        return ""
    said = text(lang, "acknowledged_by", who=shown(by)) if by else text(lang, "acknowledged")
    return f"{said} {clock(at)}"


def _when(alert: dict[str, Any], lang: str) -> str:
    if not alert.get("start_ms"):
        return ""
    since = f"{text(lang, 'since')} {clock(alert['start_ms'])}"
    return f"{since} – {clock(alert['end_ms'])}" if alert.get("end_ms") else since
