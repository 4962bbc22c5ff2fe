"""Issue #23, row 11: sign-in guesses are limited per address and per name, counted before the
password is checked, and the limits cannot lock a person out from elsewhere. The attacks: names
sprayed from one address (not limited), 24 parallel guesses at one name (12 to all 24 were
checked: the count was read, then the password checked, then counted), and a guesser behind the
same proxy as ada (every browser shares the proxy's address: ada was refused her own name).

The gate as `create_app` installs it, on a Flask server of its own (sign-in is all Flask, and a
process has one Dash app: a second one would take the page callbacks from tests/integration/
test_gate.py's), with a real Redis and small limits (argon2 takes ~50 ms a check), and once
behind `gmv serve`; a checked guess is one `sign_in_failed` in the audit."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from urllib.parse import urlencode

import flask
import pytest
import redis
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from werkzeug.test import TestResponse

from common.redis_server import (
    EmbeddedCluster,
    EmbeddedRedis,
    free_loopback_port,
    redis_server_major_version,
)
from common.settings import load_settings
from dashboard.accounts import Accounts
from dashboard.data.live import DataSource
from dashboard.gate import Gate
from tests.acl_redis import acl_redis_server
from tests.conftest import wait_for

PAIR, ADDRESS, NAME = 3, 4, 6  # failures a minute: a name at an address, an address, a name
LIMITS = {"GMV_SIGN_IN_RATE_PER_MIN": str(PAIR), "GMV_SIGN_IN_ADDRESS_RATE_PER_MIN": str(ADDRESS),
          "GMV_SIGN_IN_NAME_RATE_PER_MIN": str(NAME)}
PROXY = "10.0.0.1"
DEVICE_COOKIE = "gmv_device"  # the known-device cookie, as a browser sees it (from the outside)
ADA_PASSWORD = "ada-long-password"


def war_room(redis_url: str, data: Path, trusted_proxies: str = "") -> flask.Flask:
    settings = load_settings(env=LIMITS, redis_url=redis_url, data_dir=data,
                             trusted_proxies=trusted_proxies)
    server = flask.Flask("war_room")
    Gate(settings, DataSource.connect(settings).client).install(server)
    return server


@pytest.fixture(scope="module")
def app(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> flask.Flask:
    data = tmp_path_factory.mktemp("throttle") / "data"
    Accounts(data).add_user("ada", "analyst", ADA_PASSWORD)
    Accounts(data).add_user("mallory", "viewer", "mallory-long-password")
    return war_room(redis_server.url, data)


def client(app: flask.Flask) -> FlaskClient:
    return app.test_client()


def data_dir(app: flask.Flask) -> Path:
    return Path(app.extensions["gmv_gate"].settings.data_dir)


@pytest.fixture(autouse=True)
def counters_empty(redis_client: redis.Redis) -> None:
    """Each test starts with no sign-in counted (the `redis_client` fixture empties Redis)."""


def form(browser: FlaskClient, address: str) -> str:
    """The CSRF token of the sign-in form this browser was handed."""
    return token_in(browser.get("/login", environ_base={"REMOTE_ADDR": address}).get_data(
        as_text=True))


def token_in(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found[1]


def sign_in(browser: FlaskClient, name: str, password: str, address: str,
            token: str | None = None, forwarded_for: str | None = None) -> TestResponse:
    """A sign-in from `address`; with `forwarded_for`, its X-Forwarded-For header."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    return browser.post("/login", data={"name": name, "password": password,
                                        "csrf_token": token or form(browser, address)},
                        environ_base={"REMOTE_ADDR": address}, headers=headers)


def checked_guesses(data: Path, since_ms: int, name: str | None = None) -> list[dict]:
    """The guesses whose password was checked (and was wrong), from the audit."""
    return [e for e in Accounts(data).audit(since_ms=since_ms)
            if e["action"] == "sign_in_failed" and name in (None, e["who"])]


def now_ms() -> int:
    return int(time.time() * 1000)


