"""Issue #23 (an outside attack, HIGH): a war room without users trusted any request straight from
loopback, and a reverse proxy or TCP forwarder on the same machine that adds no forwarding header
(nginx's default `proxy_pass http://127.0.0.1:8050` sends `Host: 127.0.0.1:8050`; `socat
TCP-LISTEN:9000,fork TCP:127.0.0.1:8050` passes the remote browser's `Host: localhost`) made
anyone who reached it the war room's admin. Now the machine proves itself with its local key
(`DATA/local-key`, 0600): the link `gmv serve` prints sets a cookie, and without it a loopback
request gets a page saying which link to open, and no data. A real `gmv serve` without users.

The re-attack: the cookie held the key itself, and browsers send 127.0.0.1's cookies to every port,
so any other server on this machine learnt the key. Now the cookie holds a browser pass (an HMAC
under the key), which expires and which `gmv local-link --new` ends; the key as a cookie is
refused. And Via, X-Forwarded-Proto and the other proxy headers mark a request as proxied."""

from __future__ import annotations

import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect

from dashboard.ids import Ids
from dashboard.local_key import COOKIE_DAYS, COOKIE_PREFIX, KEY_FILE, browser_pass, cookie_name
from tests.e2e.conftest import CLI, Stack, running_stack
from tests.security.dash_calls import DashCalls
from tests.security.visitor import Visitor

