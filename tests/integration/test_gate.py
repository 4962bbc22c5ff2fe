"""The gate in front of every request, through the app's own WSGI stack (Flask's test client):
every callback needs a permission, the page router refuses a layout to the wrong role, request
parameters are checked in one place, and without users only this machine is answered."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import dash
import pytest
from flask.testing import FlaskClient

from common.redis_server import EmbeddedRedis
from common.settings import load_settings
from dashboard.accounts import Accounts
from dashboard.app import create_app
from dashboard.local_key import browser_pass, cookie_name, local_key
from dashboard.roles import Identity

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


@pytest.fixture(scope="module")
def app(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dash.Dash]:
    data = tmp_path_factory.mktemp("gate") / "data"
    yield create_app(load_settings(env={}, redis_url=redis_server.url, data_dir=data))


def client(app: dash.Dash) -> FlaskClient:
    """A browser of this machine that opened the local link (it holds the local key's cookie)."""
    browser = app.server.test_client()
    key = local_key(data_dir(app))
    browser.set_cookie(cookie_name(key), browser_pass(key))
    return browser


def data_dir(app: dash.Dash) -> Path:
    return Path(app.server.extensions["gmv"].settings.data_dir)


def signed_in(app: dash.Dash, name: str, role: str) -> tuple[FlaskClient, str]:
    """A client signed in through the form, and the CSRF token its callbacks send."""
    accounts = Accounts(data_dir(app))
    if name not in {u["name"] for u in accounts.users()}:
        accounts.add_user(name, role, f"{name}-long-password")
    browser = client(app)
    form = browser.get("/login", environ_base=LOCAL).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]  # type: ignore[index]
    answer = browser.post("/login", data={"name": name, "password": f"{name}-long-password",
                                          "csrf_token": token}, environ_base=LOCAL)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    page = browser.get("/", environ_base=LOCAL)
    cookie = next(c for c in page.headers.getlist("Set-Cookie") if c.startswith("_csrf_token="))
    return browser, cookie.split("=", 1)[1].split(";", 1)[0]


def test_every_server_callback_needs_a_permission(app: dash.Dash) -> None:
    """A callback without `requires` would answer anyone who can reach Dash's endpoint."""
    unguarded = [output for output, entry in app.callback_map.items()
                 if "callback" in entry and "_pages_" not in output
                 and not getattr(entry["callback"], "requires", None)]
    assert not unguarded
    assert len(app.callback_map) > 10


