"""The envelope of a Dash callback request (`POST /_dash-update-component`), checked before Dash
reads it: Dash's own code answers a malformed one with a 500. A body that is not the shape the
renderer sends, or a page route (Dash's router: the address bar's path and query) that is not
text, is a clear 400; the values inside are each callback's to check (dashboard/params.py)."""

from __future__ import annotations

from typing import Any

import flask

CALLBACK_PATH = "/_dash-update-component"
ROUTER_OUTPUT = "_pages_content.children"
MAX_ROUTE_CHARS = 2_000


def check_callback_body() -> flask.Response | None:
    request = flask.request
    if request.path != CALLBACK_PATH or request.method != "POST":
        return None
    problem = envelope_problem(request.get_json(silent=True))
    if problem is None:
        return None
    return flask.Response(f"bad callback request: {problem}\n", 400, mimetype="text/plain")


def envelope_problem(body: Any) -> str | None:
    """What is wrong with a callback request's body, or None."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if not isinstance(body.get("output"), str):
        return "'output' is not text"
    if not isinstance(body.get("outputs", {}), dict | list):
        return "'outputs' is not a list"
    for part in ("inputs", "state"):
        items = body.get(part, [])
        if not isinstance(items, list) or not all(_is_item(i) for i in items):
            return f"'{part}' is not a list of {{id, property, value}}"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "'changedPropIds' is not a list of text"
    if ROUTER_OUTPUT in body["output"] and not all(
            isinstance(i, dict) and (i.get("value") is None or isinstance(i["value"], str)
                                     and len(i["value"]) <= MAX_ROUTE_CHARS)
            for i in body.get("inputs", [])):
        return "a page's path and query are text"
    return None


def _is_item(item: Any) -> bool:
    """One input or state: {id, property, value}, or a list of them (a pattern's matches)."""
    if isinstance(item, list):
        return all(isinstance(i, dict) and _is_item(i) for i in item)
    return isinstance(item, dict) and isinstance(item.get("id"), str | dict) and \
        isinstance(item.get("property"), str)
