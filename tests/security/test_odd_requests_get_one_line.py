"""Requests no page sends get a 400 or 405 with a one-line reason and at most one log line,
never a 500 with a traceback (issue #23's follow-up): a callback POST naming an output the app
has no callback for (Dash raised KeyError), a callback body nested 1,000 deep (the JSON parser
raised RecursionError), and GET /logout (it answered the app shell, 200: sign-out is a POST with
its CSRF token, the nav's button).

Against a running `gmv serve`, as a signed-in viewer posting callbacks by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.accounts import Accounts
from dashboard.ids import Ids
from tests.e2e.conftest import Stack, running_stack
from tests.security.dash_calls import DashCalls
from tests.security.visitor import Visitor

PASSWORD = "vera-has-a-long-password"
BOARD = f"{Ids.GUESS_BOARD}.children"


@pytest.fixture(scope="module")
def war_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("odd-requests")
    Accounts(home / "data").add_user("vera", "viewer", PASSWORD)
    with running_stack(home, worker=False) as stack:
        yield stack


@pytest.fixture(scope="module")
def vera(war_room: Stack) -> DashCalls:
    visitor = Visitor(war_room.base_url)
    visitor.sign_in("vera", PASSWORD)
    return DashCalls(visitor)


class Log:
    """What the server logged since it was marked."""

    def __init__(self, path: Path) -> None:
        self.path, self.at = path, path.stat().st_size

    def since(self) -> list[str]:
        with self.path.open("rb") as log:
            log.seek(self.at)
            return log.read().decode(errors="replace").splitlines()


def one_line_refusal(log: Log, status: int, body: str, says: str) -> None:
    assert body.count("\n") <= 1 and says in body, body
    lines = log.since()
    assert not any("Traceback" in line or "Error" in line for line in lines), lines
    if status == 400:
        refused = [line for line in lines if "event=callback_refused" in line]
        assert len(refused) == 1, lines


def a_callback(vera: DashCalls) -> dict[str, object]:
    """A real callback's request as the renderer sends it (/guess's board, a viewer's)."""
    body: dict[str, object] = json.loads(vera.body(BOARD, {}))
    return body


@pytest.mark.parametrize("output", [
    "no-such-id.children", "..no-such-id.children...another.figure..", f"{Ids.GUESS_BOARD}.style"])
def test_a_callback_for_an_output_the_app_has_not_is_a_400(
        war_room: Stack, vera: DashCalls, output: str) -> None:
    body = a_callback(vera) | {"output": output}
    log = Log(war_room.logs / "serve.log")
    reply = vera.post(json.dumps(body).encode())
    assert reply.status == 400, reply
    one_line_refusal(log, 400, reply.body, "no callback of this app has that output")


@pytest.mark.parametrize("where", ["inputs", "state", "outputs", "top"])
def test_a_callback_body_nested_a_thousand_deep_is_a_400(
        war_room: Stack, vera: DashCalls, where: str) -> None:
    deep = "[" * 1000 + "]" * 1000
    real = json.dumps(a_callback(vera))
    body = {"inputs": real.replace('"inputs": [', f'"inputs": [{deep}, ', 1),
            "state": real.replace('"state": [', f'"state": [{deep}, ', 1),
            "outputs": real.replace('"outputs": ', f'"outputs": {{"x": {deep}}}, "o": ', 1),
            "top": deep}[where]
    log = Log(war_room.logs / "serve.log")
    reply = vera.post(body.encode())
    assert reply.status == 400, reply
    one_line_refusal(log, 400, reply.body, "nests deeper than")


def test_a_callback_as_the_renderer_sends_it_still_answers(vera: DashCalls) -> None:
    reply = vera.post(json.dumps(a_callback(vera)).encode())
    assert reply.status in (200, 204), reply


def test_get_logout_signs_nobody_out_and_says_so_in_one_line(war_room: Stack) -> None:
    visitor = Visitor(war_room.base_url)
    visitor.sign_in("vera", PASSWORD)
    log = Log(war_room.logs / "serve.log")
    answer = visitor.get("/logout")
    assert answer.status == 405, answer
    one_line_refusal(log, 405, answer.body, "POST")
    assert visitor.get("/guess").status == 200  # still signed in
    visitor.sign_out()  # the nav's button: a POST with the token
    assert visitor.get("/guess").status in (302, 401)
