"""/review says what is true about the range asked for (issue #24, item 8): an empty range and a
range after the night are said as such (not "ends before it starts", not ¥0.00 over an axis of
−1…6), the orders export names the filter it applies, the downloaded report's peak is the
range's, and the time fields show the whole time at 1366 and 1920 pixels. The sample night in a
real stack, real Chromium."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.ids import Ids
from tests.e2e.conftest import Stack, get_json, let_in


def _id(name: str) -> str:
    return f"#{name}"


def set_range(page: Page, start: str, end: str) -> None:
    for field, value in ((Ids.REVIEW_START, start), (Ids.REVIEW_END, end)):
        page.locator(_id(field)).fill(value)
        page.locator(_id(field)).press("Enter")


def loaded(page: Page, stack: Stack, lang: str = "zh") -> None:
    page.goto(stack.base_url + f"/review?lang={lang}")
    expect(page.locator(_id(Ids.REVIEW_CONTRIBUTORS)).locator("tr.clickable").first) \
        .to_be_visible(timeout=20_000)


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_the_time_fields_show_the_whole_time(counted_sample: Stack, browser: Browser,
                                             size: tuple[int, int]) -> None:
    context = let_in(browser.new_context(viewport={"width": size[0], "height": size[1]},
                                         locale="zh-CN"))
    try:
        page = context.new_page()
        loaded(page, counted_sample)
        for field in (Ids.REVIEW_START, Ids.REVIEW_END):
            box = page.locator(_id(field))
            expect(box).to_have_value(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"))
            cut = box.evaluate("e => e.scrollWidth - e.clientWidth")
            assert cut <= 0, f"{field} at {size}: {cut} px of the time hidden"
    finally:
        context.close()


def test_equal_start_and_end_is_said_as_an_empty_range(counted_sample: Stack, page: Page) -> None:
    loaded(page, counted_sample)
    set_range(page, "2026-11-11 00:05:00", "2026-11-11 00:05:00")
    error = page.locator(_id(Ids.REVIEW_ERROR))
    expect(error).to_have_text("开始和结束是同一时刻：请选一段时间", timeout=10_000)
    loaded(page, counted_sample, "en")
    set_range(page, "2026-11-11 00:05", "2026-11-11 00:05")
    expect(error).to_have_text("Start and end are the same moment: choose a stretch of time",
                               timeout=10_000)
    set_range(page, "2026-11-11 00:06", "2026-11-11 00:05")
    expect(error).to_have_text("The range ends before it starts: swap the times", timeout=10_000)


@pytest.mark.parametrize(("start", "end", "said"), [
    ("2026-11-12 10:00", "2026-11-12 11:00", "此时段还没有订单：数据截至 2026-11-11 00:0"),
    # Five minutes a year ahead: refused as "时间范围超过 8 天" (issue #24).
    ("2027-11-11 00:00", "2027-11-11 00:05", "此时段还没有订单：数据截至 2026-11-11 00:0"),
    ("2026-11-10 10:00", "2026-11-10 11:00", "此时段没有订单：数据始于 2026-11-1"),
])
def test_a_range_after_the_night_says_there_is_nothing_yet(counted_sample: Stack, page: Page,
                                                           start: str, end: str,
                                                           said: str) -> None:
    loaded(page, counted_sample)
    set_range(page, start, end)
    error = page.locator(_id(Ids.REVIEW_ERROR))
    expect(error).to_contain_text(said, timeout=10_000)
    expect(page.locator(_id(Ids.REVIEW_TOTALS))).not_to_contain_text("¥0.00")
    axis = page.locator(_id(Ids.REVIEW_CHART)).locator(".xtick text")
    expect(axis.first).to_be_attached(timeout=10_000)
    ticks = axis.evaluate_all("texts => texts.map(t => t.textContent)")
    assert ticks and all(re.fullmatch(r"\d\d:\d\d(:\d\d)?", t) for t in ticks), ticks


def test_the_orders_export_names_the_filter_it_applies(counted_sample: Stack,
                                                       page: Page) -> None:
    loaded(page, counted_sample, "en")
    button = page.locator(_id(Ids.EXPORT_ORDERS))
    title = page.locator(_id(Ids.REVIEW_CONTRIBUTOR_TITLE))
    expect(title).not_to_be_empty(timeout=10_000)
    shown = title.inner_text().split(":")[0]  # 'Device · Mobile'
    expect(button).to_have_text(f"Export orders: {shown}")
    rows = page.locator(_id(Ids.REVIEW_CONTRIBUTORS)).locator("tr.clickable")
    second = rows.nth(1).locator("td").nth(1).inner_text()
    rows.nth(1).click()
    expect(button).to_contain_text(second, timeout=10_000)
    loaded(page, counted_sample)
    expect(button).to_have_text(re.compile(r"^导出订单明细：.+ · .+$"), timeout=10_000)


def test_the_downloaded_report_gives_the_ranges_peak(counted_sample: Stack, page: Page) -> None:
    """A minute without the night's busiest second: its report names its own peak, not the
    night's (next year's baseline, the whole night's, stays out of it)."""
    stack = counted_sample
    night_peak = datetime.fromisoformat(get_json(stack.base_url + "/api/summary")["peak_second"])
    minute = next(m for m in ("00:05", "00:06", "00:03") if night_peak.strftime("%H:%M") != m)
    loaded(page, stack, "en")
    following = f"00:0{int(minute[-1]) + 1}"
    set_range(page, f"2026-11-11 {minute}:00", f"2026-11-11 {following}:00")
    expect(page.locator(_id(Ids.REVIEW_TOTALS))).to_contain_text(f"{minute}:", timeout=10_000)
    with page.expect_download() as download:
        page.locator(_id(Ids.EXPORT_REPORT)).click()
    report = Path(download.value.path()).read_text(encoding="utf-8")
    assert re.search(rf"Peak orders/s.*?at {minute}:\d\d", report), report[:3000]
    assert "Next year" not in report
