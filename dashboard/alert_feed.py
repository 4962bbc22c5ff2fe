"""The alert feed of /ops: every firing alert in sight, the acknowledged and the resolved folded."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from dash import html

from dashboard.alert_text import alert_headline, alert_message, where_unsaid
from dashboard.audit_text import who_text
from dashboard.format import clock, text
from dashboard.ids import Ids
from dashboard.shown import shown
from ingest.detect.alerts import awaits_acknowledgement
from ingest.detect.incidents import by_incident
from ingest.detect.watchdog import HEARTBEAT_MISSING, STREAM_LAG

MAX_RESOLVED = 20  # the newest resolved ones: the review has the rest
# The watchdog's alerts are stamped by the wall clock, the worker's by the night's (its orders'
# event time): on a rehearsal the two are hours apart, so the feed says which is which.
WALL_CLOCK_KINDS = frozenset({HEARTBEAT_MISSING.kind, STREAM_LAG.kind})
SHOWN_FIELDS = ("key", "kind", "severity", "state", "dimension", "message", "start_ms", "end_ms",
                "acknowledged_ms", "acknowledged_by", "incident")


def alert_items(alerts: list[dict[str, Any]], lang: str, with_actions: bool = True,
                now_ms: int | None = None) -> list[Any]:
    """The feed, by incident (the alerts one cause set off: ingest/detect/incidents.py): every
    firing incident nobody has acknowledged (its cause: what, where, since when, how big against
    expected, its button; beneath, the other alerts it explains), then the acknowledged and the
    resolved, each folded under a line that says how many. `now_ms`: the wall clock, for
    "acknowledged 3 min ago"."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if not alerts:
        return [html.Ul(html.Li(text(lang, "no_alerts"), className="alert quiet"),
                        className="alerts feed")]
    incidents = by_incident(alerts)
    waiting = [i for i in incidents if _waiting(i)]
    # Ended and still to be seen (oversells): the newest with their buttons; a night of
    # thousands keeps the feed small, the rest folded (the count says how many wait).
    ended_waiting = [i for i in waiting if not _firing_incident(i)]
    older_ended = ended_waiting[:-MAX_RESOLVED] if len(ended_waiting) > MAX_RESOLVED else []
    folded = {id(i) for i in older_ended}
    waiting = [i for i in waiting if id(i) not in folded]
    acked = [i for i in incidents if _firing_incident(i) and not _waiting(i)]
    resolved = [i for i in incidents if not _firing_incident(i) and not _waiting(i)]
    shown_now: list[Any] = [html.Ul([_row(i, lang, with_actions, now_ms, alerts)
                                     for i in waiting], className="alerts feed")]
    for group, label in ((older_ended[::-1], "alerts_ended_waiting"),
                         (acked, "alerts_acknowledged"), (resolved, "alerts_resolved")):
        if group:
            shown_now.append(html.Details(key=label, className="alert-fold", children=[
                html.Summary(text(lang, label, n=len(group))),
                html.Ul([_row(i, lang, with_actions, now_ms, alerts)
                         for i in group[:MAX_RESOLVED]], className="alerts feed")]))
    return shown_now


def alert_count(alerts: list[dict[str, Any]], lang: str) -> str:
    """'3 firing · 2 unacknowledged' (incidents; a resolved oversell nobody has seen counts among
    the unacknowledged)."""
    incidents = by_incident(alerts)
    return text(lang, "alerts_count", firing=sum(map(_firing_incident, incidents)),
                waiting=sum(map(_waiting, incidents)))


def _firing_incident(incident: list[dict[str, Any]]) -> bool:
    return any(map(_firing, incident))


def _waiting(incident: list[dict[str, Any]]) -> bool:
    """Someone must still acknowledge it: an alert of it fires, or resolved an oversell, and
    nobody has (ingest/detect/alerts.py)."""
    return any(awaits_acknowledgement(a.get("kind"), a.get("state"), a.get("acknowledged_ms"))
               for a in incident)


