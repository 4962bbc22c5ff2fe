"""Attack: the worker stops, and a screen opens (or reloads, or reconnects after a blip) while it
is down. The hub frames a snapshot once, with its age at publication (dashboard/hub.py); a stream
opened later is sent that frame as it was: the snapshot is said ~0 s old however long ago the
worker stopped. The page believes it (its banner counts from that age), so a screen opened
minutes after the worker stopped shows the numbers as live, then "no update for 3 s", where a
polling page (/api/live's X-Snapshot-Age-Ms) says how old they really are. The stream's beats
carry the right age, but the page ignores it.

Fixed: a whole snapshot sent later than 250 ms after its frame was made is framed again with
its age then, and the page takes the beats' age."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from dashboard.frames import encode
from dashboard.ids import Ids
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.sse import EventReader

STREAM = "/api/stream?lang=en"
DOWN_S = 12  # how long the worker has been stopped when the screen opens


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("push-age"), worker=False) as running:
        yield running


def test_a_screen_opened_while_the_worker_is_down_says_how_old_the_numbers_are(
        quiet_stack: Stack, page: Page) -> None:
    stack = quiet_stack
    readers = [EventReader(stack.base_url + STREAM, {"Cookie": stack.local_cookie})
               for _ in range(6)]  # both serving processes listen
    try:
        doc = {"version": 2, "seq": 1, "gmv_cents": 123_456, "orders": 42,
               "heartbeat_ms": int(time.time() * 1000), "by_device": {"pc": {"orders": 42}}}
        raw = encode(doc)
        stack.client.set(stack.settings.snapshot_key, raw)
        stack.client.publish(stack.settings.snapshot_channel, raw)
        stopped = time.monotonic()  # the worker's last snapshot: it stops here
        wait_for(lambda: all(r.snapshots() for r in readers), 20, "the streams showed nothing")
    finally:
        for reader in readers:
            reader.close()
    # The premise: the worker has been down DOWN_S seconds (the product's age, not a wait for
    # a condition).
    time.sleep(max(0.0, DOWN_S - (time.monotonic() - stopped)))

    late = EventReader(stack.base_url + STREAM, {"Cookie": stack.local_cookie})
    try:
        wait_for(lambda: late.named("live"), 10, "the late stream sent no snapshot")
        first_age = late.named("live")[0]["age_ms"]
    finally:
        late.close()

    page.goto(stack.base_url + "/?lang=en")
    wait_for(lambda: page.evaluate("window.gmvPush.frames") > 0, 30, "nothing was pushed")
    banner = page.locator(f"#{Ids.STALE_BANNER}")
    # What the room reads within the first seconds of the screen.
    wait_for(lambda: "No update for" in banner.inner_text(), 10, "the banner never said stale")
    said = re.search(r"No update for (\d+) s", banner.inner_text())
    assert said is not None and int(said[1]) >= DOWN_S - 1, f"the screen said: {banner.inner_text()}"
    assert first_age >= (DOWN_S - 1) * 1000, f"the stream said the snapshot {first_age} ms old"
