"""Issue #23, row 2: a copy of the session cookie, taken before its person signed out, is worth
nothing after: signing out ends the session in the access file (the cookie carries only a random
id of it), for every dashboard process. Before, the cookie named `u:name:epoch` and signing out
only emptied the browser's own copy: /review and /api/summary answered the copy for 12 hours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.accounts import Accounts
from dashboard.gate import SESSION_COOKIE
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, running_stack
from tests.security.visitor import Visitor

PASSWORD = "ana-has-a-long-password"


@pytest.fixture(scope="module")
def war_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("sign-out")
    Accounts(home / "data").add_user("ana", "analyst", PASSWORD)
    with running_stack(home) as stack:  # `gmv serve` with two worker processes
        yield stack


def refused(visitor: Visitor) -> bool:
    review, summary = visitor.get("/review"), visitor.get("/api/summary")
    return review.status == 302 and review.location.startswith("/login") and summary.status == 401


def test_a_cookie_copied_before_signing_out_is_refused_after(war_room: Stack) -> None:
    ana = Visitor(war_room.base_url)
    ana.sign_in("ana", PASSWORD)
    thief = Visitor.holding(war_room.base_url, ana.cookie(SESSION_COOKIE))
    assert thief.get("/review").status == 200
    assert thief.get("/api/summary").status != 401  # 404 before a night is counted: let through
    ana.sign_out()
    # Every process knows within a second; a few answers in a row come from both workers.
    wait_for(lambda: all(refused(thief) for _ in range(6)), 10,
             "a session cookie copied before signing out still opens /review or /api/summary")
    assert refused(ana)
    ana.sign_in("ana", PASSWORD)  # signing in again is a new session; the copy stays dead
    assert ana.get("/review").status == 200 and refused(thief)
