"""Issue #24, item 1: a second `gmv demo` froze every screen while it looked live (it replayed the
night from 23:59; the worker rightly counted every order a duplicate; nothing said so). Now the
second run continues the night where the first stopped, says so on the terminal, the big screen
says so in a banner, and the totals move on with no flood of duplicates."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from playwright.sync_api import Browser, expect

from common.redis_server import free_loopback_port
from dashboard.ids import Ids
from gmv.demo_night import read_record
from tests.conftest import wait_for
from tests.e2e.conftest import local_cookie


def _live(base: str, data: Path) -> tuple[dict[str, int], str | None]:
    """The snapshot the screens draw, and the notice header, as this machine's browser."""
    try:
        request = urllib.request.Request(base + "/api/live",
                                         headers={"Cookie": local_cookie(data)})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read()), response.headers.get("X-Night-Continued")
    except (OSError, AssertionError, ValueError):
        return {}, None


def _start(data: Path, port: int, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GMV_WEB_PORT": str(port), "GMV_DATA_DIR": str(data),
           "GMV_WEB_WORKERS": "1"}
    env.pop("REDIS_URL", None)
    with out.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "gmv.cli", "demo", "--peak-ops", "300",
                                 "--speed", "10"], env=env, stdout=sink, stderr=sink,
                                start_new_session=True)


def _stop(demo: subprocess.Popen[bytes]) -> None:
    demo.send_signal(signal.SIGINT)
    try:
        demo.wait(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()


def test_a_second_demo_continues_the_night_and_every_screen_says_so(
        tmp_path: Path, browser: Browser) -> None:
    data, port = tmp_path / "data", free_loopback_port()
    base = f"http://127.0.0.1:{port}"
    first = _start(data, port, tmp_path / "first.out")
    try:
        wait_for(lambda: (r := read_record(data)) is not None and r.published_to_s >= 60, 240,
                 "the first demo never published a minute of the night")
        wait_for(lambda: _live(base, data)[0].get("orders", 0) > 0, 120,
                 "the first demo's war room never counted an order")
    finally:
        _stop(first)
    assert "A new night" in (tmp_path / "first.out").read_text()
    record = read_record(data)
    assert record is not None
    stopped_at = record.published_to_s

    second = _start(data, port, tmp_path / "second.out")
    try:
        wait_for(lambda: "Continuing the night" in (tmp_path / "second.out").read_text(), 60,
                 "the second demo did not say it continues the night")
        said = (tmp_path / "second.out").read_text()
        clock = re.search(r"at (\d\d:\d\d:\d\d) night time", said)
        assert clock is not None, said
        assert clock[1] == f"{stopped_at // 3600:02d}:{stopped_at // 60 % 60:02d}:{stopped_at % 60:02d}"
        wait_for(lambda: _live(base, data)[1] is not None, 180,
                 "the live feed never told the screens the night was continued")
        before = _live(base, data)[0]
        # The night moves on: orders counted beyond what the first run had, few duplicates.
        wait_for(lambda: _live(base, data)[0].get("latest_second_ms", 0)
                 > before.get("latest_second_ms", 0) + 5_000, 180,
                 "the continued night's clock never moved on")
        live = _live(base, data)[0]
        assert live["orders"] > before["orders"]
        assert live.get("duplicates", 0) < 0.05 * live["orders"], live
        said = (tmp_path / "second.out").read_text()
        link = next(line.split("The war room: ")[1].strip() for line in said.splitlines()
                    if "The war room: " in line)
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        try:
            page = context.new_page()
            page.goto(link)
            banner = page.locator(f"#{Ids.STALE_BANNER}")
            expect(banner).to_contain_text("演示已接续", timeout=30_000)
            expect(banner).to_contain_text(clock[1])
            expect(banner).to_have_class(re.compile("banner-info"))
        finally:
            context.close()
    finally:
        _stop(second)
