"""Issue #23, row 12: a signed-in person who opens a kiosk link stays that person (before, the
browser's session was silently replaced by the wall's: a viewer lost /guess, an admin everything);
the page says, in its language, that the link is for a wall screen. And only the exact
`/kiosk/<token>` route skips the gate: before, any path under /kiosk/ did (`/kiosk/x/../ops`)."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

from dashboard.accounts import Accounts
from dashboard.format import text
from dashboard.gate import SESSION_COOKIE
from tests.e2e.conftest import Stack, running_stack
from tests.security.visitor import Visitor

PASSWORD = "vera-has-a-long-password"


@pytest.fixture(scope="module")
def war_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("kiosk-person")
    Accounts(home / "data").add_user("vera", "viewer", PASSWORD)
    with running_stack(home) as stack:
        yield stack


@pytest.fixture(scope="module")
def kiosk_token(war_room: Stack) -> str:
    return Accounts(war_room.settings.data_dir).add_kiosk_link("lobby wall")[1]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_viewer_opening_a_kiosk_link_stays_herself_and_a_wall_still_opens_it(
        war_room: Stack, kiosk_token: str, lang: str) -> None:
    vera = Visitor(war_room.base_url)
    vera.sign_in("vera", PASSWORD)
    session = vera.cookie(SESSION_COOKIE)
    assert vera.get("/guess").status == 200  # what a viewer may and a wall may not
    opened = vera.get(f"/kiosk/{kiosk_token}?lang={lang}")
    assert opened.status == 409, opened
    assert html.escape(text(lang, "kiosk_for_a_wall")) in opened.body
    assert html.escape(text(lang, "kiosk_for_a_wall_hint")) in opened.body
    assert vera.cookie(SESSION_COOKIE) == session
    assert vera.get("/guess").status == 200 and vera.get("/ops").status == 403
    # The wall's own browser gets the wall's session, as before.
    wall = Visitor(war_room.base_url)
    opened = wall.get(f"/kiosk/{kiosk_token}?lang={lang}")
    assert opened.status == 302 and opened.location.endswith(f"/?lang={lang}")
    assert wall.get("/").status == 200 and wall.get("/api/live").status != 401
    assert wall.get("/guess").status == 403


@pytest.mark.parametrize("path", [
    "/kiosk/", "/kiosk/x/", "/kiosk/anything-else/ops", "/kiosk/x/../ops",
    "/kiosk/x/../_dash-layout", "/kiosk/x/%2e%2e/review", "/kiosk/x/../../api/../ops",
])
def test_nothing_else_under_kiosk_skips_the_gate(war_room: Stack, path: str) -> None:
    answer = Visitor(war_room.base_url).get(path)
    assert answer.status in (302, 401), answer
    assert answer.status == 401 or answer.location.startswith("/login"), answer
