"""The charts read when the night is crowded (issue #24, item 7): every milestone of the night
crossed, a dozen incidents, measured in Chromium at 1366x768, 1920x1080 and 3840x2160. No two
labels overlap; an incident's label stands at its band; an axis covers its data; the review's
'by dimension' lines have their own scale; bar labels stay readable; lines widen with the screen;
the bands are there on a fresh load. Screenshots of the crowded screens go to test-artifacts/ (or
GMV_ARTIFACTS_DIR: docs/screenshots/ holds the ones taken with GMV_ARTIFACTS_DIR=docs/screenshots)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from dashboard.format import format_exact
from dashboard.ids import Ids
from rehearsal.publish import StreamPublisher
from tests.conftest import wait_for
from tests.e2e.conftest import (
    ARTIFACTS,
    Stack,
    json_when_ready,
    let_in,
    publish_sample,
    running_stack,
)
from tests.sample import STOCK, TRUTH, sample_payloads

SIZES = {"1366x768": (1366, 768), "1920x1080": (1920, 1080), "3840x2160": (3840, 2160)}
PHONE = {"390x844": (390, 844)}
# Where a chart's plot holds less of the reference plot than a wall's (dashboard/chart_labels.py):
# a small phone, a tablet, a window of a laptop's width.
NARROW = {"360x740": (360, 740), "768x1024": (768, 1024), "1024x768": (1024, 768)}
# 101 orders of just under ¥1,000万 at half a minute past midnight: the night crosses ¥1亿 and
# ¥10亿 in one second, on top of the sample's ¥100万 and ¥1,000万.
WHALES = 101
WHALE_YUAN = Decimal("9999999.99")
WHALE_TS_MS = 1794326430000  # 2026-11-11 00:00:30 Beijing time
CROWDED_CENTS = int((Decimal(TRUTH["gmv"]) + WHALES * WHALE_YUAN) * 100)
OVERSOLD = 5  # whales' items, each oversold in that second: five alerts at one moment
MIN_ALERTS = 10
MIN_BAR_TEXT_PX = 14
GMV_LINE_PX = 4  # the night's GMV line at 1080p (dashboard/figures.py)

# Everything a chart writes, as boxes on the screen: the annotations (incident labels), the
# texts in the plot (milestones, bar values, shape labels), tick labels and the legend.
LABELS = """(id) => {
  const gd = document.querySelector(`#${id} .js-plotly-plot`);
  const shown = el => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  const box = el => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const labels = [];
  for (const note of gd.querySelectorAll('g.annotation')) {
    const bg = note.querySelector('.annotation-text-g rect.bg') || note;
    if (!shown(bg)) continue;
    const index = Number(note.getAttribute('data-index'));
    labels.push({kind: 'annotation', text: note.textContent, box: box(bg), index,
                 name: (gd.layout.annotations[index] || {}).name || ''});
  }
  for (const text of gd.querySelectorAll('svg text')) {
    if (text.closest('g.annotation') || text.closest('.hoverlayer') || !text.textContent.trim()
        || !shown(text)) continue;
    const kind = text.closest('.xtick, .ytick') ? 'tick' : text.closest('.legend') ? 'legend'
      : 'text';
    labels.push({kind, text: text.textContent, box: box(text),
                 size: parseFloat(getComputedStyle(text).fontSize),
                 bar: !!text.closest('.bartext, g.points')});
  }
  const rect = gd.getBoundingClientRect(), size = gd._fullLayout._size;
  const plot = {left: rect.left + size.l, right: rect.left + size.l + size.w,
                top: rect.top + size.t, bottom: rect.top + size.t + size.h};
  for (const note of gd.querySelectorAll('g.annotation')) {
    const label = labels.find(x => x.kind === 'annotation'
                                   && x.index === Number(note.getAttribute('data-index')));
    const text = note.querySelector('text');
    if (label && text) label.size = parseFloat(getComputedStyle(text).fontSize);
  }
  const bands = {};
  for (const path of gd.querySelectorAll('.shapelayer path[data-index]')) {
    const r = path.getBoundingClientRect();
    bands[path.getAttribute('data-index')] = {left: Math.max(r.left, plot.left),
                                              right: Math.min(r.right, plot.right)};
  }
  const ys = gd.data.flatMap(trace => (trace.y || []).filter(v => typeof v === 'number'));
  const yaxis = gd._fullLayout.yaxis;
  const lines = gd.data.filter(t => t.type === 'scatter' && t.line && t.line.width)
    .map(t => ({name: t.name || '', width: t.line.width}));
  const stroke = [...gd.querySelectorAll('.scatterlayer .js-line')]
    .map(p => parseFloat(getComputedStyle(p).strokeWidth));
  return {labels, bands, maxY: ys.length ? Math.max(...ys) : 0,
          range: yaxis.range.map(Number), tickvals: (yaxis.tickvals || []).map(Number),
          lines, stroke, plot, rootPx: parseFloat(getComputedStyle(document.documentElement).fontSize)};
}"""


def overlapping(labels: list[dict[str, Any]]) -> list[str]:
    """Pairs of labels whose boxes overlap by more than a pixel (tick labels of one axis are
    test_sizes.py's)."""
    found = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            p, q = a["box"], b["box"]
            if p["left"] < q["right"] - 1 and q["left"] < p["right"] - 1 and \
                    p["top"] < q["bottom"] - 1 and q["top"] < p["bottom"] - 1:
                found.append(f"{a['kind']} {a['text']!r} and {b['kind']} {b['text']!r}")
    return found


def away_from_bands(measured: dict[str, Any]) -> list[str]:
    """Incident labels not at their bands: inside the band where the band is wider than the
    label, else across its middle. A label names its bands ('bands:3' or 'bands:3,4,5'); one
    without a name labels the shape of its own index (one label per band)."""
    wrong = []
    for label in (x for x in measured["labels"] if x["kind"] == "annotation"):
        name = label["name"] or f"bands:{label['index']}"
        assert name.startswith("bands:"), f"an annotation of no band: {label}"
        bands = [measured["bands"][i] for i in name[6:].split(",")]
        left, right = min(b["left"] for b in bands), max(b["right"] for b in bands)
        box = label["box"]
        if right - left >= box["right"] - box["left"]:
            ok = box["left"] >= left - 2 and box["right"] <= right + 2
        else:
            ok = box["left"] - 1 <= (left + right) / 2 <= box["right"] + 1
        if not ok:
            wrong.append(f"{label['text']!r} at {box['left']:.0f}..{box['right']:.0f}, "
                         f"its band {left:.0f}..{right:.0f}")
    return wrong


def measure(page: Page, chart: str) -> dict[str, Any]:
    """The chart as drawn at a moment when fit.js is not between a draw and its check of the
    labels (after which it may draw them again, laid out for a narrower plot)."""
    settled = page.wait_for_function(
        f"([id]) => !(window.gmvFit && window.gmvFit.pending > 0) && ({LABELS})(id)", arg=[chart],
        timeout=15_000)
    found: dict[str, Any] = settled.json_value()
    return found


def whales() -> list[bytes]:
    return [json.dumps({"order_id": f"whale-{i}", "ts": WHALE_TS_MS, "amount": str(WHALE_YUAN),
                        "device": "mobile", "category": "digital", "region": "ZJ",
                        "merchant_id": "m-whale", "buyer_id": f"b-whale-{i}",
                        "item_id": f"i-whale-{i % OVERSOLD}", "quantity": 1}).encode()
            for i in range(WHALES)]


def whale_stock() -> list[bytes]:
    """None of the whales' items in stock: each is oversold, all in the same second."""
    return [json.dumps({"item_id": f"i-whale-{i}", "ts": WHALE_TS_MS - 60_000, "stock": 0}).encode()
            for i in range(OVERSOLD)]


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The sample night with its stock, and the whales: every incident of the sample and four
    milestones, two of them in the same second."""
    with running_stack(tmp_path_factory.mktemp("crowded")) as stack:
        StreamPublisher(stack.client, stack.settings.inventory_stream).publish(
            [*STOCK.read_bytes().splitlines(), *whale_stock()])
        publish_sample(stack, [*sample_payloads(), *whales()])
        accepted = TRUTH["accepted"] + WHALES
        wait_for(lambda: stack.live().get("orders") == accepted, 120,
                 "the worker never counted the night")
        wait_for(lambda: json_when_ready(stack.base_url + "/api/summary").get("orders") == accepted,
                 60, "the history files never caught up")
        wait_for(lambda: len(json_when_ready(stack.base_url + "/api/alerts") or []) >= MIN_ALERTS,
                 60, "the detectors raised too few alerts")
        wait_for(lambda: "¥10亿" in json.dumps(
            json_when_ready(stack.base_url + "/api/night-figures?lang=zh").get("milestones"),
            ensure_ascii=False), 60, "the night's figures never reached ¥10亿")
        yield stack


def outside_plot(measured: dict[str, Any]) -> list[str]:
    """Incident labels not wholly inside the plot area (cut at its edge)."""
    plot = measured["plot"]
    return [f"{x['text']!r} at {x['box']['left']:.0f}..{x['box']['right']:.0f}, the plot "
            f"{plot['left']:.0f}..{plot['right']:.0f}"
            for x in measured["labels"] if x["kind"] == "annotation"
            and (x["box"]["left"] < plot["left"] - 1 or x["box"]["right"] > plot["right"] + 1
                 or x["box"]["top"] < plot["top"] - 1 or x["box"]["bottom"] > plot["bottom"] + 1)]


def incident_label_problems(page: Page, charts: tuple[str, ...]) -> list[str]:
    """Each chart's incident labels that overlap, are cut at the plot's edge or stand away from
    their bands (each chart has some)."""
    problems = []
    for chart in charts:
        found = measure(page, chart)
        notes = [x for x in found["labels"] if x["kind"] == "annotation"]
        assert notes, (chart, found["labels"])
        problems += [f"{chart}: {p}" for p in [f"{q} overlap" for q in overlapping(notes)]
                     + outside_plot(found) + away_from_bands(found)]
    return problems


# What Plotly was asked to draw, in order ("react:ops-chart"), for waiting on a redraw.
PLOTLY_CALLS = """(() => { const calls = window.__plotly = [];
  const spying = setInterval(() => { const P = window.Plotly;
    if (!P) return;
    clearInterval(spying);
    for (const name of ['react', 'relayout']) { const call = P[name];
      P[name] = function (gd, ...rest) { const graph = gd && gd.closest && gd.closest('.dash-graph');
        calls.push(name + ':' + (graph ? graph.id : '')); return call.call(this, gd, ...rest); }; }
  }, 1);
})()"""


# Every chart's text drawn wider than the server reckons it (a browser with other fonts).
WIDER_TEXT = """document.addEventListener('DOMContentLoaded', () => {
  const style = document.createElement('style');
  style.textContent = 'svg text { letter-spacing: 0.3em !important; }';
  document.head.appendChild(style); })"""


def open_at(browser: Browser, stack: Stack, path: str, size: str, *scripts: str) -> Page:
    width, height = {**SIZES, **PHONE, **NARROW}[size]
    context = let_in(browser.new_context(viewport={"width": width, "height": height},
                                         device_scale_factor=1, locale="zh-CN"))
    page = context.new_page()
    for script in (PLOTLY_CALLS, *scripts):
        page.add_init_script(script)
    page.goto(stack.base_url + path)
    return page


def crowded_night_drawn(page: Page) -> None:
    expect(page.locator(f"#{Ids.GMV_EXACT}")).to_have_text(format_exact(CROWDED_CENTS),
                                                           timeout=30_000)
    page.wait_for_function(f"""() => ['{Ids.NIGHT_CHART}', '{Ids.OPS_CHART}'].every(id =>
        document.querySelectorAll(`#${{id}} g.annotation`).length > 0)
        && [...document.querySelectorAll('#{Ids.NIGHT_CHART} .textpoint text')]
           .some(t => t.textContent.includes('¥10亿'))
        && document.querySelectorAll('#{Ids.REGIONS} .bartext, #{Ids.REGIONS} g.points text')
           .length > 0""", timeout=30_000)


@pytest.mark.parametrize("size", list(SIZES))
def test_the_crowded_big_screen_reads_at_every_size(crowded: Stack, browser: Browser,
                                                    size: str) -> None:
    page = open_at(browser, crowded, "/", size)
    try:
        crowded_night_drawn(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"crowded-big-screen-{size}.png"))
        assert not unreadable(page, size), "\n".join(unreadable(page, size))
    finally:
        page.context.close()


def unreadable(page: Page, size: str) -> list[str]:
    """What a person at the wall could not read on the big screen, every kind of it at once."""
    problems = []
    for chart in (Ids.NIGHT_CHART, Ids.OPS_CHART, Ids.CATEGORIES, Ids.REGIONS, Ids.DEVICE_TREND):
        found = measure(page, chart)
        problems += [f"{chart}: {p} overlap" for p in overlapping(found["labels"])]
        problems += [f"{chart}: {p}" for p in away_from_bands(found)]
    night = measure(page, Ids.NIGHT_CHART)
    if night["range"][1] < night["maxY"] or max(night["tickvals"]) < night["maxY"]:
        problems.append(f"night: axis {night['range']}, ticks to {max(night['tickvals'])}, "
                        f"data to {night['maxY']}")
    milestones = " ".join(x["text"] for x in night["labels"] if x["kind"] == "text")
    if "¥10亿" not in milestones or "¥100万" not in milestones:
        problems.append(f"night: milestones {milestones!r}")
    # The GMV line widens with the screen (the root font size says how much).
    k = night["rootPx"] / 16
    if max(night["stroke"]) < 0.9 * GMV_LINE_PX * k:
        problems.append(f"night: lines {night['stroke']} px at scale {k:.2f}")
    if size != "3840x2160":
        for chart in (Ids.CATEGORIES, Ids.REGIONS):  # the bars' values and names
            found = measure(page, chart)["labels"]
            small = [(x["text"], x["size"]) for x in found if x["size"] < MIN_BAR_TEXT_PX]
            if small or not any(x.get("bar") for x in found):
                problems.append(f"{chart}: bar labels under {MIN_BAR_TEXT_PX} px: {small}")
    return problems


def test_incident_bands_are_drawn_on_the_first_load(crowded: Stack, browser: Browser) -> None:
    """Before the night's figures are first fetched (never, here): the page as it was served."""
    context = let_in(browser.new_context(viewport={"width": 1920, "height": 1080}))
    page = context.new_page()
    page.route("**/api/night-figures*", lambda route: route.abort())
    try:
        page.goto(crowded.base_url + "/")
        for chart in (Ids.NIGHT_CHART, Ids.OPS_CHART):
            page.wait_for_function(f"""() => document.querySelectorAll(
                '#{chart} .shapelayer path[data-index]').length > 0
                && document.querySelectorAll('#{chart} g.annotation').length > 0""",
                                   timeout=15_000)
    finally:
        context.close()


@pytest.mark.parametrize("size", ["1366x768", "1920x1080"])
def test_the_review_by_dimension_has_its_own_scale(crowded: Stack, browser: Browser,
                                                   size: str) -> None:
    """A range after the whales, against the previous range (which has them): by region, each
    region's line is drawn on a scale of its own, not against the previous range's total."""
    page = open_at(browser, crowded, "/review", size)
    try:
        chart = Ids.REVIEW_CHART
        for field, value in ((Ids.REVIEW_START, "2026-11-11 00:02:00"),
                             (Ids.REVIEW_END, "2026-11-11 00:06:00")):
            page.locator(f"#{field}").fill(value)
            page.locator(f"#{field}").press("Enter")
        page.locator(f"#{Ids.REVIEW_COMPARE}").get_by_text("前一时段").click()
        page.wait_for_function(f"""() => {{ const gd = document.querySelector('#{chart} .js-plotly-plot');
            return gd && gd.data.length > 1 && gd.data[0].x.length
              && gd.data[0].x[0].startsWith('2026-11-11 00:02'); }}""", timeout=30_000)
        total = measure(page, chart)
        assert total["range"][1] >= total["maxY"] and max(total["tickvals"]) >= total["maxY"], \
            (total["range"], total["tickvals"], total["maxY"])
        assert not overlapping(total["labels"]), overlapping(total["labels"])
        assert not away_from_bands(total), away_from_bands(total)

        page.locator(f"#{Ids.REVIEW_DIMENSION}").click()
        page.get_by_role("option", name="地区", exact=True).click()
        page.wait_for_function(f"""() => {{ const gd = document.querySelector('#{chart} .js-plotly-plot');
            return gd && gd.data.length > 3; }}""", timeout=30_000)
        regions = measure(page, chart)
        assert regions["range"][1] >= regions["maxY"]
        assert max(regions["tickvals"]) >= regions["maxY"]
        # The largest region fills most of the chart, rather than a sliver under a total.
        assert regions["maxY"] >= 0.5 * regions["range"][1], (regions["maxY"], regions["range"])
        assert not overlapping(regions["labels"]), overlapping(regions["labels"])
        assert not away_from_bands(regions), away_from_bands(regions)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator(f"#{chart}").screenshot(path=str(ARTIFACTS / f"review-by-region-{size}.png"))
    finally:
        page.context.close()


@pytest.mark.parametrize(("size", "lang"), [("390x844", "zh"), ("390x844", "en"),
                                            ("360x740", "en"), ("768x1024", "zh"),
                                            ("1024x768", "zh"), ("1366x768", "zh"),
                                            ("3840x2160", "en")])
def test_incident_labels_neither_overlap_nor_are_cut(crowded: Stack, browser: Browser,
                                                     size: str, lang: str) -> None:
    """On a phone as on a wall: the night chart's incident labels apart and inside the plot
    (folded into a count where there is no room), in either language: the labels drawn are those
    laid out for the chart's plot."""
    page = open_at(browser, crowded, f"/?lang={lang}", size)
    try:
        page.wait_for_function(f"""() => document.querySelectorAll(
            '#{Ids.NIGHT_CHART} g.annotation').length > 0""", timeout=30_000)
        night = measure(page, Ids.NIGHT_CHART)
        notes = [x for x in night["labels"] if x["kind"] == "annotation"]
        assert notes, night["labels"]
        problems = [f"{p} overlap" for p in overlapping(notes)] + outside_plot(night) \
            + away_from_bands(night)
        if size in PHONE:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"phone-night-{lang}.png"), full_page=True)
        assert not problems, "\n".join(problems)
    finally:
        page.context.close()


