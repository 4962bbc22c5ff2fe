"""Issue #23, row 3: a stolen session cookie of `ana` is refused after `gmv user remove ana`, and
stays refused when `gmv user add ana` makes the name again with a new password (before, the
user's epoch restarted at 1 with the row, and the old cookie named it again). A password change
and a role change end her sessions too: each change takes the user to an epoch above any given
before, and ends the sessions kept for her."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from dashboard.accounts import Accounts
from dashboard.gate import SESSION_COOKIE
from tests.conftest import wait_for
from tests.e2e.conftest import CLI, Stack, running_stack
from tests.security.test_sign_out_ends_the_session import refused
from tests.security.visitor import Visitor


@pytest.fixture(scope="module")
def war_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("removed-user")
    accounts = Accounts(home / "data")
    accounts.add_user("ana", "analyst", "first-long-password")
    accounts.add_user("ada", "admin", "ada-has-a-long-password")  # ana is not the last user
    with running_stack(home) as stack:  # `gmv serve` with two worker processes
        yield stack


def gmv_user(stack: Stack, *args: str, password: str = "") -> None:
    done = subprocess.run([*CLI, "user", *args, "--data", str(stack.settings.data_dir)],
                          input=password + "\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def stolen_cookie(stack: Stack, password: str) -> Visitor:
    """A copy of the cookie of a browser in which ana just signed in."""
    ana = Visitor(stack.base_url)
    ana.sign_in("ana", password)
    thief = Visitor.holding(stack.base_url, ana.cookie(SESSION_COOKIE))
    assert thief.get("/").status == 200 and thief.get("/api/summary").status != 401
    return thief


def stays_refused(visitors: list[Visitor]) -> bool:
    return all(refused(v) for v in visitors for _ in range(3))  # answered by both workers


def test_no_change_to_a_user_lets_an_older_cookie_back_in(war_room: Stack) -> None:
    stolen = [stolen_cookie(war_room, "first-long-password")]
    gmv_user(war_room, "add", "ana", "--role", "analyst", password="second-long-password")
    wait_for(lambda: stays_refused(stolen), 10, "a password change left a session open")
    stolen.append(stolen_cookie(war_room, "second-long-password"))
    gmv_user(war_room, "add", "ana", "--role", "operator", password="second-long-password")
    wait_for(lambda: stays_refused(stolen), 10, "a role change left a session open")
    stolen.append(stolen_cookie(war_room, "second-long-password"))
    gmv_user(war_room, "remove", "ana")
    wait_for(lambda: stays_refused(stolen), 10, "removing ana left a session open")
    gmv_user(war_room, "add", "ana", "--role", "analyst", password="a-new-long-password")
    new_ana = Visitor(war_room.base_url)
    new_ana.sign_in("ana", "a-new-long-password")
    # Once every process knows the new ana, none of the cookies taken before is hers.
    wait_for(lambda: all(new_ana.get("/review").status == 200 for _ in range(6)), 10,
             "the re-added ana cannot open /review")
    assert stays_refused(stolen), "a cookie of the removed ana names the re-added one"
