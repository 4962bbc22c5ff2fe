"""The big screen on every screen, measured in Chromium: a phone, a laptop, 1080p and a 4K wall.
Each fails when something sticks out sideways, when the big screen needs scrolling above phone
size, when a chart's text at 4K is too small to read across the room, or when two tick labels
overlap or a label is cut off at its chart's edge. Screenshots go to test-artifacts/."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.format import format_exact
from dashboard.ids import Ids
from tests.e2e.conftest import ARTIFACTS, Stack, let_in
from tests.sample import TRUTH

SIZES = {"phone": (390, 844), "phone-landscape": (844, 390), "laptop": (1366, 768),
         "1080p": (1920, 1080), "4k": (3840, 2160)}
PHONES = ("phone", "phone-landscape")
MIN_TEXT_SHARE_4K = 0.01  # a chart's smallest text: 1 % of the screen's height (21.6 px at 4K)
CHARTS = (Ids.NIGHT_CHART, Ids.OPS_CHART, Ids.DEVICE_SHARES, Ids.DEVICE_TREND, Ids.CATEGORIES,
          Ids.REGIONS)

MEASURE = (Path(__file__).parent / "measure_fit.js").read_text()
# /ops and /review drawn: their charts have text and none is being plotted (dcc.Graph marks it).
SETTLED = """() => document.querySelectorAll('.js-plotly-plot svg text').length > 10
  && !document.querySelector('.dash-graph--pending')"""
# Every chart the page shows has been drawn, with its text (none is between two drawings).
EVERY_CHART_DRAWN = """() => {
  const shown = [...document.querySelectorAll('.dash-graph')]
    .filter(g => g.getBoundingClientRect().height > 0);
  return shown.length > 0 && shown.every(g => g.querySelector('.js-plotly-plot svg text'));
}"""




def open_at(browser: Browser, stack: Stack, path: str, size: str) -> Page:
    width, height = SIZES[size]
    context = let_in(browser.new_context(viewport={"width": width, "height": height},
                                         device_scale_factor=1, locale="zh-CN",
                                         is_mobile=size in PHONES, has_touch=size in PHONES))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(stack.base_url + path)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def drawn(page: Page) -> None:
    """The live numbers and every visible chart drawn (the night's charts come every 5 s)."""
    truth = format_exact(int(Decimal(TRUTH["gmv"]) * 100))
    expect(page.locator(f"#{Ids.GMV_EXACT}")).to_have_text(truth, timeout=30_000)
    page.wait_for_function(EVERY_CHART_DRAWN, timeout=30_000)


def measure(page: Page, every_chart: bool = True) -> dict[str, Any]:
    """`every_chart`: wait until every chart shown is drawn (the review has empty ones)."""
    if every_chart:
        page.wait_for_function(EVERY_CHART_DRAWN, timeout=30_000)
    found: dict[str, Any] = page.evaluate(MEASURE)
    return found


@pytest.mark.parametrize("size", list(SIZES))
def test_the_big_screen_fits_and_reads_at_every_size(counted_sample: Stack, browser: Browser,
                                                     size: str) -> None:
    page = open_at(browser, counted_sample, "/", size)
    try:
        drawn(page)
        found = measure(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"big-screen-{size}.png"))
        assert not found["problems"], "\n".join(found["problems"][:20])
        assert found["scrollWidth"] <= SIZES[size][0]
        if size not in PHONES:
            assert found["scrollHeight"] <= found["innerHeight"] + 1, "the big screen scrolls"
        if size == "4k":
            assert found["chartTexts"] > 50, {k: v for k, v in found.items() if k != "problems"}
            assert found["smallestChartText"] >= MIN_TEXT_SHARE_4K * SIZES[size][1], \
                found["smallestChartTexts"]
        assert not page.errors, page.errors  # type: ignore[attr-defined]
    finally:
        page.context.close()


def test_on_a_phone_the_essentials_come_first_and_the_rest_is_one_tap_away(
        counted_sample: Stack, browser: Browser) -> None:
    page = open_at(browser, counted_sample, "/?lang=en", "phone")
    try:
        drawn(page)
        for essential in (Ids.GMV, Ids.GMV_EXACT, Ids.OPS_NOW, Ids.PEAK, Ids.MILESTONES, Ids.CLOCK,
                          Ids.NIGHT_CHART, Ids.DEVICE_SHARES):
            expect(page.locator(f"#{essential}")).to_be_visible()
        for later in (Ids.OPS_CHART, Ids.CATEGORIES, Ids.REGIONS, Ids.DEVICE_TREND):
            expect(page.locator(f"#{later}")).to_be_hidden()
        refits = page.evaluate("window.gmvFit.refits")
        page.locator(f"#{Ids.MORE}").tap()
        expect(page.locator(f"#{Ids.MORE}")).to_have_text("Fewer charts")
        for later in (Ids.OPS_CHART, Ids.CATEGORIES, Ids.REGIONS, Ids.DEVICE_TREND):
            expect(page.locator(f"#{later}")).to_be_visible()
        page.wait_for_function(EVERY_CHART_DRAWN, timeout=30_000)
        # Fitted to their new size. A function, not an expression: Playwright evaluates an
        # expression with eval, which the pages' Content-Security-Policy refuses.
        page.wait_for_function("before => window.gmvFit.refits > before", arg=refits)
        found = measure(page)
        page.screenshot(path=str(ARTIFACTS / "big-screen-phone-more.png"), full_page=True)
        assert not found["problems"], "\n".join(found["problems"][:20])
    finally:
        page.context.close()


@pytest.mark.parametrize("path", ["/ops", "/review"])
def test_ops_and_review_fit_a_laptop_and_say_so_politely_on_a_phone(
        counted_sample: Stack, browser: Browser, path: str) -> None:
    page = open_at(browser, counted_sample, path + "?lang=en", "laptop")
    try:
        page.wait_for_function(SETTLED, timeout=30_000)
        found = measure(page, every_chart=False)
        page.screenshot(path=str(ARTIFACTS / f"{path.strip('/')}-1366.png"), full_page=True)
        assert not found["problems"], "\n".join(found["problems"][:20])
    finally:
        page.context.close()
    phone = open_at(browser, counted_sample, path + "?lang=en", "phone")
    try:
        expect(phone.locator(".wide-only")).to_contain_text("needs a wider screen")
        expect(phone.locator(".wide-only a")).to_have_attribute("href", "/?lang=en")
        assert phone.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"][0]
    finally:
        phone.context.close()


def test_the_guessing_game_works_on_a_phone(counted_sample: Stack, browser: Browser) -> None:
    """Staff guess from their phones: the page fits one column, its form and table readable."""
    phone = open_at(browser, counted_sample, "/guess?lang=en", "phone")
    try:
        expect(phone.locator(".guess-intro")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"][0]
        phone.screenshot(path=str(ARTIFACTS / "guess-phone.png"), full_page=True)
    finally:
        phone.context.close()
