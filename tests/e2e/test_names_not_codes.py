"""Names, not codes, on the pages an outside walkthrough of `make demo` read (issue #24): /ops
says where the worker runs in words (the host:pid code only in its tooltip); /review names an
oversold item once, and says which clock an acknowledgement's time is on. A real war room, real
Chromium, in both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.ids import Ids
from rehearsal.incidents import Incident
from rehearsal.run import simulate_to_stream
from rehearsal.simulate import NightPlan
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, get_json, let_in, running_stack

PLAN = NightPlan(seed=24, peak_ops=400, start_s=-60, duration_s=330, incidents=(
    Incident("oversell", 30, 60, None, 1.0),
    Incident("region_dark", 150, 600, "region=FJ", 1.0),
))


def _firing(stack: Stack) -> set[str]:
    return {a["kind"] for a in get_json(stack.base_url + "/api/alerts") if a["state"] == "firing"}


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A night that oversold an item and ends with Fujian dark (still firing)."""
    home = tmp_path_factory.mktemp("names-night")
    with running_stack(home) as stack:
        simulate_to_stream(PLAN, stack.client, stack.settings, None, home / "labels.json", "test")
        wait_for(lambda: "region_dark" in _firing(stack) and _oversold(stack) is not None, 180,
                 "the incidents never fired")
        yield stack


def _oversold(stack: Stack) -> str | None:
    return next((a["dimension"].partition("=")[2]
                 for a in get_json(stack.base_url + "/api/alerts") if a["kind"] == "oversell"),
                None)


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = let_in(browser.new_context(viewport={"width": 1920, "height": 1080},
                                         locale="zh-CN"))
    yield context.new_page()
    context.close()


@pytest.mark.parametrize(("lang", "said"), [("zh", r"^本机，进程 (\d+)$"),
                                            ("en", r"^this machine, process (\d+)$")])
def test_ops_says_where_the_worker_runs_in_words(night: Stack, page: Page, lang: str,
                                                 said: str) -> None:
    code = night.live()["worker"]  # 'vm:2786'
    page.goto(f"{night.base_url}/ops?lang={lang}")
    tile = page.locator(f"#{Ids.WORKER}")
    expect(tile).to_have_text(re.compile(said), timeout=15_000)
    found = re.fullmatch(said, tile.inner_text().strip())
    assert found and found[1] == code.rpartition(":")[2], (tile.inner_text(), code)
    expect(tile.locator("[title]")).to_have_attribute("title", code)
    expect(page.locator("body")).not_to_contain_text(code)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_review_names_an_oversold_item_once(night: Stack, page: Page, lang: str) -> None:
    item = _oversold(night)
    assert item
    page.goto(f"{night.base_url}/review?lang={lang}")
    oversold = page.locator(f"#{Ids.REVIEW_ALERTS} li", has_text=item)
    expect(oversold.first).to_be_visible(timeout=20_000)
    assert oversold.first.inner_text().count(item) == 1, oversold.first.inner_text()


@pytest.mark.parametrize(("lang", "headline", "clock"), [
    ("zh", "福建地区订单中断", "（墙钟时间）"), ("en", "Orders from Fujian stopped", "(wall clock)")])
def test_the_review_says_which_clock_an_acknowledgement_is_on(night: Stack, page: Page, lang: str,
                                                              headline: str, clock: str) -> None:
    page.goto(f"{night.base_url}/ops?lang=zh")
    dark = page.locator(f"#{Ids.ALERTS} li").filter(
        has=page.locator("b", has_text=re.compile("^福建地区订单中断$")))
    expect(dark).to_have_count(1, timeout=15_000)
    if not any(a["kind"] == "region_dark" and a.get("acknowledged_ms")
               for a in get_json(night.base_url + "/api/alerts")):  # not by the other language's
        dark.get_by_role("button").click()
        expect(page.locator(f"#{Ids.ACK_NOTE}")).to_contain_text("福建", timeout=15_000)
    wait_for(lambda: any(a["kind"] == "region_dark" and a.get("acknowledged_ms")
                         for a in get_json(night.base_url + "/api/alerts")), 60,
             "the worker never recorded the acknowledgement")
    page.goto(f"{night.base_url}/review?lang={lang}")
    incident = page.locator(f"#{Ids.REVIEW_ALERTS} li", has_text=headline)
    acked = incident.locator(".acked")
    expect(acked).to_contain_text(re.compile(r"\d\d:\d\d:\d\d"), timeout=20_000)
    expect(acked).to_contain_text(clock)