def feed_digest(alerts: list[dict[str, Any]], now_ms: int) -> str:
    """What the feed shows of the alerts, hashed: the feed is redrawn only when it changes (an
    acknowledgement's "N min ago" included: at most once a minute)."""
    shown_now = [{**{k: a.get(k) for k in SHOWN_FIELDS}, "ago": _minutes_ago(a, now_ms)}
                 for a in alerts]
    encoded = json.dumps(shown_now, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]


def _firing(alert: dict[str, Any]) -> bool:
    return alert.get("state") == "firing"


def _row(incident: list[dict[str, Any]], lang: str, with_actions: bool, now_ms: int,
         alerts: list[dict[str, Any]]) -> html.Li:
    """One incident: its cause's line (what, where, since when, the message, and the
    acknowledgement: a button until someone has pressed it), the alerts it explains beneath.
    Keyed by the cause, so a redraw keeps each row where it is."""
    alert, evidence = incident[0], incident[1:]
    acked = acknowledged_ago(alert, lang, now_ms) if not _waiting(incident) else ""
    if acked:
        action: Any = html.Span(acked, className="acked")
    elif with_actions and _waiting(incident) and alert.get("key"):
        action = html.Button(text(lang, "acknowledge"), n_clicks=0, className="ack",
                             id={"type": Ids.ACK_BUTTON, "key": alert["key"]})
    else:
        action = None
    return html.Li(
        key=str(alert.get("key") or ""),
        className=f"alert {alert.get('severity', '')} {alert.get('state', '')}",
        children=[html.Div(className="alert-head", children=[
                      html.B(shown(alert_headline(alert, lang))),
                      html.Span(shown(where_unsaid(alert, lang)),
                                className="alert-where"),
                      html.Span(_when(alert, lang), className="alert-when"), action]),
                  html.Div(shown(alert_message(alert, lang, alerts)), className="alert-message"),
                  *([html.Ul([evidence_line(a, lang) for a in evidence], className="alert-evidence")]
                    if evidence else [])])


def evidence_line(alert: dict[str, Any], lang: str) -> html.Li:
    """An alert the incident's cause explains: '同时：全站订单骤降 · 每秒订单降至预期的 62%…'."""
    said = " · ".join(part for part in (alert_headline(alert, lang),
                                         where_unsaid(alert, lang),
                                         alert_message(alert, lang)) if part)
    return html.Li(shown(text(lang, "alert_evidence", said=said)),
                   className=f"evidence {alert.get('state', '')}")


def acknowledgement(alert: dict[str, Any], lang: str) -> str:
    """'acknowledged by mei 20:41:05 (wall clock)' (or '' while nobody has): an operator's press
    is stamped by the wall clock, not the night's (on a rehearsal hours apart), so it says so."""
    at, by = alert.get("acknowledged_ms"), alert.get("acknowledged_by")
    if not at:
        return ""
    said = text(lang, "acknowledged_by", who=shown(who_text(by, lang))) if by \
        else text(lang, "acknowledged")
    return f"{said} {clock(at)}{text(lang, 'wall_clock')}"


def acknowledged_ago(alert: dict[str, Any], lang: str, now_ms: int) -> str:
    """'acknowledged by mei · 3 min ago' (or '' while nobody has): by how long ago, not by the
    wall clock, which on /ops would be a second clock beside the night's."""
    minutes = _minutes_ago(alert, now_ms)
    if minutes is None:
        return ""
    ago = text(lang, "ago_now") if minutes < 1 else text(lang, "ago_min", n=minutes)
    by = alert.get("acknowledged_by")
    return text(lang, "acked_ago_by", ago=ago, who=shown(who_text(by, lang))) if by \
        else text(lang, "acked_ago", ago=ago)


def _minutes_ago(alert: dict[str, Any], now_ms: int) -> int | None:
    at = alert.get("acknowledged_ms")
    return max(0, (now_ms - int(at)) // 60_000) if at else None


def _when(alert: dict[str, Any], lang: str) -> str:
    if not alert.get("start_ms"):
        return ""
    since = f"{text(lang, 'since')} {clock(alert['start_ms'])}"
    when = f"{since} – {clock(alert['end_ms'])}" if alert.get("end_ms") else since
    return f"{when}{text(lang, 'wall_clock')}" if alert.get("kind") in WALL_CLOCK_KINDS else when
