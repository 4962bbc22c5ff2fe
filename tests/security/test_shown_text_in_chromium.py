"""Issue #23, row 4, as a property in Chromium: a handful of strings drawn by Hypothesis (markup,
entities, templates, formulas, control characters, bidi overrides, zero-width characters, up to
the contract's 64 characters) are the region, the category, the merchant and the payment of
orders the real worker counts, and names of guesses. The big screen, /ops, /review and /guess
show each as its text, on one line, cut where a label has little room; no markup of theirs
makes an element, and nothing sticks out (tests/e2e/measure_fit.js). One war room for the
module: the strings are drawn up front and the pages checked once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.figures import BAR_NAME_CHARS, LEGEND_NAME_CHARS
from dashboard.format import value_name
from dashboard.guesses import MAX_NAME, GuessBoard, Guesser, GuessError, closing_ms
from dashboard.ids import Ids
from dashboard.shown import shown
from tests.conftest import MIDNIGHT_MS, wait_for
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
    PAYMENT_CHARS,
    drawn,
    hostile_text,
    order_payload,
    stream_text,
    texts_of,
)

VALUES = list(dict.fromkeys(drawn(stream_text(), 6)))  # all on every chart (the review draws 8)
# What the board takes of them: it refuses a name with an invisible character or over 40 (its
# own rule, tests/unit/test_guesses.py).
NAMES = drawn(hostile_text().map(lambda s: "".join(c for c in s if c.isprintable())[:MAX_NAME])
              .filter(str.strip), 6)
GUESSES_CLOSE_AT = "2026-11-12T00:00:00"
MEASURE = (Path(__file__).parents[1] / "e2e" / "measure_fit.js").read_text()


def orders() -> list[bytes]:
    """Ten orders of each value, the first value worth the most."""
    return [order_payload(i, region=v, category=v, merchant_id=v, payment=v[:PAYMENT_CHARS],
                          amount_cents=1000 * (len(VALUES) - n))
            for n, v in enumerate(VALUES) for i in range(n * 10, n * 10 + 10)]


def guess_names(stack: Stack) -> list[str]:
    """The drawn names the board takes (it refuses some, by its own rules), as it keeps them."""
    board = GuessBoard(stack.settings.data_dir, closing_ms(GUESSES_CLOSE_AT, "2026-11-11"))
    taken = []
    for i, name in enumerate(NAMES):
        try:
            guess = board.submit(Guesser.by_name(name, "test"), f"{300 + i}亿", MIDNIGHT_MS)
        except GuessError:
            continue
        taken.append(guess.name)
    return taken


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("shown-text"),
                       {"GMV_GUESSES_CLOSE_AT": GUESSES_CLOSE_AT}) as running:
        sent = orders()
        publish_sample(running, sent)
        wait_for(lambda: running.live().get("orders") == len(sent), 60,
                 f"the worker did not count the orders of {VALUES!r}")
        wait_for(lambda: set(VALUES) <= set(json.loads(
            running.client.get(running.settings.night_key) or "{}").get("by_region", {})), 30,
            "the night document never had every region")
        wait_for(lambda: json_when_ready(running.base_url + "/api/summary").get("orders") ==
                 len(sent), 60, "the history files never caught up")
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


def lines_of(page: Page, selector: str, count: int) -> list[str]:
    expect(page.locator(selector)).to_have_count(count, timeout=20_000)
    return sorted(str(page.evaluate(texts_of(selector))).split("\n")) if count else []


def expected(values: list[str], max_chars: int | None = None) -> list[str]:
    return sorted(shown(value_name("zh", v), max_chars) for v in values)


def assert_only_text_and_nothing_sticks_out(page: Page, name: str) -> None:
    screenshot(page, f"shown-text-{name}")
    assert page.evaluate(MADE_BY_MARKUP) == NOTHING_MADE, VALUES
    found: dict[str, Any] = page.evaluate(MEASURE)
    assert not found["problems"], (VALUES, found["problems"][:10])


def test_the_big_screen_shows_each_value_as_its_text(stack: Stack, page: Page) -> None:
    page.goto(stack.base_url + "/")
    for chart in (Ids.REGIONS, Ids.CATEGORIES):
        assert lines_of(page, f"#{chart} .ytick text", len(VALUES)) == \
            expected(VALUES, BAR_NAME_CHARS), VALUES
    assert_only_text_and_nothing_sticks_out(page, "big-screen")


def test_ops_shows_each_value_as_its_text(stack: Stack, page: Page) -> None:
    page.goto(stack.base_url + "/ops")
    for chart in (Ids.REGIONS, Ids.CATEGORIES):
        assert lines_of(page, f"#{chart} .ytick text", len(VALUES)) == \
            expected(VALUES, BAR_NAME_CHARS), VALUES
    assert lines_of(page, f"#{Ids.MERCHANTS} td.name", len(VALUES)) == \
        sorted(shown(v) for v in VALUES), VALUES
    page.wait_for_function("() => !document.querySelector('.dash-graph--pending')")
    assert_only_text_and_nothing_sticks_out(page, "ops")


def test_the_review_shows_each_value_as_its_text(stack: Stack, page: Page) -> None:
    page.goto(stack.base_url + "/review")
    expect(page.locator(f"#{Ids.REVIEW_CONTRIBUTORS} tr.clickable").first).to_be_visible(
        timeout=20_000)
    values = lines_of(page, f"#{Ids.REVIEW_CONTRIBUTORS} td.name", 12)
    payments = [v[:PAYMENT_CHARS] for v in VALUES]
    assert set(values) <= set(expected([*VALUES, *payments, "mobile"])), (VALUES, values)
    page.locator(f"#{Ids.REVIEW_DIMENSION}").click()
    page.get_by_role("option", name="地区", exact=True).click()
    assert lines_of(page, f"#{Ids.REVIEW_CHART} .legendtext", len(VALUES)) == \
        expected(VALUES, LEGEND_NAME_CHARS), VALUES
    page.wait_for_function("() => !document.querySelector('.dash-graph--pending')")
    assert_only_text_and_nothing_sticks_out(page, "review")


def test_the_guess_board_shows_each_name_as_its_text(stack: Stack, page: Page) -> None:
    names = guess_names(stack)
    assert names, NAMES
    page.goto(stack.base_url + "/guess")
    assert lines_of(page, f"#{Ids.GUESS_BOARD} td:nth-child(2)", len(names)) == \
        sorted(shown(n) for n in names), NAMES
    assert_only_text_and_nothing_sticks_out(page, "guess")
