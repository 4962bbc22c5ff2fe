"""Attack: a pushed screen left on while the night goes on, its four night charts grown by
deltas (extendTraces) several times, then the worker stopped while the push keeps beating. The
charts must be the charts drawn whole, and the banner must say the numbers are stale (> 3 s)
without the page falling back to polling."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from dashboard.ids import Ids
from tests.conftest import wait_for
from tests.e2e.conftest import Stack, publish_sample
from tests.sample import sample_payloads

CHARTS = {"night": "night-chart", "trend": "device-trend", "categories": "categories",
          "regions": "regions"}


def drawn(page: Page, chart_id: str) -> Any:
    return page.evaluate(
        "(id) => document.querySelector('#' + id + ' .js-plotly-plot').data"
        ".map(t => [Array.from(t.x || []), Array.from(t.y || [])])", chart_id)


def whole(stack: Stack, page: Page, name: str) -> Any:
    figure = page.request.get(stack.base_url + "/api/night-figures?lang=en").json()[name]
    return [[list(t.get("x") or []), list(t.get("y") or [])] for t in figure["data"]]


def as_drawn(shown: Any, whole: Any) -> bool:
    """A horizontal bar chart too short for its bars shows the largest ones that fit (fit.js's
    fitBars, the last points): the chart drawn whole is its tail."""
    return len(shown) == len(whole) and all(
        len(s[0]) <= len(w[0]) and [w[0][len(w[0]) - len(s[0]):], w[1][len(w[1]) - len(s[1]):]] == s
        for s, w in zip(shown, whole, strict=True))


def test_pushed_charts_are_the_whole_charts_and_a_stopped_worker_shows_stale(
        fresh_stack: Stack, page: Page) -> None:
    stack = fresh_stack
    payloads = sample_payloads()
    publish_sample(stack, payloads[:2_000])
    wait_for(lambda: stack.live().get("orders", 0) > 0, 60, "the worker published nothing")
    opens: list[str] = []
    page.on("request", lambda r: opens.append(r.url) if "/api/stream" in r.url else None)
    page.goto(stack.base_url + "/?lang=en")
    wait_for(lambda: page.evaluate("window.gmvPush.frames") > 0, 30, "nothing was pushed")
    versions = set()
    for start in range(2_000, 14_000, 3_000):
        before = page.evaluate("window.gmvPush.nightVersion")
        publish_sample(stack, payloads[start:start + 3_000])
        wait_for(lambda before=before: page.evaluate("window.gmvPush.nightVersion") != before, 30,
                 "the night's charts were never pushed again")
        versions.add(page.evaluate("window.gmvPush.nightVersion"))
    assert len(versions) >= 3
    assert len(opens) == 1, f"the page opened its stream again while nothing failed: {opens}"
    for name, chart_id in CHARTS.items():
        wait_for(lambda name=name, chart_id=chart_id:
                 as_drawn(drawn(page, chart_id), whole(stack, page, name)), 40,
                 f"the pushed {name} chart differs from the one drawn whole")
    expect(page.locator(f"#{Ids.STALE_BANNER}")).to_be_hidden()

    stack.stop_worker()
    banner = page.locator(f"#{Ids.STALE_BANNER}")
    expect(banner).to_contain_text("No update for", timeout=8_000)
    assert page.evaluate("performance.now() - window.gmvPush.heardAt") < 3_000, "the push went silent"
    expect(page.locator(f"#{Ids.PUSH_STATE}")).to_have_text("")
