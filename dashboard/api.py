"""The JSON API (`/api/live`, `/api/night-figures`, `/api/summary`, `/api/alerts`) as plain
WSGI in front of the Dash app: every screen fetches the first two each few seconds, and Flask's
and Dash's per-request hooks would cost more than the Redis read that answers them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from common.demo_record import CONTINUED, LastRun
from dashboard.components import night_payload
from dashboard.data.live import DataSource, snapshot_age_ms
from dashboard.gate import Gate
from dashboard.params import BadParameter, check_query, language
from dashboard.roles import Can, Identity

Route = Callable[[dict[str, Any]], tuple[str, bytes, dict[str, str]]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CONTINUED_NOTICE_MS = 300_000  # how long the screens say the night was continued
STREAM_PATH = "/api/stream"
PUSH_ENVIRON = "gmv.push"  # set by the push server (dashboard/push.py) on a stream's request
_NO_SNAPSHOT = {"error": "no live snapshot yet: is `gmv ingest` running against this Redis?"}


class Api:
    """Answers /api/*, to those whose role may read it (the gate says who is asking); hands every
    other request to the Dash app."""

    def __init__(self, app: WsgiApp, source: DataSource, gate: Gate) -> None:
        self.app, self.source, self.gate = app, source, gate
        self.last_run = LastRun(source.settings.data_dir)
        self.routes: dict[str, tuple[Can, Route]] = {
            "/api/live": (Can.BIG_SCREEN, self.live),
            "/api/night-figures": (Can.BIG_SCREEN, self.night_figures),
            STREAM_PATH: (Can.BIG_SCREEN, self.stream),
            "/api/summary": (Can.SUMMARY, self.summary), "/api/alerts": (Can.ALERTS, self.alerts)}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        found = self.routes.get(path)
        if found is None:
            if path.startswith("/api/"):
                return _answer(start_response, "404 Not Found", {"error": f"no such API: {path}"})
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _answer(start_response, "405 Method Not Allowed", {"error": "GET only"},
                           {"Allow": "GET, HEAD"})
        needed, route = found
        try:
            check_query(_query(environ))
        except BadParameter as err:
            return _answer(start_response, "400 Bad Request", {"error": str(err)})
        who = self.gate.identify(environ)
        if (refusal := self.gate.refusal(environ, who)) is not None:
            return _answer(start_response, refusal[0], {"error": refusal[1]})
        assert who is not None
        if not who.can(needed):
            return _answer(start_response, "403 Forbidden",
                           {"error": f"{path} is not open to the role {who.role}"})
        environ["gmv.identity"] = who
        status, body, headers = route(environ)
        start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                                ("Content-Length", str(len(body))), *headers.items()])
        return [body]

    def live(self, environ: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        """The snapshot the page draws from, byte for byte as the worker published it."""
        raw = self.source.raw_live()
        if raw is None:
            return "503 Service Unavailable", json.dumps(_NO_SNAPSHOT).encode(), {}
        now_ms = int(time.time() * 1000)
        headers = {"X-Snapshot-Age-Ms": str(snapshot_age_ms(raw, now_ms))}
        if (notice := self.continued(now_ms)) is not None:
            headers["X-Night-Continued"] = notice
        return "200 OK", raw, headers

    def continued(self, now_ms: int) -> str | None:
        """The demo continued a night it had stopped: the screens say so for a while (a jump in
        time, or a quiet gap, is then no mystery): "from_s=750;age_ms=1234". Ages, not times:
        the browser's clock may differ from this machine's."""
        run = self.last_run()
        if run is not None and run["mode"] == CONTINUED and \
                0 <= now_ms - run["wall_ms"] < CONTINUED_NOTICE_MS:
            return f"from_s={run['from_s']};age_ms={now_ms - run['wall_ms']}"
        return None

    def stream(self, environ: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        """The push's stream, once the push server has asked whether this request may open it
        (the checks above: host, identity, role). Another server (gunicorn's gthread workers,
        `gunicorn dashboard.wsgi:server`) has no push: the page polls /api/live and says so."""
        if not environ.get(PUSH_ENVIRON):
            return "501 Not Implemented", json.dumps(
                {"error": "this server does not push (`gmv serve` does): poll /api/live"}).encode(), {}
        return "200 OK", b'{"push":"accepted"}', {}

    def night_figures(self, environ: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        """The night's charts as the page draws them, encoded once per update and language."""
        lang = language(_query(environ).get("lang"))
        return "200 OK", night_payload(self.source, lang), {}

    def summary(self, environ: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        """The contract's totals, from the store (or its history files while the worker runs):
        a file scan, so rate-limited per person."""
        who: Identity = environ["gmv.identity"]
        limit = self.source.settings.summary_rate_per_min
        # Per person; the local war room without users (this machine only: its own scripts and
        # checks poll it) is not limited.
        if who.kind != "local" and \
                (wait := self.gate.limits.spend("summary", who.name, limit)) is not None:
            return "429 Too Many Requests", json.dumps(
                {"error": f"at most {limit} requests a minute: try again in {wait} s"}).encode(), \
                {"Retry-After": str(wait)}
        try:
            totals = self.source.summary()
        except FileNotFoundError as err:
            return "404 Not Found", json.dumps({"error": str(err)}).encode(), {}
        return "200 OK", json.dumps(totals, ensure_ascii=False).encode(), {}

    def alerts(self, environ: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        """The night's alerts as `gmv alerts --json` prints them (the contract's keys)."""
        return "200 OK", json.dumps(self.source.stored_alerts(), ensure_ascii=False).encode(), {}


def _query(environ: dict[str, Any]) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _answer(start_response: Callable[..., Any], status: str, document: dict[str, Any],
            headers: dict[str, str] | None = None) -> list[bytes]:
    body = json.dumps(document, ensure_ascii=False).encode()
    start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
                            ("Content-Length", str(len(body))), *(headers or {}).items()])
    return [body]
