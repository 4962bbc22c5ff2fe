"""Attack: the wall PC's own clock steps back an hour (NTP correcting it, a hand) while it shows
the pushed night, and then the server falls silent (frozen: no frame, no poll answered). The
page timed its intervals by Date.now(): the push looked alive for another hour (no polling) and
the numbers' age came out negative, so the frozen screen said nothing. Timed by the monotonic
clock, the banner says within seconds that the numbers are old."""

from __future__ import annotations

import os
import signal

from playwright.sync_api import Page, expect

from dashboard.ids import Ids
from tests.chaos.processes import descendants
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, publish_sample
from tests.sample import sample_payloads

STEP_BACK_MS = 3_600_000


def test_a_frozen_server_is_seen_after_the_walls_clock_stepped_back(fresh_stack: Stack,
                                                                    page: Page) -> None:
    stack = fresh_stack
    publish_sample(stack, sample_payloads()[:2_000])
    wait_for(lambda: stack.live().get("orders", 0) > 0, 60, "the worker published nothing")
    page.goto(stack.base_url + "/?lang=en")
    wait_for(lambda: page.evaluate("window.gmvPush.frames") > 0, 30, "nothing was pushed")
    page.evaluate("""(back) => { const real = Date.now.bind(Date);
                                 Date.now = () => real() - back; }""", STEP_BACK_MS)
    serving = [p.pid for p in stack.processes if p.poll() is None and "serve" in p.args]
    frozen = [pid for pid in serving for pid in [pid, *descendants(pid)]]
    assert frozen, "no gmv serve found"
    try:
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        expect(page.locator(f"#{Ids.STALE_BANNER}")).to_contain_text("No update for",
                                                                      timeout=15_000)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
