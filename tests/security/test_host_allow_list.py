"""Issue #23, row 6: the war room without users trusts its own machine, and it used to decide that
by the source address alone. A page reached through a rebound DNS name (`Host:
rebind.attacker.example`, pointed at 127.0.0.1) and anyone behind a TLS proxy on the same
machine were served as admin (an orders export ran). Now every request's Host must be allowed
(GMV_ALLOWED_HOSTS with users; only the loopback names without users, whatever the setting
says), and a request that passed a proxy is never the machine's own. Against a real `gmv serve`
(two gunicorn workers): once without users, once with."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from dashboard.accounts import Accounts
from dashboard.perimeter import host_name, parse_allowed_hosts
from tests.e2e.conftest import CLI, Stack, running_stack

ALLOWED = "warroom.example.com, 10.0.0.5:8443"
PASSWORD = "ada-has-a-long-password"
PROXY_HEADERS = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "warroom.example.com",
                 "Forwarded": "for=203.0.113.9;proto=https", "X-Real-IP": "203.0.113.9"}
# What the local war room serves an admin: the pages, the totals and the orders export's door.
ADMIN_ONLY = ("/", "/ops", "/review", "/api/summary", "/api/alerts")


class Reply(NamedTuple):
    status: int
    body: str


@contextlib.contextmanager
def dashboard_only(home: Path, users: bool) -> Iterator[Stack]:
    """`gmv serve` on its own Redis, with GMV_ALLOWED_HOSTS set (and one user, or none)."""
    if users:
        Accounts(home / "data").add_user("ada", "admin", PASSWORD)
    with running_stack(home, env={"GMV_ALLOWED_HOSTS": ALLOWED}, worker=False) as stack:
        yield stack


@pytest.fixture(scope="module")
def no_users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with dashboard_only(tmp_path_factory.mktemp("no-users"), users=False) as stack:
        yield stack


@pytest.fixture(scope="module")
def with_users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with dashboard_only(tmp_path_factory.mktemp("with-users"), users=True) as stack:
        yield stack


def ask(stack: Stack, path: str, host: str | None = None,
        headers: dict[str, str] | None = None) -> Reply:
    """GET `path` from 127.0.0.1 (loopback), naming `host` (default: the URL's own), from the
    browser that opened the local link (without users: its cookie)."""
    port = int(stack.base_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
        if not stack.has_users():
            conn.putheader("Cookie", stack.local_cookie)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return Reply(response.status, response.read().decode())
    finally:
        conn.close()


@pytest.mark.parametrize("path", ADMIN_ONLY)
@pytest.mark.parametrize("host", ["rebind.attacker.example", "rebind.attacker.example:8050",
                                  "warroom.example.com", "10.0.0.5:8443"])
def test_a_rebound_name_gets_nothing_from_the_war_room_without_users(
        no_users: Stack, path: str, host: str) -> None:
    """DNS rebinding: the attacker's page, its name now pointing at 127.0.0.1, asks from this
    machine's browser. Without users even the configured names are refused: the war room then
    answers only its own machine."""
    reply = ask(no_users, path, host)
    assert reply.status == 400, reply
    assert "Host" in reply.body and len(reply.body.strip().splitlines()) == 1, reply


@pytest.mark.parametrize("path", ADMIN_ONLY)
@pytest.mark.parametrize("header", sorted(PROXY_HEADERS))
def test_a_proxy_on_the_same_machine_is_not_the_machine_itself(
        no_users: Stack, path: str, header: str) -> None:
    """A TLS proxy on this host connects from 127.0.0.1 for whoever reaches it: a request that
    carries a proxy's forwarding header is refused by the war room without users."""
    reply = ask(no_users, path, f"127.0.0.1:{no_users.base_url.rsplit(':', 1)[1]}",
                {header: PROXY_HEADERS[header]})
    assert reply.status == 403, reply
    assert "proxy" in reply.body, reply


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}",
                                  "LOCALHOST", "localhost."])
def test_the_machine_itself_still_opens_the_war_room_without_users(no_users: Stack,
                                                                  host: str) -> None:
    port = no_users.base_url.rsplit(":", 1)[1]
    assert ask(no_users, "/ops", host.format(port=port)).status == 200
    assert ask(no_users, "/api/alerts", host.format(port=port)).status == 200


@pytest.mark.parametrize("host", ["warroom.example.com", "WarRoom.Example.com:443",
                                  "10.0.0.5:8443", "10.0.0.5", "localhost:8050", "127.0.0.1"])
def test_with_users_the_listed_names_and_loopback_are_answered(with_users: Stack,
                                                               host: str) -> None:
    assert ask(with_users, "/login", host).status == 200
    assert ask(with_users, "/api/summary", host).status == 401  # answered: sign in first


@pytest.mark.parametrize("host", ["rebind.attacker.example", "warroom.example.com.evil.example",
                                  "10.0.0.6", "", "warroom.example.com:x", "a b", "[::1"])
def test_with_users_any_other_host_is_a_400(with_users: Stack, host: str) -> None:
    for path in ("/login", "/api/summary", "/_dash-layout", "/assets/style.css"):
        reply = ask(with_users, path, host)
        assert reply.status == 400, (path, reply)
        assert len(reply.body.strip().splitlines()) == 1, reply


def test_with_users_a_forwarded_request_is_not_signed_in_by_its_address(with_users: Stack) -> None:
    reply = ask(with_users, "/api/summary", headers={"X-Forwarded-For": "127.0.0.1"})
    assert reply.status == 401, reply


@pytest.mark.parametrize(("host", "name"), [
    ("LocalHost:8050", "localhost"), ("[::1]:8050", "[::1]"), ("[::1]", "[::1]"),
    ("warroom.example.com.", "warroom.example.com"), ("10.0.0.5:443", "10.0.0.5"),
    ("", None), ("a b", None), ("evil.example/x", None), ("[::1]x", None), ("host:", None),
    ("host:123456", None), ("::1", None), ("*", None), ("ex_ample.com", None)])
def test_a_host_header_is_read_by_its_name(host: str, name: str | None) -> None:
    assert host_name(host) == name


def test_a_mistyped_allowed_host_is_one_clear_error() -> None:
    assert parse_allowed_hosts(ALLOWED) == {"warroom.example.com", "10.0.0.5"}
    with pytest.raises(ValueError, match="'https://warroom.example.com' is not a host name"):
        parse_allowed_hosts("https://warroom.example.com")


def test_gmv_serve_refuses_a_mistyped_allowed_host_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "serve", "--data", str(tmp_path)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "GMV_ALLOWED_HOSTS": "https://x.example"})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "GMV_ALLOWED_HOSTS: 'https://x.example' is not a host name" in done.stderr


@pytest.mark.parametrize(("allowed", "noted"), [("", True), ("warroom.example.com", False)])
def test_a_kiosk_link_to_a_name_that_is_not_allowed_says_so(tmp_path: Path, allowed: str,
                                                            noted: bool) -> None:
    done = subprocess.run([*CLI, "kiosk-link", "--label", "wall", "--url",
                           "https://warroom.example.com", "--data", str(tmp_path)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GMV_ALLOWED_HOSTS": allowed})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("https://warroom.example.com/kiosk/")
    assert ("is not in GMV_ALLOWED_HOSTS" in done.stderr) == noted, done.stderr
