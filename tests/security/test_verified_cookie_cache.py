"""The gate remembers the session cookies whose signature it checked (the JSON API's screens ask
every second). It kept them by the whole Cookie header, 20,000 of them: a visitor varying any
other cookie made a new entry each time (~140 MB a process at the cap). Now it keeps them by the
session cookie's value alone, bounded; and what it remembers never outlives the session: a
removed user's cookie is refused whatever else the header carries.

A real Gate on a real Flask server, signed in through its form; memory measured by tracemalloc."""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Iterator

import flask
import pytest
import redis

from common.settings import Settings
from dashboard.accounts import Accounts
from dashboard.gate import SESSION_COOKIE, Gate, VerifiedCookies
from tests.conftest import wait_for

PASSWORD = "ana-has-a-long-password"
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


@pytest.fixture()
def server(settings: Settings, redis_client: redis.Redis) -> Iterator[flask.Flask]:
    Accounts(settings.data_dir).add_user("ana", "analyst", PASSWORD)
    Accounts(settings.data_dir).add_user("ada", "admin", "ada-has-a-long-password")
    app = flask.Flask(__name__)
    Gate(settings, redis_client).install(app)
    yield app


def session_cookie(server: flask.Flask) -> str:
    browser = server.test_client()
    form = browser.get("/login", environ_base=LOCAL).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None, form
    answer = browser.post("/login", data={"name": "ana", "password": PASSWORD,
                                          "csrf_token": token[1]}, environ_base=LOCAL)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    cookie = browser.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    return cookie.value


def asking(cookie_header: str) -> dict[str, str]:
    return {"HTTP_COOKIE": cookie_header, "REMOTE_ADDR": "10.0.0.7"}


def test_other_cookies_do_not_grow_the_cache_and_a_removed_user_stays_refused(
        server: flask.Flask, settings: Settings) -> None:
    gate: Gate = server.extensions["gmv_gate"]
    value = session_cookie(server)
    padding = "x" * 3000
    assert gate.identify(asking(f"{SESSION_COOKIE}={value}")) is not None
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(2000):  # what a visitor varying another cookie sends
            who = gate.identify(asking(f"track={i}{padding}; {SESSION_COOKIE}={value}; z={i}"))
            assert who is not None and who.name == "ana"
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000, f"the gate kept {grown:,} bytes for one session cookie"
    Accounts(settings.data_dir).remove_user("ana")  # every process sees it within a second
    wait_for(lambda: all(gate.identify(asking(header)) is None for header in (
        f"{SESSION_COOKIE}={value}", f"track=1; {SESSION_COOKIE}={value}",
        f"{SESSION_COOKIE}={value}; track=2")), 5, "the removed ana's cookie still names her")


def test_the_cache_is_bounded_whatever_the_cookies() -> None:
    cache = VerifiedCookies(kept=100)
    for i in range(1000):
        cache.put(f"forged-{i}" + "y" * 4000, None)
        assert len(cache) <= 100
    cache.put("the-real-one", "s1")
    known = cache.get("the-real-one")
    assert known is not None and known.session_id == "s1"
