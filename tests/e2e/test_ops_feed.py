"""The /ops alert feed on a night with many alerts firing, in Chromium at the war room's two
screen sizes: every firing alert in sight (no inner scroll box hiding some), the count, the
acknowledgement toast beside the feed, and a press that the feed's redraw cannot lose."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.format import clock
from dashboard.ids import Ids
from ingest.contract import Fate
from rehearsal.publish import StreamPublisher
from tests.conftest import wait_for
from tests.e2e.conftest import LIVE_BANNER, Stack, let_in, publish_sample, running_stack, screenshot
from tests.sample import STOCK, TRUTH, reference_verdicts, sample_payloads

EXTRA_OVERSOLD = 12  # items declared with a stock of 1 that the sample night sold more of
SIZES = {"1366x768": (1366, 768), "1920x1080": (1920, 1080)}
ALERT_COUNT = "alert-count"  # Ids.ALERT_COUNT, spelled out so that this file runs on older code


def oversold_items(n: int) -> list[str]:
    """The `n` items (not in the sample's stock file) the sample night sold most units of."""
    declared = {json.loads(line)["item_id"] for line in STOCK.read_bytes().splitlines()}
    sold: Counter[str] = Counter()
    for verdict in reference_verdicts():
        if verdict.fate is Fate.ACCEPTED and verdict.order:
            sold[verdict.order.item_id] += verdict.order.quantity
    return [item for item, units in sold.most_common() if item not in declared and units > 1][:n]


def order_for(item: str, number: int) -> bytes:
    """One more accepted order of `item`, late, in the sample night's last minute."""
    return json.dumps({"order_id": f"feed-test-{number}", "ts": 1794326870000, "amount": "19.90",
                       "device": "mobile", "category": "apparel", "region": "ZJ",
                       "merchant_id": "m-feed", "buyer_id": "u-feed", "item_id": item,
                       "quantity": 1}).encode()


def stored_alerts(stack: Stack) -> list[dict[str, Any]]:
    """What the worker and the watchdog published for the operations view."""
    raws = [stack.client.get(k) for k in (stack.settings.alerts_key,
                                           stack.settings.pipeline_alerts_key)]
    return [a for raw in raws if raw for a in json.loads(raw)["alerts"]]


def firing(stack: Stack) -> list[dict[str, Any]]:
    return [a for a in stored_alerts(stack) if a["state"] == "firing"]


@pytest.fixture(scope="module")
def alerted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The sample night with a dozen more items sold beyond their stock: more than ten alerts
    firing at once."""
    items = oversold_items(EXTRA_OVERSOLD)
    assert len(items) == EXTRA_OVERSOLD
    with running_stack(tmp_path_factory.mktemp("feed")) as stack:
        stock = [json.dumps({"item_id": i, "ts": 1794326280001, "stock": 1}).encode() for i in items]
        StreamPublisher(stack.client, stack.settings.inventory_stream).publish(
            [*STOCK.read_bytes().splitlines(), *stock])
        publish_sample(stack, sample_payloads())
        wait_for(lambda: stack.live().get("orders") == TRUTH["accepted"], 120,
                 "the worker never counted the sample")
        wait_for(lambda: len(firing(stack)) >= 10 + 1, 60, "fewer than ten alerts fire")
        yield stack


def open_ops(browser: Browser, stack: Stack, size: str, lang: str) -> Page:
    width, height = SIZES[size]
    context = let_in(browser.new_context(viewport={"width": width, "height": height},
                                         locale="zh-CN", timezone_id="Europe/London"))
    page = context.new_page()
    page.on("pageerror", lambda error: pytest.fail(f"the page raised: {error}"))
    page.goto(f"{stack.base_url}/ops?lang={lang}")
    # Live: the staleness banner is down (the page's clientside tick runs).
    expect(page.locator(f"#{Ids.STALE_BANNER}")).to_have_class(LIVE_BANNER, timeout=15_000)
    return page


CLIPPED_ROWS = """(selector) => {
  // Each row against every box around it that clips (an inner scroll box): a row cut by one, or
  // pushed beyond the page's width, is a row nobody sees whole.
  const clipping = (el) => /(auto|scroll|hidden|clip)/.test(
      getComputedStyle(el).overflowX + ' ' + getComputedStyle(el).overflowY);
  const out = [];
  for (const row of document.querySelectorAll(selector)) {
    const r = row.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) { out.push({row: row.innerText, by: 'not shown'}); continue; }
    if (r.left < -0.5 || r.right > document.documentElement.clientWidth + 0.5) {
      out.push({row: row.innerText, by: 'the page width'}); continue; }
    for (let el = row.parentElement; el && el !== document.body; el = el.parentElement) {
      if (!clipping(el)) continue;
      const c = el.getBoundingClientRect();
      if (r.top < c.top - 0.5 || r.bottom > c.bottom + 0.5 || r.left < c.left - 0.5
          || r.right > c.right + 0.5) {
        out.push({row: row.innerText, by: el.id || el.className}); break; }
    }
  }
  return out;
}"""

FIRING_ROWS = f"#{Ids.ALERTS} li.alert.firing"


def overlaps(a: dict[str, float] | None, b: dict[str, float] | None) -> bool:
    if not a or not b or not a["width"] or not a["height"]:
        return False
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


@pytest.mark.parametrize(("size", "lang"), [("1366x768", "zh"), ("1920x1080", "en")])
def test_every_firing_alert_is_in_sight_with_its_count(alerted: Stack, browser: Browser,
                                                       size: str, lang: str) -> None:
    page = open_ops(browser, alerted, size, lang)
    now_firing = firing(alerted)
    waiting = [a for a in now_firing if not a.get("acknowledged_ms")]
    expect(page.locator(FIRING_ROWS)).to_have_count(len(waiting), timeout=15_000)
    for alert in waiting:
        where = (alert["dimension"] or "").split("=", 1)[-1]  # the row names it, not its key
        expect(page.locator(FIRING_ROWS, has_text=where)).not_to_have_count(0)
    clipped = page.evaluate(CLIPPED_ROWS, FIRING_ROWS)
    assert not clipped, f"firing alerts cut off: {clipped}"
    count = (f"{len(now_firing)} 起事件进行中 · {len(waiting)} 起待确认" if lang == "zh"
             else f"{len(now_firing)} firing · {len(waiting)} unacknowledged")
    expect(page.locator(f"#{ALERT_COUNT}")).to_have_text(count)
    # One clock, the night's, which the alerts are stamped by (not the wall clock beside it).
    header = page.locator("header .clock-box:visible")
    expect(header).to_have_count(1)
    expect(header).to_contain_text("夜晚时间" if lang == "zh" else "Night time")
    expect(header).to_contain_text(clock(alerted.live()["latest_second_ms"]))
    screenshot(page, f"ops-feed-{size}-{lang}")
    page.context.close()


def test_a_press_is_recorded_while_the_feed_redraws_and_the_toast_hides_no_alert(
        alerted: Stack, browser: Browser) -> None:
    stack = alerted
    page = open_ops(browser, stack, "1366x768", "en")
    items = oversold_items(EXTRA_OVERSOLD)
    pressed_item, other_item = items[0], items[1]
    row = page.locator(FIRING_ROWS, has_text=pressed_item)
    button = row.get_by_role("button", name="Acknowledge")
    expect(button).to_be_visible(timeout=15_000)
    other = next(a for a in firing(stack) if a["dimension"] == f"item={other_item}")
    sold_before = int(other["actual"])
    # The press begins, the feed redraws (another alert's figures change), and the press ends.
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    StreamPublisher(stack.client, stack.settings.orders_stream).publish(
        [order_for(other_item, 1)])
    expect(page.locator(FIRING_ROWS, has_text=other_item)).to_contain_text(
        f"{sold_before + 1} accepted", timeout=15_000)
    page.mouse.up()
    expect(page.locator(f"#{Ids.ACK_NOTE}")).to_contain_text("acknowledged", timeout=5_000)
    wait_for(lambda: any(a["dimension"] == f"item={pressed_item}" and a.get("acknowledged_ms")
                         for a in firing(stack)), 15, "the acknowledgement was never recorded")
    # Said by how long ago and by whom, in the fold of the acknowledged; the toast tells no
    # wall-clock time either.
    acked = page.locator(f"#{Ids.ALERTS} details li.alert", has_text=pressed_item)
    expect(acked).to_contain_text("acknowledged by this machine · just now")
    assert not re.search(r"\d\d:\d\d:\d\d", page.locator(f"#{Ids.ACK_NOTE}").inner_text())
    # The toast covers no alert.
    note = page.locator(f"#{Ids.ACK_NOTE}").bounding_box()
    for alert_row in page.locator(f"#{Ids.ALERTS} li.alert").all():
        assert not overlaps(note, alert_row.bounding_box()), "the toast covers an alert"
    screenshot(page, "ops-feed-acknowledged")
    page.context.close()


def test_the_feed_is_not_redrawn_while_its_alerts_stay_the_same(alerted: Stack,
                                                                browser: Browser) -> None:
    page = open_ops(browser, alerted, "1920x1080", "en")
    expect(page.locator(FIRING_ROWS).first).to_be_visible(timeout=15_000)
    page.evaluate(f"""() => {{
        window.feedChanges = 0; window.heartbeats = 0;
        // A callback running marks the list (data-dash-is-loading): that is no redraw.
        new MutationObserver((changes) => {{ window.feedChanges += changes.filter(
            (c) => c.attributeName !== 'data-dash-is-loading').length; }}).observe(
            document.getElementById('{Ids.ALERTS}'),
            {{childList: true, subtree: true, characterData: true, attributes: true}});
        new MutationObserver(() => window.heartbeats++).observe(
            document.getElementById('{Ids.HEARTBEAT}'),
            {{childList: true, subtree: true, characterData: true}}); }}""")
    # Three refreshes of the pipeline tiles (the feed's own tick) with nothing new for the feed.
    wait_for(lambda: page.evaluate("() => window.heartbeats") >= 3, 20, "the tiles never refreshed")
    assert page.evaluate("() => window.feedChanges") == 0
    page.context.close()
