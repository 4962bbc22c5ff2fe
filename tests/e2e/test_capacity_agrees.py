"""/ops shows one capacity (issue #24, item 5): the pipeline tile, the utilisation and the peak's
headroom in the forecast panel agree, in Chromium against a real `gmv serve`, whatever the
worker's current and best figures are (here: a payment outage's trickle after a busy hour)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from playwright.sync_api import Browser, expect

from dashboard.ids import Ids
from tests.e2e.conftest import let_in, running_stack

WAIT_MS = 60_000


def snapshot(now_ms: int) -> dict[str, object]:
    """What the worker publishes during the outage: 478/s by its working time at a trickle, and
    72,067/s as the night's best."""
    return {"gmv_cents": 123_456_789, "orders": 100_000, "peak_ops": 4_000, "ops_now": 239,
            "heartbeat_ms": now_ms, "worker": "vm-worker", "lag_ms": 10, "ingest_eps": 239,
            "load": 0.01, "capacity_eps": 478, "capacity_basis": "working_time",
            "capacity_best_eps": 72_067, "rejected": 0, "duplicates": 0, "by_device": {},
            "series": {}, "seq": 1}


def figures(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]


def test_ops_shows_one_capacity_on_the_tile_and_in_the_headroom(browser: Browser,
                                                                 tmp_path: Path) -> None:
    with running_stack(tmp_path, worker=False) as stack:
        # A heartbeat kept fresh while the page reads it (no worker overwrites it here).
        stack.client.set(stack.settings.snapshot_key,
                         json.dumps(snapshot(int(time.time() * 1000))))
        context = let_in(browser.new_context(viewport={"width": 1920, "height": 1080},
                                             locale="en-GB"))
        page = context.new_page()
        page.goto(f"{stack.base_url}/ops?lang=en")
        tile = page.locator(f"#{Ids.CAPACITY}")
        expect(tile).to_have_text(re.compile(r"\d"), timeout=WAIT_MS)
        headroom = page.locator(f"#{Ids.OPS_HEADROOM}")
        expect(headroom).to_contain_text("capacity", timeout=WAIT_MS)
        shown_tile, shown_load = tile.inner_text(), page.locator(f"#{Ids.LOAD}").inner_text()
        shown_headroom = headroom.inner_text()
        context.close()
    capacity = figures(shown_tile)[0]
    peak, in_headroom, *_ = figures(shown_headroom)
    assert capacity == in_headroom == 72_067, (shown_tile, shown_headroom)
    assert f"headroom {capacity / peak:.1f}×" in shown_headroom
    assert shown_load == f"{239 / capacity:.0%}", shown_load
