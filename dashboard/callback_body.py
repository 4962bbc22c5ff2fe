"""The envelope of a Dash callback request (`POST /_dash-update-component`), checked before Dash
reads it: Dash's own code answers a malformed one with a 500 and a traceback in the log. A body
that is not the shape the renderer sends (nested deeper than any the pages send, naming an output
no callback of the app has), or a page route (Dash's router: the address bar's path and query)
that is not text, is a 400 with a one-line reason and one log line; the values inside are each
callback's to check (dashboard/params.py)."""

from __future__ import annotations

import logging
from collections.abc import Container
from typing import Any

import flask

from common.logs import log_line

log = logging.getLogger("gmv.dashboard")
CALLBACK_PATH = "/_dash-update-component"
ROUTER_OUTPUT = "_pages_content.children"
MAX_ROUTE_CHARS = 2_000
# Deeper than anything the renderer sends (a figure's selection is ~6 levels), far below
# Python's recursion limit (a 1,000-deep body made the JSON parser raise RecursionError).
MAX_DEPTH = 64


class CallbackBodyCheck:
    """A Flask before-request hook: refuses a malformed callback request before Dash reads it.
    `outputs`: the app's callbacks by output (Dash's `callback_map`, filled as the app starts)."""

    def __init__(self, outputs: Container[str]) -> None:
        self.outputs = outputs

    def __call__(self) -> flask.Response | None:
        request = flask.request
        if request.path != CALLBACK_PATH or request.method != "POST":
            return None
        problem: str | None
        try:
            problem = envelope_problem(request.get_json(silent=True), self.outputs)
        except RecursionError:  # not a ValueError: `silent` lets it through
            problem = f"the body nests deeper than {MAX_DEPTH} levels"
        if problem is None:
            return None
        log_line(log, logging.WARNING, "callback_refused", reason=problem,
                 source=request.remote_addr)
        return flask.Response(f"bad callback request: {problem}\n", 400, mimetype="text/plain")


def envelope_problem(body: Any, outputs: Container[str]) -> str | None:
    """What is wrong with a callback request's body, or None."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if _deeper_than(body, MAX_DEPTH):
        return f"the body nests deeper than {MAX_DEPTH} levels"
    if not isinstance(body.get("output"), str):
        return "'output' is not text"
    if body["output"] not in outputs:
        return "no callback of this app has that output"
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


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest in `value` more than `limit` levels (without recursion)."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [child for v in level for child in (
            v.values() if isinstance(v, dict) else v if isinstance(v, list) else ())]
        if not level:
            return False
    return any(isinstance(v, dict | list) for v in level)


def _is_item(item: Any) -> bool:
    """One input or state: {id, property, value}, or a list of them (a pattern's matches)."""
    if isinstance(item, list):
        return all(isinstance(i, dict) and _is_item(i) for i in item)
    return isinstance(item, dict) and isinstance(item.get("id"), str | dict) and \
        isinstance(item.get("property"), str)
