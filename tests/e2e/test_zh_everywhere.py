"""The Chinese war room reads Chinese, everywhere a person looks: on a night with incidents firing
(a payment path and a region gone dark, an oversold item), every visible run of text
of /, /ops, /review and /guess at zh, their error messages, and the report downloaded from the
review, is Chinese, a number (money, time, percentage) or one of a few proper names."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.ids import Ids
from rehearsal.incidents import Incident
from rehearsal.run import simulate_to_stream
from rehearsal.simulate import NightPlan
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, get_json, let_in, running_stack, screenshot

PLAN = NightPlan(seed=24, peak_ops=400, start_s=-60, duration_s=330, incidents=(
    Incident("oversell", 30, 60, None, 1.0),
    Incident("region_dark", 150, 600, "region=FJ", 1.0),
    Incident("payment_dark", 200, 600, "payment=alipay", 1.0),
))
FIRING = {("region_dark", "region=FJ"), ("payment_dark", "payment=alipay")}

# Latin words a Chinese page may show: the metric's own name (GMV), file formats named on the
# export buttons (CSV, Parquet), 商家 "Top 10", the COO who hands out the guessing game's prize,
# and the language switch, which names the other language in its own words (English).
ALLOWED_WORDS = {"GMV", "CSV", "Parquet", "Top", "COO", "English"}
# Text that came with the orders or from the machine, shown as it is: merchant, item and buyer
# ids, the worker's host name (and its process id).
DATA_VALUES = re.compile(r"^(m\d+|i\d+|u\d+)$")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")

VISIBLE_RUNS = """() => {
  const runs = [];
  const add = text => text.split(/\\s+/).forEach(run => { if (run) runs.push(run); });
  add(document.body.innerText);
  for (const node of document.querySelectorAll('svg text')) {
    const box = node.getBoundingClientRect();
    if (box.width > 0 && box.height > 0 && getComputedStyle(node).visibility !== 'hidden') {
      add(node.textContent);
    }
  }
  return runs;
}"""


def not_chinese(runs: list[str]) -> list[str]:
    """The runs that hold a Latin word that is neither an allowed name nor a value from outside."""
    host = socket.gethostname()
    return sorted({run for run in runs if host not in run and any(
        word not in ALLOWED_WORDS and not DATA_VALUES.match(word)
        for word in LATIN_WORD.findall(run))})


def english_on(page: Page) -> list[str]:
    return not_chinese(page.evaluate(VISIBLE_RUNS))


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A war room whose night ends with a payment path and a region dark (still firing), after
    an oversold item."""
    home = tmp_path_factory.mktemp("zh-night")
    # The guessing stays open all night: its form (and its refusals) are on the page.
    with running_stack(home, {"GMV_GUESSES_CLOSE_AT": "2026-11-11T23:00"}) as stack:
        simulate_to_stream(PLAN, stack.client, stack.settings, None, home / "labels.json", "test")

        def firing() -> set[tuple[str, str]]:
            alerts = get_json(stack.base_url + "/api/alerts")
            return {(a["kind"], a["dimension"]) for a in alerts if a["state"] == "firing"}
        wait_for(lambda: firing() >= FIRING, 180, "the incidents never fired")
        yield stack


@pytest.fixture()
def zh_page(browser: Browser, night: Stack) -> Iterator[Page]:
    context = let_in(browser.new_context(viewport={"width": 1920, "height": 1080},
                                         accept_downloads=True, locale="zh-CN"))
    opened = context.new_page()
    yield opened
    context.close()


def _id(component: str) -> str:
    return f"#{component}"


def test_the_big_screen_reads_chinese(night: Stack, zh_page: Page) -> None:
    zh_page.goto(night.base_url + "/")
    expect(zh_page.locator(_id(Ids.GMV))).to_contain_text("¥", timeout=15_000)
    expect(zh_page.locator(_id(Ids.REGIONS)).locator(".ytick").first).to_be_attached(
        timeout=15_000)
    wait_for(lambda: zh_page.locator(f"{_id(Ids.NIGHT_CHART)} .annotation").count() > 0, 20,
             "no incident on the night chart")
    assert (found := english_on(zh_page)) == [], found


def test_the_operations_view_reads_chinese(night: Stack, zh_page: Page) -> None:
    zh_page.goto(night.base_url + "/ops")
    feed = zh_page.locator(_id(Ids.ALERTS))
    # A payment path's outage says which one, a region's says where, in the page's words.
    expect(feed).to_contain_text("支付宝支付通道异常", timeout=15_000)
    expect(feed).to_contain_text("福建地区订单中断")
    expect(feed).not_to_contain_text("region=")
    # The site-wide drop is part of the outage behind it (more than half the orders pay by
    # Alipay): one incident, the payment path's, the drop beneath it (issue #25).
    alipay = feed.locator("li.alert", has_text="支付宝支付通道异常")
    expect(alipay.locator("li.evidence")).to_contain_text("同时：全站订单骤降")
    expect(zh_page.locator(_id(Ids.OPS_OUTLOOK))).not_to_be_empty()
    expect(zh_page.locator(_id(Ids.DRILL_TITLE))).not_to_be_empty(timeout=15_000)
    assert (found := english_on(zh_page)) == [], found
    screenshot(zh_page, "ops-zh-incidents")