@pytest.mark.parametrize(("size", "lang"), [("1366x768", "zh"), ("1920x1080", "zh")])
def test_labels_drawn_wider_than_reckoned_neither_overlap_nor_are_cut(
        crowded: Stack, browser: Browser, size: str, lang: str) -> None:
    """A browser whose fonts draw the labels wider than dashboard/chart_labels.py reckons (a CI
    machine's Chromium overlapped two at 1366x768): the labels laid out for a narrower plot are
    drawn instead, so none overlap or are cut, on the night and the orders/s charts."""
    page = open_at(browser, crowded, f"/?lang={lang}", size, WIDER_TEXT)
    try:
        crowded_night_drawn(page)
        page.wait_for_function(f"""() => /relayout:{Ids.OPS_CHART}/
            .test((window.__plotly || []).join(' '))""", timeout=30_000)
        problems = incident_label_problems(page, (Ids.NIGHT_CHART, Ids.OPS_CHART))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"wider-text-{size}-{lang}.png"))
        assert not problems, "\n".join(problems)
    finally:
        page.context.close()


@pytest.mark.parametrize(("size", "lang"), [("360x740", "zh"), ("768x1024", "en")])
def test_the_orders_chart_labels_neither_overlap_nor_are_cut(crowded: Stack, browser: Browser,
                                                             size: str, lang: str) -> None:
    """The orders/s chart, whose alerts live.js lays on: on a tablet, and on a phone, where it is
    one tap away (laid on while hidden, with no width yet, then drawn for its width once shown)."""
    page = open_at(browser, crowded, f"/?lang={lang}", size)
    try:
        page.wait_for_function(f"""() => /relayout:{Ids.OPS_CHART}/
            .test((window.__plotly || []).join(' '))""", timeout=30_000)
        if page.locator(f"#{Ids.MORE}").is_visible():
            refits = page.evaluate("() => window.gmvFit.refits")
            page.locator(f"#{Ids.MORE}").click()
            page.wait_for_function(f"() => window.gmvFit.refits > {refits}", timeout=15_000)
        ops = measure(page, Ids.OPS_CHART)
        notes = [x for x in ops["labels"] if x["kind"] == "annotation"]
        assert notes, ops["labels"]
        problems = [f"{p} overlap" for p in overlapping(notes)] + outside_plot(ops) \
            + away_from_bands(ops)
        assert not problems, "\n".join(problems)
    finally:
        page.context.close()


