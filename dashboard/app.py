"""The Dash app of the war room with its JSON API in front: `create_app(settings).server` is what
gunicorn serves (`gmv serve`, or `gunicorn dashboard.wsgi:server`)."""

from __future__ import annotations

from pathlib import Path

import dash
from dash import html

from common.settings import Settings
from dashboard.api import Api
from dashboard.callback_body import CallbackBodyCheck
from dashboard.data.live import DataSource
from dashboard.data.rollups import warm_in_background
from dashboard.gate import Gate
from dashboard.nav import sign_in_banner
from dashboard.perimeter import Perimeter, parse_allowed_hosts
from dashboard.security_headers import security_headers

MAX_REQUEST_BYTES = 1024 * 1024  # a callback's or a form's body; a larger one is a 413


def create_app(settings: Settings) -> dash.Dash:
    """One app per process: the pages register their callbacks with Dash's global registry."""
    app = dash.Dash(
        __name__, use_pages=True, pages_folder="", assets_folder=str(Path(__file__).parent / "assets"),
        serve_locally=True, update_title="", suppress_callback_exceptions=True,
        title="GMV 11.11")
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    source = DataSource.connect(settings)
    app.server.extensions["gmv"] = source
    gate = Gate(settings, source.client)
    gate.install(app.server)
    # After the gate (who asks comes first); Dash fills its callback map as the app starts.
    app.server.before_request(CallbackBodyCheck(app.callback_map))
    from dashboard.pages import big_screen, guess, ops, review  # noqa: F401  (register the pages)

    # A function: the sign-in banner knows who the page is for (a kiosk wall, or not).
    app.layout = lambda: html.Div([sign_in_banner(), dash.page_container])
    # Dash sets itself up on its first request, and a second request arriving meanwhile (gunicorn
    # threads, a browser fetching its scripts) finds the script registry empty and fails
    # (plotly/dash#3971). One request before serving any closes that gap.
    app.server.test_client().get("/", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    api = app.server.extensions["gmv_api"] = Api(app.server.wsgi_app, source, gate)
    app.server.wsgi_app = Perimeter(
        api, gate.accounts,
        parse_allowed_hosts(settings.allowed_hosts), security_headers(app.csp_hashes()))
    last_year = source.last_year()
    warm_in_background(source.history().rollups, *([last_year.rollups] if last_year else []))
    return app
