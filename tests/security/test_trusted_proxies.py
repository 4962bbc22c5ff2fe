"""Issue #23, finding A of the second audit: behind the documented TLS proxy every browser
reached the dashboard from the proxy's address, so one guesser closed sign-in to every new
browser. A proxy listed in GMV_TRUSTED_PROXIES names the client (X-Forwarded-For, its rightmost
address that is not a listed proxy); that header from anyone else is not believed, for the
sign-in counts as for the audit's source address.

The gate as `create_app` installs it, with a real Redis and small limits
(tests/security/test_sign_in_throttling.py)."""

from __future__ import annotations

import logging
import re

import flask
import pytest
import redis

from common.redis_server import EmbeddedRedis
from common.settings import load_settings
from dashboard.accounts import Accounts
from tests.security.test_sign_in_throttling import (
    ADA_PASSWORD,
    ADDRESS,
    PROXY,
    client,
    data_dir,
    now_ms,
    sign_in,
    war_room,
)

ELSEWHERE = "10.2.0.1"  # a peer that is not a listed proxy


@pytest.fixture(scope="module")
def app(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> flask.Flask:
    data = tmp_path_factory.mktemp("proxied") / "data"
    Accounts(data).add_user("ada", "analyst", ADA_PASSWORD)
    return war_room(redis_server.url, data, trusted_proxies=f"{PROXY}, 10.1.0.0/24")


@pytest.fixture(autouse=True)
def counters_empty(redis_client: redis.Redis) -> None:
    """Each test starts with no sign-in counted (the `redis_client` fixture empties Redis)."""


def spray(app: flask.Flask, address: str, forwarded_for: str | None, tries: int) -> list[int]:
    """Wrong passwords at as many names, from one browser."""
    guesser = client(app)
    return [sign_in(guesser, f"name{i}", "Winter2026!", address, forwarded_for=forwarded_for)
            .status_code for i in range(tries)]


def test_two_browsers_behind_a_trusted_proxy_are_counted_apart(
        app: flask.Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gmv.throttle")
    # The guesser's own header comes first; the proxy appends whom it heard from.
    assert spray(app, PROXY, "10.0.0.1, 198.51.100.7", ADDRESS + 2) == \
        [401] * ADDRESS + [429] * 2
    assert re.search(r"event=sign_in_throttled name=name\d source=198\.51\.100\.7 "
                     r"counter=address", caplog.text), caplog.text
    # A new browser behind the same proxy, and one behind two listed proxies, sign in at once.
    assert sign_in(client(app), "ada", ADA_PASSWORD, PROXY,
                   forwarded_for="198.51.100.8").status_code == 302
    assert sign_in(client(app), "ada", ADA_PASSWORD, PROXY,
                   forwarded_for="198.51.100.9, 10.1.0.5").status_code == 302
    # The guesser is still refused whatever it writes before the proxy's entry.
    assert spray(app, PROXY, "198.51.100.10, 198.51.100.7", 1) == [429]


def test_a_forged_x_forwarded_for_buys_no_fresh_count_unless_a_listed_proxy_sent_it(
        app: flask.Flask) -> None:
    def sprayed(address: str) -> list[int]:
        """A new name and a new claimed address for each guess, from one browser."""
        guesser = client(app)
        return [sign_in(guesser, f"name{i}", "Winter2026!", address,
                        forwarded_for=f"198.51.100.{20 + i}").status_code
                for i in range(ADDRESS + 2)]

    assert sprayed(ELSEWHERE) == [401] * ADDRESS + [429] * 2  # all counted as ELSEWHERE
    assert sprayed(PROXY) == [401] * (ADDRESS + 2)  # each the client the proxy names


def test_the_audit_names_the_client_only_when_a_listed_proxy_forwards_it(
        app: flask.Flask, caplog: pytest.LogCaptureFixture) -> None:
    started = now_ms()
    caplog.set_level(logging.INFO, logger="gmv.gate")
    sign_in(client(app), "ada", "wrong-password-1", PROXY, forwarded_for="198.51.100.30")
    sign_in(client(app), "ada", "wrong-password-2", ELSEWHERE, forwarded_for="198.51.100.31")
    sign_in(client(app), "ada", "wrong-password-3", PROXY, forwarded_for="not an address")
    assert sign_in(client(app), "ada", ADA_PASSWORD, PROXY,
                   forwarded_for="2001:db8::1").status_code == 302
    audit = [(e["action"], e["source"]) for e in Accounts(data_dir(app)).audit(since_ms=started)]
    assert sorted(audit) == sorted([("sign_in_failed", "198.51.100.30"),
                                    ("sign_in_failed", ELSEWHERE),
                                    ("sign_in_failed", PROXY),
                                    ("sign_in", "2001:db8::1")])
    assert "event=signed_in user=ada role=analyst source=2001:db8::1" in caplog.text


@pytest.mark.parametrize("value", ["10.0.0.1, proxy.example", "10.0.0.0/33", "10.0.0.1;"])
def test_a_trusted_proxy_that_is_no_address_is_one_line_naming_it(value: str) -> None:
    with pytest.raises(ValueError) as refused:
        load_settings(env={"GMV_TRUSTED_PROXIES": value})
    assert str(refused.value).startswith("GMV_TRUSTED_PROXIES: '")
    assert "\n" not in str(refused.value)