def test_a_window_made_narrow_draws_the_labels_laid_out_for_its_width(crowded: Stack,
                                                                    browser: Browser) -> None:
    """A wall's window made a tablet's: the night and orders/s charts' labels are those laid out
    for the narrower plots, not the wall's squeezed."""
    page = open_at(browser, crowded, "/", "1920x1080")
    try:
        crowded_night_drawn(page)
        page.wait_for_function(f"""() => /relayout:{Ids.OPS_CHART}/
            .test((window.__plotly || []).join(' '))""", timeout=30_000)
        page.set_viewport_size({"width": 768, "height": 1024})
        page.wait_for_function("() => window.gmvFit.refits >= 1", timeout=30_000)
        problems = incident_label_problems(page, (Ids.NIGHT_CHART, Ids.OPS_CHART))
        assert not problems, "\n".join(problems)
    finally:
        page.context.close()


@pytest.mark.parametrize("path", ["/", "/ops"])
def test_incident_labels_are_one_size_on_every_chart_at_4k(crowded: Stack, browser: Browser,
                                                           path: str) -> None:
    """At 4K the orders/s chart's incident labels are the size of the night chart's (fit.js
    scales every chart's text once), and each chart's labels keep their size beside its ticks."""
    page = open_at(browser, crowded, path, "3840x2160")
    try:
        crowded_night_drawn(page)
        # live.js lays the alerts on the orders/s chart (relayout); Dash draws that chart again
        # as its data grows (react): both have happened, in that order.
        page.wait_for_function(f"""() => /relayout:{Ids.OPS_CHART}.* react:{Ids.OPS_CHART}/
            .test((window.__plotly || []).join(' '))""", timeout=30_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / ("4k-night.png" if path == "/" else "4k-ops.png")))
        sizes = {}
        for chart in (Ids.NIGHT_CHART, Ids.OPS_CHART):
            found = measure(page, chart)["labels"]
            notes = [x["size"] for x in found if x["kind"] == "annotation"]
            ticks = [x["size"] for x in found if x["kind"] == "tick"]
            assert notes and ticks, (chart, found)
            sizes[chart] = (max(notes), max(ticks))
        (night_note, night_tick), (ops_note, ops_tick) = sizes[Ids.NIGHT_CHART], sizes[Ids.OPS_CHART]
        assert abs(ops_note - night_note) <= 0.1 * night_note, sizes
        assert abs(ops_tick - night_tick) <= 0.1 * night_tick, sizes
        assert abs(ops_note / ops_tick - night_note / night_tick) <= 0.1 * night_note / night_tick, sizes
    finally:
        page.context.close()


