"""Issue #23, row 4: an order whose region is `<a href="https://evil.example/login">Re-login
here</a>`, or whose category is `<span style="font-size:60px;color:red">HACKED</span>`, put a
clickable phishing link and a 60-px red "HACKED" on the executives' big screen and on /ops: the
stream's strings became Plotly labels, and Plotly draws its own HTML in a label.

Here every field of an order that reaches a screen (region, category, merchant, payment) is
markup the contract accepts, counted by the real worker and shown by `gmv serve` in Chromium: no
link, no 60-px text anywhere, and the markup as the characters it is."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.ids import Ids
from tests.conftest import wait_for
from tests.e2e.conftest import (
    Stack,
    json_when_ready,
    let_in,
    publish_sample,
    running_stack,
    screenshot,
)
from tests.security.hostile_text import (
    MADE_BY_MARKUP,
    NOTHING_MADE,
    order_payload,
    texts_of,
)

REGIONS = ('<a href="https://evil.example/login">Re-login here</a>',
           '<b style="font-size:60px">BIG</b>')
CATEGORIES = ('<span style="font-size:60px;color:red">HACKED</span>',
              '<a href="https://evil.example/deals">Deals</a>')
MERCHANTS = ('<a href="https://evil.example/shop">Shop</a>', '<span style="font-size:60px">M</span>')
PAYMENTS = ("<a href='//evil.example'>pay</a>", "<b style='font-size:60px'>P</b>")
ORDERS = 40


def hostile_orders() -> list[bytes]:
    """Orders spread over 40 seconds, the first of each pair of values worth more."""
    return [order_payload(i, region=REGIONS[i % 2], category=CATEGORIES[i % 2],
                          merchant_id=MERCHANTS[i % 2], payment=PAYMENTS[i % 2],
                          amount_cents=50_000 if i % 2 == 0 else 20_000)
            for i in range(ORDERS)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("markup-in-orders")) as running:
        publish_sample(running, hostile_orders())
        wait_for(lambda: running.live().get("orders") == ORDERS, 60, "the worker counted no order")
        wait_for(lambda: REGIONS[0] in json.loads(
            running.client.get(running.settings.night_key) or "{}").get("by_region", {}), 30,
            "the night document never had the regions")
        wait_for(lambda: json_when_ready(running.base_url + "/api/summary").get("orders") == ORDERS,
                 60, "the history files never caught up")
        yield running


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = let_in(browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN"))
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


def shown_from(value: str) -> str:
    """The start of a value, which a label shows however short it is cut."""
    return value[:20]


def bar_names(page: Page, chart: str) -> str:
    names = page.locator(f"#{chart} .ytick text")
    expect(names).to_have_count(2, timeout=20_000)
    return str(page.evaluate(texts_of(f"#{chart} .ytick text")))


def test_the_big_screen_draws_no_link_and_no_giant_text_from_an_order(stack: Stack,
                                                                       page: Page) -> None:
    page.goto(stack.base_url + "/")
    regions, categories = bar_names(page, Ids.REGIONS), bar_names(page, Ids.CATEGORIES)
    screenshot(page, "row-4-big-screen")
    assert page.evaluate(MADE_BY_MARKUP) == NOTHING_MADE
    assert all(shown_from(region) in regions for region in REGIONS), regions
    assert all(shown_from(category) in categories for category in CATEGORIES), categories


def test_ops_draws_no_link_and_no_giant_text_from_an_order(stack: Stack, page: Page) -> None:
    page.goto(stack.base_url + "/ops")
    regions, categories = bar_names(page, Ids.REGIONS), bar_names(page, Ids.CATEGORIES)
    expect(page.locator(f"#{Ids.MERCHANTS} td").first).to_have_text(MERCHANTS[0], timeout=20_000)
    page.locator(f"#{Ids.DRILL_DIMENSION}").click()
    page.get_by_role("option", name="地区", exact=True).click()
    expect(page.locator(f"#{Ids.DRILL_TITLE}")).to_contain_text(f"地区 = {REGIONS[0]}",
                                                                timeout=20_000)
    screenshot(page, "row-4-ops")
    assert page.evaluate(MADE_BY_MARKUP) == NOTHING_MADE
    assert all(shown_from(region) in regions for region in REGIONS), regions
    assert all(shown_from(category) in categories for category in CATEGORIES), categories


@pytest.mark.parametrize(("dimension", "values"), [("地区", REGIONS), ("品类", CATEGORIES),
                                                   ("商家", MERCHANTS), ("支付方式", PAYMENTS)])
def test_the_review_names_each_line_by_its_markup_as_text(stack: Stack, page: Page, dimension: str,
                                                          values: tuple[str, str]) -> None:
    page.goto(stack.base_url + "/review")
    expect(page.locator(f"#{Ids.REVIEW_CONTRIBUTORS} tr.clickable").first).to_be_visible(
        timeout=20_000)
    page.locator(f"#{Ids.REVIEW_DIMENSION}").click()
    page.get_by_role("option", name=dimension, exact=True).click()
    legend = page.locator(f"#{Ids.REVIEW_CHART} .legendtext")
    expect(legend).to_have_count(2, timeout=20_000)
    shown = str(page.evaluate(texts_of(f"#{Ids.REVIEW_CHART} .legendtext")))
    assert page.evaluate(MADE_BY_MARKUP) == NOTHING_MADE
    assert all(shown_from(value) in shown for value in values), shown
    contributors = str(page.evaluate(texts_of(f"#{Ids.REVIEW_CONTRIBUTORS} td")))
    assert REGIONS[0] in contributors and CATEGORIES[0] in contributors
