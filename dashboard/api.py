"""The JSON API (`/api/live`, `/api/night-figures`, `/api/summary`, `/api/alerts`) as plain
WSGI in front of the Dash app: every screen fetches the first two each few seconds, and Flask's
and Dash's per-request hooks would cost more than the Redis read that answers them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from dashboard.components import night_payload
from dashboard.data.live import DataSource, snapshot_age_ms
from dashboard.format import language

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_NO_SNAPSHOT = {"error": "no live snapshot yet: is `gmv ingest` running against this Redis?"}


class Api:
    """Answers /api/*; hands every other request to the Dash app."""

    def __init__(self, app: WsgiApp, source: DataSource) -> None:
        self.app, self.source = app, source
        self.routes: dict[str, Callable[[dict[str, Any]], tuple[str, bytes, dict[str, str]]]] = {
            "/api/live": self.live, "/api/night-figures": self.night_figures,
            "/api/summary": self.summary, "/api/alerts": self.alerts}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = self.routes.get(environ.get("PATH_INFO", ""))
        if route is None or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        status, body, headers = route(environ)
        start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                ("Content-Length", str(len(body))), *headers.items()])
        return [body]

    def live(self, environ: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        """The snapshot the page draws from, byte for byte as the worker published it."""
        raw = self.source.raw_live()
        if raw is None:
            return "503 Service Unavailable", json.dumps(_NO_SNAPSHOT).encode(), {}
        age_ms = snapshot_age_ms(raw, int(time.time() * 1000))
        return "200 OK", raw, {"X-Snapshot-Age-Ms": str(age_ms)}

    def night_figures(self, environ: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        """The night's charts as the page draws them, encoded once per update and language."""
        lang = language(parse_qs(environ.get("QUERY_STRING", "")).get("lang", [None])[0])
        return "200 OK", night_payload(self.source, lang), {}

    def summary(self, environ: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        """The contract's totals, from the store (or its history files while the worker runs)."""
        try:
            totals = self.source.summary()
        except FileNotFoundError as err:
            return "404 Not Found", json.dumps({"error": str(err)}).encode(), {}
        return "200 OK", json.dumps(totals, ensure_ascii=False).encode(), {}

    def alerts(self, environ: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        """The night's alerts as `gmv alerts --json` prints them (the contract's keys)."""
        return "200 OK", json.dumps(self.source.stored_alerts(), ensure_ascii=False).encode(), {}
