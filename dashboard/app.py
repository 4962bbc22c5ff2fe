"""The Dash app of the war room, and its JSON API: `create_app(settings).server` is what gunicorn
serves (`dashboard.wsgi:server`, or `gmv serve`)."""

from __future__ import annotations

import json
from pathlib import Path

import dash
import flask
from dash import html

from dashboard.data import DataSource
from gmv.settings import Settings


def create_app(settings: Settings) -> dash.Dash:
    """One app per process: the pages register their callbacks with Dash's global registry."""
    app = dash.Dash(
        __name__, use_pages=True, pages_folder="", assets_folder=str(Path(__file__).parent / "assets"),
        serve_locally=True, update_title="", suppress_callback_exceptions=True,
        title="GMV 11.11")
    app.server.extensions["gmv"] = DataSource.connect(settings)
    from dashboard.pages import big_screen, ops, review  # noqa: F401  (register the pages)

    app.layout = html.Div(dash.page_container)
    _add_api(app.server)
    # Dash sets itself up on its first request, and a second request arriving meanwhile (gunicorn
    # threads, a browser fetching its scripts) finds the script registry empty and fails
    # (plotly/dash#3971). One request before serving any closes that gap.
    app.server.test_client().get("/")
    return app


def _add_api(server: flask.Flask) -> None:
    @server.get("/api/live")
    def api_live() -> flask.Response:
        """The snapshot the page draws from, as the worker published it."""
        raw = server.extensions["gmv"].raw_live()
        if raw is None:
            return flask.Response(json.dumps({"error": "no live snapshot yet: is `gmv ingest` "
                                                       "running against this Redis?"}),
                                  status=503, mimetype="application/json")
        return flask.Response(raw, mimetype="application/json",
                              headers={"Cache-Control": "no-store"})

    @server.get("/api/summary")
    def api_summary() -> flask.Response:
        """The contract's totals, from the store (or its history files while the worker runs)."""
        try:
            totals = server.extensions["gmv"].summary()
        except FileNotFoundError as err:
            return flask.Response(json.dumps({"error": str(err)}), status=404,
                                  mimetype="application/json")
        return flask.Response(json.dumps(totals, ensure_ascii=False), mimetype="application/json",
                              headers={"Cache-Control": "no-store"})