class _StayOnTheAnswer(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def a_browser() -> urllib.request.OpenerDirector:
    """A client with its own cookies that does not follow redirects."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(), _StayOnTheAnswer())


def answer(browser: urllib.request.OpenerDirector, url: str,
           form: dict[str, str] | None = None) -> tuple[int, str]:
    """The status and page of a GET, or of a POST of `form`."""
    try:
        with browser.open(url, urlencode(form).encode() if form else None, timeout=60) as page:
            return page.status, page.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, ""
    except OSError:
        return 0, ""


def test_names_sprayed_from_one_address_are_refused_after_its_limit(
        app: flask.Flask, caplog: pytest.LogCaptureFixture) -> None:
    started = now_ms()
    caplog.set_level(logging.INFO, logger="gmv.throttle")
    names = ["ada", "bea", "cal", "dan", "eve", "fay", "gus"]
    answers = [sign_in(client(app), name, "Winter2026!", "10.9.0.1").status_code for name in names]
    assert answers == [401] * ADDRESS + [429] * (len(names) - ADDRESS)
    assert len(checked_guesses(data_dir(app), started)) == ADDRESS
    refused = sign_in(client(app), "hal", "Winter2026!", "10.9.0.1")
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "失败次数过多" in refused.get_data(as_text=True)
    assert re.search(r"event=sign_in_throttled name=hal source=10\.9\.0\.1 counter=address "
                     r"retry_after_s=\d+", caplog.text), caplog.text
    # Another address is not refused for it; the addresses of one IPv6 /64 are one.
    assert sign_in(client(app), "bea", "Winter2026!", "10.9.0.2").status_code == 401
    six = [sign_in(client(app), name, "Winter2026!", f"2001:db8:1:2::{i + 1}").status_code
           for i, name in enumerate(names)]
    assert six == [401] * ADDRESS + [429] * (len(names) - ADDRESS)


def test_parallel_guesses_at_one_name_are_checked_no_more_than_its_limit(app: flask.Flask) -> None:
    started, tries = now_ms(), 24
    browsers = [client(app) for _ in range(tries)]
    tokens = [form(browser, "10.8.0.1") for browser in browsers]
    all_ready = threading.Barrier(tries)

    def guess(i: int) -> int:
        all_ready.wait(timeout=30)
        return sign_in(browsers[i], "ada", f"guess-{i:04d}-long", "10.8.0.1", tokens[i]).status_code

    with ThreadPoolExecutor(tries) as pool:
        answers = sorted(pool.map(guess, range(tries)))
    assert len(checked_guesses(data_dir(app), started, "ada")) == PAIR
    assert answers == [401] * PAIR + [429] * (tries - PAIR)


def test_parallel_guesses_at_a_served_war_room_are_checked_no_more_than_its_limit(
        redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    """The same against `gmv serve`: two gunicorn processes of eight threads share the count."""
    data, port, tries = tmp_path / "data", free_loopback_port(), 24
    Accounts(data).add_user("ada", "analyst", ADA_PASSWORD)
    base = f"http://127.0.0.1:{port}"
    serve = subprocess.Popen(
        [sys.executable, "-m", "gmv.cli", "serve", "--port", str(port), "--redis", redis_server.url,
         "--data", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, **LIMITS, "GMV_WEB_WORKERS": "2", "GMV_WEB_THREADS": "8"})
    try:
        wait_for(lambda: answer(a_browser(), base + "/login")[0] == 200, 60, "the dashboard never served")
        browsers = [a_browser() for _ in range(tries)]
        tokens = [token_in(answer(browser, base + "/login")[1]) for browser in browsers]
        all_ready, started = threading.Barrier(tries), now_ms()

        def guess(i: int) -> int:
            all_ready.wait(timeout=30)
            return answer(browsers[i], base + "/login", {
                "name": "ada", "password": f"guess-{i:04d}-long", "csrf_token": tokens[i]})[0]

        with ThreadPoolExecutor(tries) as pool:
            answers = sorted(pool.map(guess, range(tries)))
        assert len(checked_guesses(data, started, "ada")) == PAIR
        assert answers == [401] * PAIR + [429] * (tries - PAIR)
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def test_a_guesser_behind_ada_s_proxy_never_refuses_her_known_browser(app: flask.Flask) -> None:
    """Behind a proxy every browser comes from its address: the guesser and ada share it."""
    ada = client(app)
    assert sign_in(ada, "ada", ADA_PASSWORD, PROXY).status_code == 302
    guesser = client(app)
    guesses = [sign_in(guesser, "ada", "Summer2026!", PROXY).status_code for _ in range(12)]
    assert guesses.count(401) == PAIR
    assert sign_in(ada, "ada", ADA_PASSWORD, PROXY).status_code == 302  # at once, as before
    # ...and when the guesser has filled the proxy's address, spraying.
    sprayed = [sign_in(guesser, name, "Summer2026!", PROXY).status_code for name in ("bea", "cal")]
    assert sprayed == [401, 429]
    assert sign_in(ada, "ada", ADA_PASSWORD, PROXY).status_code == 302
    # A browser that never signed in as ada waits its minute; a cookie naming someone else, or
    # not signed by this war room, is no pass.
    assert sign_in(client(app), "ada", ADA_PASSWORD, PROXY).status_code == 429
    mallory = client(app)
    forged = URLSafeTimedSerializer("not this war room's key", salt="gmv-known-device")
    mallory.set_cookie(DEVICE_COOKIE, forged.dumps({"name": "ada", "device": "x"}), path="/login")
    assert sign_in(mallory, "ada", "guess-after-forging", PROXY).status_code == 429
    mallory.delete_cookie(DEVICE_COOKIE, path="/login")
    assert sign_in(mallory, "mallory", "mallory-long-password", "10.7.0.1").status_code == 302
    assert sign_in(mallory, "ada", "guess-with-her-own", PROXY).status_code == 429


def test_guesses_from_many_addresses_close_ada_s_name_to_new_browsers_only(app: flask.Flask) -> None:
    started, ada = now_ms(), client(app)
    assert sign_in(ada, "ada", ADA_PASSWORD, "10.6.0.1").status_code == 302
    # One address alone cannot close her name: it is refused first.
    hammered = [sign_in(client(app), "ada", "Autumn2026!", "10.5.0.1").status_code for _ in range(8)]
    assert hammered.count(401) == PAIR
    assert sign_in(client(app), "ada", ADA_PASSWORD, "10.6.0.2").status_code == 302  # (given back)
    # Many addresses can, for the rest of the minute and for browsers that never signed in as her.
    for i in range(2, 6):
        for _ in range(PAIR):
            sign_in(client(app), "ada", "Autumn2026!", f"10.5.0.{i}")
    assert len(checked_guesses(data_dir(app), started, "ada")) == NAME
    assert sign_in(client(app), "ada", ADA_PASSWORD, "10.6.0.3").status_code == 429
    assert sign_in(ada, "ada", ADA_PASSWORD, "10.6.0.4").status_code == 302


def test_with_redis_away_sign_in_is_paused_rather_than_unlimited(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Accounts(data).add_user("ada", "analyst", ADA_PASSWORD)
    away = war_room(f"redis://127.0.0.1:{free_loopback_port()}/0", data)
    started = now_ms()
    answers = [sign_in(client(away), "ada", f"guess-{i}-long", "10.4.0.1") for i in range(PAIR + 2)]
    assert {a.status_code for a in answers} == {503}
    assert "暂时无法登录" in answers[0].get_data(as_text=True)
    assert checked_guesses(data, started) == []


@contextmanager
def least_privilege_user(home: Path) -> Iterator[str]:
    """A Redis with the ACL users of docs/redis-acl.conf (and the war room's functions, loaded
    by its ops user): the URL of its dashboard user."""
    if redis_server_major_version() < 7:
        pytest.skip("docs/redis-acl.conf uses Redis 7 key selectors (%R~, %W~)")
    with acl_redis_server(home) as acl:
        yield acl.url("dashboard")


@contextmanager
def three_node_cluster(home: Path) -> Iterator[str]:
    with EmbeddedCluster(home, nodes=3) as cluster:
        yield cluster.url


@pytest.mark.parametrize("redis_at", [least_privilege_user, three_node_cluster])
def test_guesses_are_counted_by_the_documented_acl_user_and_on_a_cluster(
        redis_at: Callable[[Path], AbstractContextManager[str]], tmp_path: Path) -> None:
    """One script counts an attempt in several counters: the dashboard's ACL user may run it,
    and on a cluster its keys share a slot (a refused script would pause every sign-in)."""
    data = tmp_path / "data"
    Accounts(data).add_user("ada", "analyst", ADA_PASSWORD)
    with redis_at(tmp_path / "redis") as url:
        app = war_room(url, data)
        ada = client(app)
        assert sign_in(ada, "ada", ADA_PASSWORD, "10.3.0.1").status_code == 302
        names = ["ada", "bea", "cal", "dan", "eve", "fay"]
        answers = [sign_in(client(app), name, "Spring2026!", "10.3.0.1").status_code
                   for name in names]
        assert answers == [401] * ADDRESS + [429] * (len(names) - ADDRESS)
        assert sign_in(ada, "ada", ADA_PASSWORD, "10.3.0.1").status_code == 302