def test_an_acknowledgement_and_its_audit_line_read_chinese(night: Stack, zh_page: Page) -> None:
    zh_page.goto(night.base_url + "/ops")
    oversold = zh_page.locator(_id(Ids.ALERTS)).locator("li", has_text="超卖")
    oversold.get_by_role("button").click()
    expect(zh_page.locator(_id(Ids.ACK_NOTE))).to_contain_text("超卖", timeout=10_000)
    expect(oversold).to_contain_text("确认 · 本机", timeout=15_000)  # who: this machine
    audit = zh_page.locator(_id(Ids.AUDIT))
    expect(audit).to_contain_text("确认告警", timeout=15_000)
    assert (found := not_chinese(audit.inner_text().split())) == [], found


def test_the_review_reads_chinese(night: Stack, zh_page: Page) -> None:
    zh_page.goto(night.base_url + "/review")
    incidents = zh_page.locator(_id(Ids.REVIEW_ALERTS))
    expect(incidents).to_contain_text("福建地区订单中断", timeout=20_000)
    expect(zh_page.locator(_id(Ids.REVIEW_CONTRIBUTORS)).locator("tr.clickable").first) \
        .to_be_attached(timeout=20_000)
    expect(zh_page.locator(_id(Ids.REVIEW_CONTRIBUTOR_TITLE))).not_to_be_empty(timeout=10_000)
    assert (found := english_on(zh_page)) == [], found


def test_the_report_downloaded_from_the_chinese_review_is_chinese_with_names(
        night: Stack, zh_page: Page) -> None:
    zh_page.goto(night.base_url + "/review")
    expect(zh_page.locator(_id(Ids.REVIEW_CONTRIBUTORS)).locator("tr.clickable").first) \
        .to_be_attached(timeout=20_000)
    with zh_page.expect_download() as download:
        zh_page.locator(_id(Ids.EXPORT_REPORT)).click()
    report = Path(download.value.path()).read_text(encoding="utf-8")
    assert "lang='zh-CN'" in report and "福建" in report and "支付宝" in report
    assert "region=" not in report
    zh_page.set_content(report)
    assert (found := english_on(zh_page)) == [], found


def test_a_range_that_ends_before_it_starts_is_refused_in_chinese(night: Stack,
                                                                  zh_page: Page) -> None:
    zh_page.goto(night.base_url + "/review")
    field = zh_page.locator(_id(Ids.REVIEW_END))
    expect(field).not_to_have_value("", timeout=10_000)
    field.fill("2026-11-10 23:00")
    field.press("Enter")
    error = zh_page.locator(_id(Ids.REVIEW_ERROR))
    expect(error).not_to_be_empty(timeout=10_000)
    assert (found := not_chinese(error.inner_text().split())) == [], found


def test_the_guessing_game_reads_chinese_with_its_errors(night: Stack, zh_page: Page) -> None:
    zh_page.goto(night.base_url + "/guess")
    expect(zh_page.locator(_id(Ids.GUESS_SUBMIT))).to_be_visible(timeout=15_000)
    zh_page.locator(_id(Ids.GUESS_AMOUNT)).fill("3200亿")
    zh_page.locator(_id(Ids.GUESS_SUBMIT)).click()  # no name
    note = zh_page.locator(_id(Ids.GUESS_NOTE))
    expect(note).not_to_be_empty(timeout=10_000)
    assert (found := english_on(zh_page)) == [], found


CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@pytest.mark.parametrize("path", ["/", "/ops", "/review", "/guess"])
def test_the_english_pages_read_english(night: Stack, zh_page: Page, path: str) -> None:
    zh_page.goto(f"{night.base_url}{path}?lang=en")
    expect(zh_page.locator("h1")).not_to_be_empty(timeout=15_000)
    if path == "/ops":
        expect(zh_page.locator(_id(Ids.ALERTS))).to_contain_text("Alipay payment path down",
                                                                  timeout=15_000)
    if path == "/review":
        expect(zh_page.locator(_id(Ids.REVIEW_ALERTS))).to_contain_text(
            "Orders from Fujian stopped", timeout=20_000)
    # The language switch names Chinese in Chinese.
    chinese = sorted({run for run in zh_page.evaluate(VISIBLE_RUNS)
                      if CJK.search(run) and run != "中文"})
    assert chinese == [], chinese
