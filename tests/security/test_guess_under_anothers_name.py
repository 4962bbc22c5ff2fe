"""Issue #23, row 10: an operator guessed under the name "ada" (or Cyrillic "аda", U+0430), and
the real ada was then refused her own name.

With users, a guess is the signed-in account's, under its name, whatever name the browser sends;
on the local war room (no users, this machine only) a typed name that looks like another guess's
name (another script's look-alike letters, accents, full-width forms) is refused with a clear
message. Both through `gmv serve`'s own callback, as the /guess page calls it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.accounts import Accounts
from dashboard.guesses import GuessBoard
from dashboard.ids import Ids
from tests.e2e.conftest import Stack, running_stack
from tests.security.dash_calls import DashCalls
from tests.security.visitor import Visitor

OPEN_UNTIL = {"GMV_GUESSES_CLOSE_AT": "2099-01-01T00:00"}  # the wall clock is the board's clock
PASSWORDS = {"ada": "ada-has-a-long-password", "otto": "otto-has-a-long-password"}


def board_names(stack: Stack) -> dict[str, int]:
    board = GuessBoard(stack.settings.data_dir, 0)
    return {g.name: g.amount_cents for g in board.guesses()}


def guess(calls: DashCalls, name: object, amount: str) -> str:
    """What the page says after the guess (its note)."""
    reply = calls.call(f"{Ids.GUESS_NOTE}.children", {
        f"{Ids.GUESS_SUBMIT}.n_clicks": 1, f"{Ids.GUESS_NAME}.value": name,
        f"{Ids.GUESS_AMOUNT}.value": amount, f"{Ids.GUESS_LANG}.data": "en"})
    assert reply.status == 200, reply.body[:300]
    return str(reply.outputs()[f"{Ids.GUESS_NOTE}.children"])


@pytest.fixture(scope="module")
def with_users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("guess-users")
    accounts = Accounts(home / "data")
    accounts.add_user("ada", "viewer", PASSWORDS["ada"])
    accounts.add_user("otto", "operator", PASSWORDS["otto"])
    with running_stack(home, env=OPEN_UNTIL) as stack:
        yield stack


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("guess-local"), env=OPEN_UNTIL) as stack:
        yield stack


def signed_in(stack: Stack, name: str) -> DashCalls:
    visitor = Visitor(stack.base_url)
    visitor.sign_in(name, PASSWORDS[name])
    return DashCalls(visitor)


def test_a_signed_in_person_guesses_only_under_their_own_name(with_users: Stack) -> None:
    otto = signed_in(with_users, "otto")
    for typed in ("ada", "аda", "ＡＤＡ", ["ada"], None):
        said = guess(otto, typed, "3000亿")
        assert "otto" in said and "ada" not in said.lower() and "аda" not in said, said
    assert board_names(with_users) == {"otto": 300_000_000_000_00}
    ada = signed_in(with_users, "ada")
    said = guess(ada, "ada", "3100亿")
    assert "ada" in said and "error" not in said.lower(), said
    assert board_names(with_users) == {"otto": 300_000_000_000_00, "ada": 310_000_000_000_00}
    # Whatever name ada's browser sends, it is ada's one guess that changes.
    assert "ada" in guess(ada, "otto", "3200亿")
    assert board_names(with_users) == {"otto": 300_000_000_000_00, "ada": 320_000_000_000_00}


def test_the_page_shows_a_person_their_name_not_a_field_to_type_one(with_users: Stack) -> None:
    otto = signed_in(with_users, "otto")
    reply = otto.call("_pages_content.children", {
        "_pages_location.pathname": "/guess", "_pages_location.search": "?lang=en"})
    assert reply.status == 200, reply.body[:300]
    field = next(f for f in _components(reply.outputs()) if f.get("id") == Ids.GUESS_NAME)
    assert field["disabled"] is True and field["value"] == "otto", field


def _components(tree: object) -> Iterator[dict[str, object]]:
    """Every component's props in a layout as Dash sends it."""
    if isinstance(tree, dict):
        if "props" in tree and isinstance(tree["props"], dict):
            yield tree["props"]
        for value in tree.values():
            yield from _components(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from _components(item)


@pytest.mark.parametrize(("lookalike", "why"), [
    ("аda", "mixes Latin and Cyrillic"),  # Cyrillic а, Latin d and a
    ("αda", "mixes Latin and Greek"),
    ("Adá", "looks like"),
    ("ada\u200b", "cannot be shown"),
])
def test_on_the_local_war_room_a_lookalike_name_is_refused(local: Stack, lookalike: str,
                                                           why: str) -> None:
    visitor = Visitor(local.base_url)
    assert visitor.get("/guess?lang=en").status == 200  # the CSRF cookie
    calls = DashCalls(visitor)
    assert "ada" in guess(calls, "ada", "3000亿")
    said = guess(calls, lookalike, "1亿")
    assert why in said, said
    assert {n: c for n, c in board_names(local).items() if "ada" in n.casefold()} == \
        {"ada": 300_000_000_000_00}


def test_on_the_local_war_room_another_script_alone_can_look_the_same(local: Stack) -> None:
    visitor = Visitor(local.base_url)
    assert visitor.get("/guess?lang=en").status == 200
    calls = DashCalls(visitor)
    assert "error" not in guess(calls, "poe", "2000亿").lower()
    said = guess(calls, "рое", "1亿")  # Cyrillic р, о, е
    assert "looks like" in said and "'poe'" in said, said
    assert "Li Wei" in guess(calls, "Li Wei", "2100亿")  # a name of its own is welcome
