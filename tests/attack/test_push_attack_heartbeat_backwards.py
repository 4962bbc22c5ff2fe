"""Attack: the worker's clock steps back (NTP correcting a clock that ran ahead, or `gmv ingest`
restarted on a host whose clock is behind). The hub drops every snapshot whose heartbeat is
older than the newest it has taken ("never back in time", dashboard/hub.py), and never forgets
that newest: one snapshot dated ahead freezes every pushed screen of the process until the wall
clock catches up with it, while /api/live serves the new numbers. The stream keeps beating, so
the page believes the push alive and never falls back to polling: the numbers stand still.

Fixed: snapshots are taken in the order heard, whatever their heartbeat says."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from dashboard.ids import Ids
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, get_json, running_stack
from tests.e2e.sse import EventReader, publish_snapshot

STREAM = "/api/stream?lang=en"


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("push-clock"), worker=False) as running:
        yield running


@pytest.fixture(scope="module")
def page_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Its own: the other test leaves its hubs holding a heartbeat dated ahead."""
    with running_stack(tmp_path_factory.mktemp("push-clock-page"), worker=False) as running:
        yield running


def snapshot(seq: int, heartbeat_ms: int) -> dict[str, Any]:
    return {"version": 2, "seq": seq, "gmv_cents": 1_000 * seq, "orders": 3 * seq,
            "heartbeat_ms": heartbeat_ms, "by_device": {"pc": {"orders": seq}}}


def publish(stack: Stack, doc: dict[str, Any]) -> None:
    publish_snapshot(stack.client, stack.settings, doc)


def test_a_worker_clock_stepped_back_does_not_freeze_the_pushed_screens(quiet_stack: Stack) -> None:
    stack = quiet_stack
    now = int(time.time() * 1000)
    # The worker's clock ran 10 minutes ahead, then NTP stepped it back: its next snapshots carry
    # heartbeats older than the one before, but they are the newest numbers there are.
    ahead = snapshot(1, now + 600_000)
    readers = [EventReader(stack.base_url + STREAM, {"Cookie": stack.local_cookie})
               for _ in range(6)]  # both serving processes listen
    try:
        assert all(r.status == 200 for r in readers)
        publish(stack, ahead)
        wait_for(lambda: all(r.snapshots() and r.snapshots()[-1]["seq"] == 1 for r in readers),
                 20, "the streams never showed the first snapshot")
        for seq in range(2, 12):
            publish(stack, snapshot(seq, int(time.time() * 1000)))
        assert get_json(stack.base_url + "/api/live")["seq"] == 11, "polling shows the newest"
        # The streams stay open and beating (the page thinks the push alive)...
        wait_for(lambda: all(r.named("beat") for r in readers), 10, "no beat")
        # ...and must carry the newest numbers as the polling page does.
        wait_for(lambda: all(r.snapshots()[-1]["seq"] == 11 for r in readers), 10,
                 "the pushed screens stayed on the snapshot dated ahead")
    finally:
        for reader in readers:
            reader.close()


def test_a_pushed_page_after_a_clock_step_back_shows_the_newest_numbers(
        page_stack: Stack, page: Page) -> None:
    stack = page_stack
    publish(stack, snapshot(1, int(time.time() * 1000) + 600_000))
    page.goto(stack.base_url + "/?lang=en")
    wait_for(lambda: page.evaluate("window.gmvPush.frames") > 0, 30, "nothing was pushed")
    wait_for(lambda: page.inner_text(f"#{Ids.ORDERS}") == "3", 10, "the first snapshot")
    for seq in range(2, 12):
        publish(stack, snapshot(seq, int(time.time() * 1000)))
    assert get_json(stack.base_url + "/api/live")["orders"] == 33
    # The room sees either the newest numbers, or the note that the page polls.
    wait_for(lambda: page.inner_text(f"#{Ids.ORDERS}") == "33" or
             page.inner_text(f"#{Ids.PUSH_STATE}") != "", 15,
             "the pushed page stands still on the snapshot dated ahead, saying nothing under "
             "the clock")