@pytest.mark.parametrize("size", ["1366x768", "1920x1080", "3840x2160"])
def test_the_review_axis_keeps_its_size_after_a_range_change(crowded: Stack, browser: Browser,
                                                             size: str) -> None:
    """The overview's axis text is the same size at first load and after a new range."""
    page = open_at(browser, crowded, "/review", size)
    chart = Ids.REVIEW_OVERVIEW
    ticks = f"""() => [...document.querySelectorAll('#{chart} .xtick text, #{chart} .ytick text')]
        .map(t => parseFloat(getComputedStyle(t).fontSize))"""
    try:
        page.wait_for_function(f"() => ({ticks})().length > 0", timeout=30_000)
        before = page.evaluate(ticks)
        for field, value in ((Ids.REVIEW_START, "2026-11-11 00:02:00"),
                             (Ids.REVIEW_END, "2026-11-11 00:06:00")):
            page.locator(f"#{field}").fill(value)
            page.locator(f"#{field}").press("Enter")
        page.wait_for_function(f"""() => {{ const gd = document.querySelector('#{chart} .js-plotly-plot');
            return gd && (gd.layout.shapes || []).some(s => String(s.x0).includes('00:02')); }}""",
                               timeout=30_000)
        after = page.evaluate(ticks)
        assert after and max(after) == pytest.approx(max(before), rel=0.02), (before, after)
        assert min(after) == pytest.approx(min(before), rel=0.02), (before, after)
    finally:
        page.context.close()