def test_without_users_only_this_machine_is_answered(app: dash.Dash) -> None:
    assert not Accounts(data_dir(app)).has_users()
    assert client(app).get("/", environ_base=LOCAL).status_code == 200
    for path in ("/", "/ops", "/api/live", "/_dash-layout"):
        answer = client(app).get(path, environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert answer.status_code == 403, path
        assert "no users" in answer.get_data(as_text=True), path  # a page, or one line
    bare = app.server.test_client()  # this machine, but without the local link's cookie
    assert bare.get("/api/live", environ_base=LOCAL).status_code == 403


@pytest.mark.parametrize("path, says", [
    ("/?lang=fr", "lang: 'fr' is not one of zh, en"),
    ("/ops?lang=" + "x" * 300, "longer than 200 characters"),
    ("/api/night-figures?lang=de", "lang: 'de' is not one of zh, en"),
    ("/api/live?lang=klingon", "lang: 'klingon' is not one of zh, en"),
])
def test_a_bad_parameter_is_a_clear_400(app: dash.Dash, path: str, says: str) -> None:
    answer = client(app).get(path, environ_base=LOCAL)
    assert answer.status_code == 400 and says in answer.get_data(as_text=True)


def test_the_api_answers_only_get_and_its_own_paths(app: dash.Dash) -> None:
    assert client(app).post("/api/live", environ_base=LOCAL).status_code == 405
    assert client(app).get("/api/everything", environ_base=LOCAL).status_code == 404


def test_the_page_router_refuses_a_layout_to_the_wrong_role(app: dash.Dash) -> None:
    """Dash draws a page by a callback: a viewer asking it for /ops gets the refusal."""
    viewer, token = signed_in(app, "vera", "viewer")
    body = {"output": "_pages_content.children", "inputs": [
        {"id": "_pages_location", "property": "pathname", "value": "/ops"},
        {"id": "_pages_location", "property": "search", "value": "?lang=en"}],
        "changedPropIds": ["_pages_location.pathname"], "state": []}
    routed = next((o for o in app.callback_map if "_pages_content.children" in o), None)
    assert routed is not None
    body["output"] = routed
    body["outputs"] = [{"id": part.split(".")[0], "property": part.split(".")[1]}
                       for part in routed.strip(".").split("...")]
    answer = viewer.post("/_dash-update-component", json=body, environ_base=LOCAL,
                         headers={"X-CSRFToken": token})
    assert answer.status_code == 200
    text = json.dumps(answer.get_json(), ensure_ascii=False)
    assert "This page is not open to your role" in text and "Pipeline" not in text
    # ...and an operator gets the page.
    operator, token = signed_in(app, "otto", "operator")
    answer = operator.post("/_dash-update-component", json=body, environ_base=LOCAL,
                           headers={"X-CSRFToken": token})
    assert "Pipeline" in json.dumps(answer.get_json(), ensure_ascii=False)


def test_a_session_older_than_its_kind_may_be_signs_in_again(app: dash.Dash) -> None:
    """A person's session lasts 12 hours, a kiosk link's 7 days; the pages and the JSON API
    (which reads the cookie itself) agree."""
    accounts = Accounts(data_dir(app))
    if "otto" not in {u["name"] for u in accounts.users()}:
        accounts.add_user("otto", "operator", "otto-long-password")
    link, _ = accounts.add_kiosk_link("wall")
    serializer = app.server.session_interface.get_signing_serializer(app.server)  # type: ignore[attr-defined]
    now_ms = int(time.time() * 1000)
    otto = accounts.directory(fresh=True).users["otto"]

    def browser(who: Identity) -> FlaskClient:
        with_cookie = client(app)
        with_cookie.set_cookie("gmv_session", serializer.dumps({"_user_id": who.session_id}))
        return with_cookie

    def person(age_h: float) -> Identity:
        return accounts.start_session(otto, started_ms=now_ms - int(age_h * 3_600_000))

    def wall(age_h: float) -> Identity:
        return accounts.start_kiosk_session(link, started_ms=now_ms - int(age_h * 3_600_000))

    away = {"REMOTE_ADDR": "10.0.0.9"}
    for who, fresh in ((person(11), True), (person(13), False),
                       (wall(24 * 6), True), (wall(24 * 8), False)):
        live = browser(who).get("/api/live", environ_base=away)
        page = browser(who).get("/", environ_base=away)
        assert (live.status_code != 401) == fresh, (who, live.status_code)
        assert (page.status_code == 200) == fresh, (who, page.status_code)


def test_a_wall_opening_its_link_a_moment_after_the_first_user_was_added_is_let_in(
        redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    """The server process last read the access file when it had no users (under a second ago):
    a kiosk link made since opens the wall's session, not the page that says there are no users
    (seen as a flaky browser test: `gmv user add`, `gmv kiosk-link`, open the link)."""
    data = tmp_path / "data"
    fresh_app = create_app(load_settings(env={}, redis_url=redis_server.url, data_dir=data))
    assert client(fresh_app).get("/", environ_base=LOCAL).status_code == 200  # no users, read
    elsewhere = Accounts(data)  # `gmv user add` and `gmv kiosk-link`, another process
    elsewhere.add_user("ada", "admin", "ada-long-password")
    _, token = elsewhere.add_kiosk_link("lobby wall")
    wall = fresh_app.server.test_client()
    answer = wall.get(f"/kiosk/{token}?lang=zh", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    assert answer.headers["Location"] == "/?lang=zh"
