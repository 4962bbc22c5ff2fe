"""Attack: a screen whose stream never gets through (a proxy in front of the war room that
buffers or drops /api/stream, a network that resets it). Found on 38edaff (the note showed only
once a stream had been heard and then lost: the page polled in silence); held since 158c0fd:
the page polls and says so under the clock."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Route, expect

from dashboard.frames import encode
from dashboard.ids import Ids
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, running_stack


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("push-note"), worker=False) as running:
        yield running


def test_a_screen_that_never_had_the_push_says_it_polls(quiet_stack: Stack, page: Page) -> None:
    stack = quiet_stack
    doc = {"version": 2, "seq": 1, "gmv_cents": 123_456, "orders": 42,
           "heartbeat_ms": int(time.time() * 1000), "by_device": {"pc": {"orders": 42}}}
    stack.client.set(stack.settings.snapshot_key, encode(doc))
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/api/live" in r.url else None)

    def dropped(route: Route) -> None:
        route.abort("connectionreset")

    page.route("**/api/stream*", dropped)  # from the first request on
    page.goto(stack.base_url + "/?lang=en")
    wait_for(lambda: page.inner_text(f"#{Ids.ORDERS}").replace(",", "") == "42", 30,
             "the polling screen showed nothing")
    # (Playwright hands the page's events over only while it is called.)
    def polled() -> bool:
        page.wait_for_timeout(100)
        return len(polls) >= 3

    wait_for(polled, 30, "the page never polled")
    assert page.evaluate("window.gmvPush.frames") == 0, "a frame got through"
    expect(page.locator(f"#{Ids.PUSH_STATE}")).to_have_text("push lost — updating each second",
                                                           timeout=15_000)