TEXT_SIZES = """() => Object.fromEntries([...document.querySelectorAll('.js-plotly-plot')].map(gd =>
    [gd.parentElement.id, [...gd.querySelectorAll('.xtick text, .ytick text, g.annotation text')]
        .map(t => parseFloat(getComputedStyle(t).fontSize))]).filter(([, sizes]) => sizes.length))"""


BAR_CHARTS = json.dumps([Ids.CATEGORIES, Ids.REGIONS])


@pytest.mark.parametrize("path", ["/review", "/ops"])
def test_a_resized_window_scales_the_charts_text_once(crowded: Stack, browser: Browser,
                                                      path: str) -> None:
    """A window made smaller and back: every chart's text as it was at first, and in between in
    proportion to the width (a refit is fitted from the figure as drawn, never from a fitted one:
    the /review axes went 16 -> 11 px at 1600 px and stayed small)."""
    page = open_at(browser, crowded, path, "1920x1080")
    try:
        if path == "/ops":
            crowded_night_drawn(page)
        else:
            page.wait_for_function(f"""() => document.querySelectorAll(
                '#{Ids.REVIEW_CHART} g.annotation').length > 0""", timeout=30_000)
        first = page.evaluate(TEXT_SIZES)
        for width, height, refits in ((1600, 900, 1), (1920, 1080, 2)):
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_function(f"() => window.gmvFit.refits >= {refits}", timeout=30_000)
            # Dash draws its figures again after a resize: the sizes settle once it has (the
            # bar charts' names keep a floor of their own, and are left out here).
            page.wait_for_function(f"""(first) => {{ const now = ({TEXT_SIZES})();
                return Object.keys(first).filter(id => !{BAR_CHARTS}.includes(id)).every(id =>
                    now[id] && Math.abs(Math.max(...now[id]) - Math.max(...first[id])
                    * {width / 1920}) <= 0.5); }}""", arg=first, timeout=30_000)
        last = page.evaluate(TEXT_SIZES)
        for chart, sizes in first.items():
            assert max(last[chart]) == pytest.approx(max(sizes), abs=0.2), (chart, sizes, last[chart])
            assert min(last[chart]) == pytest.approx(min(sizes), abs=0.2), (chart, sizes, last[chart])
    finally:
        page.context.close()