NO_USERS = "This war room has no users yet"
# What a same-host forwarder delivers: a loopback address, a loopback Host, no forwarding header.
FORWARDED_HOSTS = ("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def war_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("local-key"), worker=False) as stack:
        yield stack


def port_of(stack: Stack) -> str:
    return stack.base_url.rsplit(":", 1)[1]


@pytest.mark.parametrize("host", FORWARDED_HOSTS)
def test_a_forwarded_request_without_the_key_gets_the_page_that_says_which_link_to_open(
        war_room: Stack, host: str) -> None:
    stranger = Visitor(war_room.base_url, local=False)
    for path in ("/", "/ops", "/review?lang=en"):
        answer = stranger.get_as(path, f"{host}:{port_of(war_room)}")
        assert answer.status == 403, (path, answer)
        assert NO_USERS in answer.body and "gmv local-link" in answer.body, answer.body
        assert "_dash-config" not in answer.body and "dash-renderer" not in answer.body
    for path in ("/api/live", "/api/summary", "/api/alerts", "/_dash-layout",
                 "/_dash-dependencies"):
        answer = stranger.get_as(path, f"{host}:{port_of(war_room)}")
        assert answer.status == 403, (path, answer)
        (line,) = answer.body.strip().splitlines()
        assert "no users are configured" in line and "gmv local-link" in line, line
        assert '"orders"' not in line


def test_an_export_and_a_callback_without_the_key_are_refused(war_room: Stack) -> None:
    """The renderer's requests, built from the real callbacks, with the CSRF token the refusal
    page hands out: a one-line 403, no file."""
    body = DashCalls(Visitor(war_room.base_url)).body(f"{Ids.DOWNLOAD}.data", {
        f"{Ids.EXPORT_ORDERS}.n_clicks": 1, f"{Ids.REVIEW_START}.value": "2026-11-11 00:00",
        f"{Ids.REVIEW_END}.value": "2026-11-11 01:00", f"{Ids.REVIEW_RESOLUTION}.value": "1s",
        f"{Ids.LANG}.data": "en"}, f"{Ids.EXPORT_ORDERS}.n_clicks")
    stranger = Visitor(war_room.base_url, local=False)
    assert stranger.get("/").status == 403
    answer = stranger.post_json("/_dash-update-component", body,
                                {"X-CSRFToken": stranger.cookie("_csrf_token")})
    assert answer.status == 403, answer
    (line,) = answer.body.strip().splitlines()
    assert "no users are configured" in line and "gmv local-link" in line, line


def test_the_link_sets_a_strict_http_only_cookie_drops_the_key_and_the_pages_work(
        war_room: Stack, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(war_room.local_link.replace("/?", "/?lang=en&"))
        expect(page).to_have_url(war_room.base_url + "/?lang=en")  # the key is not kept
        expect(page.locator(f"#{Ids.GMV_EXACT}")).to_be_attached()
        (cookie,) = [c for c in context.cookies() if c["name"].startswith(COOKIE_PREFIX)]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        assert war_room.local_key not in page.evaluate("document.cookie")
        assert page.goto(war_room.base_url + "/ops?lang=en").status == 200  # type: ignore[union-attr]
        expect(page.get_by_text(NO_USERS)).to_have_count(0)
        assert page.request.get(war_room.base_url + "/api/alerts").status == 200
    finally:
        context.close()


def test_a_wrong_key_is_refused_and_sets_nothing(war_room: Stack, browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        wrong = war_room.local_key[:-4] + ("aaaa" if not war_room.local_key.endswith("aaaa")
                                           else "bbbb")
        assert page.goto(f"{war_room.base_url}/?key={wrong}").status == 403  # type: ignore[union-attr]
        expect(page.locator("#no-users")).to_contain_text("This key is not this war room's")
        assert not [c for c in context.cookies() if c["name"].startswith(COOKIE_PREFIX)]
        assert page.request.get(war_room.base_url + "/api/live").status == 403
    finally:
        context.close()


def test_the_key_or_its_cookie_through_a_proxy_is_refused(war_room: Stack) -> None:
    """Both are needed: the key, and a request straight from this machine."""
    proxy = {"X-Forwarded-For": "203.0.113.9"}
    stranger = Visitor(war_room.base_url, local=False)
    answer = stranger.get_as(f"/?key={war_room.local_key}", f"127.0.0.1:{port_of(war_room)}", proxy)
    assert answer.status == 403 and "not through a proxy" in answer.body, answer
    let_in = Visitor(war_room.base_url)
    assert let_in.get("/api/alerts").status == 200
    assert let_in.get_as("/api/alerts", f"127.0.0.1:{port_of(war_room)}", proxy).status == 403


def test_the_cookie_holds_a_pass_not_the_key_and_the_key_or_a_forged_pass_as_a_cookie_is_refused(
        war_room: Stack) -> None:
    key, name, host = war_room.local_key, cookie_name(war_room.local_key), \
        f"127.0.0.1:{port_of(war_room)}"
    issued = Visitor(war_room.base_url).cookie(name)
    assert issued and key not in issued, issued
    stranger = Visitor(war_room.base_url, local=False)
    assert stranger.get_as("/api/alerts", host, {"Cookie": f"{name}={issued}"}).status == 200
    tampered = issued[:-1] + ("0" if issued[-1] != "0" else "1")
    for forged in (key, f'"{key}"', browser_pass("not this war room's key"), tampered,
                   browser_pass(key, now_s=int(time.time()) - COOKIE_DAYS * 86400 - 60),
                   browser_pass(key, now_s=int(time.time()) + 86400), issued + ".", "1.2.3",
                   "%E2%80%AE" + issued, "\xff" + issued):
        answer = stranger.get_as("/api/alerts", host, {"Cookie": f"{name}={forged}"})
        assert answer.status == 403, (forged, answer)


@pytest.mark.parametrize("header", ["Via", "X-Forwarded-Proto", "X-Forwarded-Server",
                                    "X-Forwarded-Port", "True-Client-IP", "X-Client-IP"])
def test_any_proxy_header_makes_a_request_not_local(war_room: Stack, header: str) -> None:
    let_in = Visitor(war_room.base_url)
    host = f"127.0.0.1:{port_of(war_room)}"
    assert let_in.get_as("/api/alerts", host).status == 200
    assert let_in.get_as("/api/alerts", host, {header: "1.1 proxy.example"}).status == 403


def test_the_key_file_is_the_owners_alone_and_gmv_local_link_prints_a_link_that_works(
        war_room: Stack) -> None:
    path = war_room.settings.data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert war_room.local_link in (war_room.logs / "serve.log").read_text()  # what serve printed
    done = subprocess.run([*CLI, "local-link", "--url", war_room.base_url, "--data",
                           str(war_room.settings.data_dir)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link == war_room.local_link
    newcomer = Visitor(war_room.base_url, local=False)
    assert newcomer.get("/api/alerts").status == 403
    answer = newcomer.get(urlsplit(link).path + "?" + urlsplit(link).query)
    assert answer.status == 302 and answer.location == "/", answer
    assert newcomer.get("/api/alerts").status == 200


def test_gmv_local_link_without_a_key_is_one_clear_line(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "local-link", "--data", str(tmp_path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "no local key in" in done.stderr and "gmv serve" in done.stderr


def test_gmv_local_link_new_lets_every_browser_out_of_the_running_war_room(war_room: Stack) -> None:
    """Last in this module: it changes the war room's key (the fixture's links read it anew)."""
    before, old_link = Visitor(war_room.base_url), war_room.local_link
    assert before.get("/api/alerts").status == 200
    done = subprocess.run([*CLI, "local-link", "--new", "--url", war_room.base_url, "--data",
                           str(war_room.settings.data_dir)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    new_link = done.stdout.strip()
    assert new_link != old_link and new_link == war_room.local_link
    assert stat.S_IMODE((war_room.settings.data_dir / KEY_FILE).stat().st_mode) == 0o600
    assert before.get("/api/alerts").status == 403  # no restart needed
    assert Visitor(war_room.base_url, local=False).get(old_link[len(war_room.base_url):]).status \
        == 403
    after = Visitor(war_room.base_url)  # opens the new link
    assert after.get("/api/alerts").status == 200
