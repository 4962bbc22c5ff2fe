"""Issue #23, row 4, as properties: whatever text a value of the stream or a person's name holds
(markup, entities, templates, formulas, control characters, bidi overrides, zero-width
characters, ten thousand characters), every place that shows it shows it as text: the escaping
helpers, the figure builders (no `<` of it reaches Plotly), the pages' components, the report.
The pages themselves are checked in Chromium (test_shown_text_in_chromium.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import dash
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from common.text import for_a_line
from dashboard.alert_feed import alert_items
from dashboard.figures import (
    BAR_NAME_CHARS,
    LEGEND_NAME_CHARS,
    alert_marks,
    buckets_figure,
    device_trend_figure,
    share_figure,
    totals_bar_figure,
)
from dashboard.format import STRINGS, text, value_name
from dashboard.guesses import Guess
from dashboard.outlook import big_screen_outlook, ops_outlook
from dashboard.report_text import report_html, report_lines
from dashboard.shown import ELLIPSIS, chart_text, shown
from tests.conftest import MIDNIGHT_MS
from tests.security.hostile_text import (
    any_shown_text,
    as_plotly_draws,
    hostile_text,
    is_invisible_or_reordering,
)

LANGS = st.sampled_from(("zh", "en"))
# Ten thousand characters through a figure or a report take longer than Hypothesis' 200 ms on a
# busy machine now and then; the time is not what is tested.
unhurried = settings(deadline=None)
# Our own markup in a figure: the line breaks and the hover's empty box of our templates, and
# the values they take.
OURS = re.compile(r"<br>|<extra></extra>|%\{(x|y|text|customdata)(:[^}]*)?\}")


# -- the helpers ----------------------------------------------------------------------------


@unhurried
@given(any_shown_text(), st.one_of(st.none(), st.integers(1, 80)))
def test_a_label_is_one_line_of_the_text_cut_where_asked(value: str, max_chars: int | None) -> None:
    line = shown(value, max_chars)
    assert not any(is_invisible_or_reordering(c) for c in line)
    whole = for_a_line(value)
    if max_chars is None or len(whole) <= max_chars:
        assert line == whole
    else:
        assert len(line) == max_chars and line.endswith(ELLIPSIS) and whole.startswith(line[:-1])


@unhurried
@given(any_shown_text(), st.one_of(st.none(), st.integers(1, 80)))
def test_plotly_draws_a_chart_label_as_exactly_the_text(value: str, max_chars: int | None) -> None:
    label = chart_text(value, max_chars)
    assert not set("<>$%") & set(label)
    assert re.fullmatch(r"([^&]|&amp;|&lt;|&gt;|&#36;|&#37;)*", label)
    assert as_plotly_draws(label) == shown(value, max_chars)


@unhurried
@given(st.text(alphabet=st.characters(categories=("L", "N", "Zs"), exclude_characters="$%"),
               max_size=24))
def test_plain_names_are_shown_as_they_are(value: str) -> None:
    assert shown(value, 24) == chart_text(value, 24) == value


@pytest.mark.parametrize("value", ["stale", "waiting", "forecast", "guess_saved", "all"])
def test_a_value_named_like_an_interface_phrase_is_its_name(value: str) -> None:
    assert value_name("en", value) == value != text("en", value)
    figure = totals_bar_figure({value: {"gmv_cents": 100}}, "en")
    assert figure["layout"]["yaxis"]["ticktext"] == [value]


# -- the figures ----------------------------------------------------------------------------


def strings_in(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings_in(v, k)
    elif isinstance(node, list | tuple):
        for v in node:
            yield from strings_in(v, key)
    elif isinstance(node, str):
        yield key, node


def assert_no_markup_but_ours(figure: dict[str, Any]) -> None:
    for key, string in strings_in(figure):
        left = OURS.sub("", string)
        assert not set("<>$") & set(left), (key, string)
        assert "%{" not in left, (key, string)


@unhurried
@given(st.lists(hostile_text(), min_size=1, max_size=12, unique=True), LANGS)
def test_bar_names_are_text(values: list[str], lang: str) -> None:
    totals = {v: {"gmv_cents": 1000 * (i + 1)} for i, v in enumerate(values)}
    figure = totals_bar_figure(totals, lang)
    assert_no_markup_but_ours(figure)
    best = sorted(values, key=lambda v: -totals[v]["gmv_cents"])[:10][::-1]
    ticks = figure["layout"]["yaxis"]["ticktext"]
    assert [as_plotly_draws(t) for t in ticks] == [shown(value_name(lang, v), BAR_NAME_CHARS)
                                                   for v in best]
    assert [as_plotly_draws(t) for t in figure["data"][0]["customdata"]] == \
        [shown(value_name(lang, v)) for v in best]
    assert figure["data"][0]["y"] == figure["layout"]["yaxis"]["tickvals"]


@unhurried
@given(st.lists(any_shown_text(), min_size=1, max_size=4, unique=True), hostile_text(), LANGS)
def test_line_names_are_text_in_the_legend_and_the_hover(values: list[str], compare_name: str,
                                                         lang: str) -> None:
    assume(not {"all", "bucket_ms"} & set(values))
    series: dict[str, list[Any]] = {"bucket_ms": [MIDNIGHT_MS, MIDNIGHT_MS + 60_000]}
    series |= {v: [1.0, 2.0] for v in values}
    figure = buckets_figure(series, lang, "gmv", series, compare_name)
    assert_no_markup_but_ours(figure)
    names = [as_plotly_draws(t["name"]) for t in figure["data"]]
    assert names[:len(values)] == [shown(value_name(lang, v), LEGEND_NAME_CHARS) for v in values]
    for trace, value in zip(figure["data"], values, strict=False):
        assert as_plotly_draws(trace["hovertemplate"]).startswith(shown(value_name(lang, value)))


@unhurried
@given(any_shown_text(), hostile_text(), LANGS)
def test_the_contributor_curve_names_its_value_as_text(name: str, baseline_name: str,
                                                       lang: str) -> None:
    figure = share_figure({"bucket_ms": [MIDNIGHT_MS], "now": [1.0]}, lang, name, baseline_name,
                          [2.0])
    assert_no_markup_but_ours(figure)
    assert as_plotly_draws(figure["data"][0]["name"]) == shown(name, LEGEND_NAME_CHARS)
    assert as_plotly_draws(figure["data"][1]["name"]) == shown(baseline_name, LEGEND_NAME_CHARS)


@unhurried
@given(st.lists(hostile_text(), min_size=1, max_size=4), LANGS)
def test_alert_labels_and_device_names_are_text(kinds: list[str], lang: str) -> None:
    alerts = [{"kind": kind, "severity": "critical", "state": "firing",
               "start_ms": MIDNIGHT_MS + i * 1000, "end_ms": None} for i, kind in enumerate(kinds)]
    marks = alert_marks(alerts, lang, MIDNIGHT_MS + 600_000, MIDNIGHT_MS)
    assert_no_markup_but_ours(marks)
    # Each its own label, or a line of a folded label's hover ("4 起事件"), in order.
    drawn = [as_plotly_draws(line) for a in marks["annotations"]
             for line in (a["hovertext"].split("<br>") if "hovertext" in a else [a["text"]])]
    assert drawn == [shown(value_name(lang, k)) for k in kinds]
    night = {"start_ms": MIDNIGHT_MS, "orders": [1], "devices": {k: [1] for k in kinds}}
    assert_no_markup_but_ours(device_trend_figure(night, lang))


# -- the pages' components ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages() -> Any:
    """The pages' modules (they register themselves with the Dash app of the process)."""
    dash.Dash(__name__, use_pages=True, pages_folder="")
    from dashboard.pages import ops, review

    return {"ops": ops, "review": review}


def texts_in(component: Any) -> Iterator[str]:
    """Every string a component tree puts on the page; none of it may be HTML to React."""
    if isinstance(component, str):
        yield component
    elif isinstance(component, list | tuple):
        for child in component:
            yield from texts_in(child)
    elif isinstance(component, dash.development.base_component.Component):
        props = component.to_plotly_json()["props"]
        assert "dangerously_allow_html" not in props, component
        assert type(component).__name__ not in ("Markdown", "Iframe"), component
        yield from texts_in(props.get("children"))
        for key in ("label", "title"):
            if isinstance(props.get(key), str):
                yield props[key]


def assert_shown_as_text(component: Any, *values: str) -> None:
    shown_texts = list(texts_in(component))
    assert not any(is_invisible_or_reordering(c) for t in shown_texts for c in t), shown_texts
    for value in values:
        assert any(shown(value) in t for t in shown_texts), (value, shown_texts)


@unhurried
@given(hostile_text(), hostile_text(), hostile_text(), LANGS)
def test_the_alert_feed_shows_its_values_as_text(where: str, message: str, who: str,
                                                 lang: str) -> None:
    # The message is the detector's English for machines: the feed words the alert's fields.
    alert = {"kind": "region_dark", "severity": "critical", "state": "resolved", "key": "k",
             "start_ms": MIDNIGHT_MS, "end_ms": MIDNIGHT_MS + 60_000, "dimension": where,
             "message": message, "acknowledged_ms": MIDNIGHT_MS + 1000, "acknowledged_by": who}
    assert_shown_as_text(alert_items([alert], lang), where, who)
    region = {**alert, "dimension": f"region={where}"}
    assert_shown_as_text(alert_items([region], lang), value_name(lang, where))


@unhurried
@given(st.lists(hostile_text(), min_size=1, max_size=4, unique=True), LANGS)
def test_guess_names_are_text_on_the_big_screen_and_ops(names: list[str], lang: str) -> None:
    guesses = tuple(Guess(f"k{i}", name, 100_000 * (i + 1), MIDNIGHT_MS + i, "x")
                    for i, name in enumerate(names))
    final = {"forecast": {"status": "ok", "method": "final", "final_gmv_cents": 100_000,
                          "low_cents": 1, "high_cents": 2, "as_of_ms": MIDNIGHT_MS},
             "latest_ms": MIDNIGHT_MS + 86_400_000}
    assert_shown_as_text(big_screen_outlook(final, guesses, MIDNIGHT_MS, lang), names[0])
    assert_shown_as_text(ops_outlook(final, None, guesses, MIDNIGHT_MS, lang), names[0])


@unhurried
@given(st.lists(hostile_text(), min_size=1, max_size=5, unique=True), hostile_text(), LANGS)
def test_merchants_values_and_incidents_are_text_on_ops_and_review(
        pages: Any, values: list[str], message: str, lang: str) -> None:
    night = {"top_merchants": {v: {"gmv_cents": 100, "orders": 1} for v in values}}
    assert_shown_as_text(pages["ops"].merchant_rows(night, lang), *values)
    rows = [contributor("region", v) for v in values]
    assert_shown_as_text(pages["review"]._change_table(rows, lang, True),
                         *(value_name(lang, v) for v in values))
    incident = incident_of(values[0], message)
    assert_shown_as_text(pages["review"]._incident_items([incident], lang), values[0])


# -- the report -----------------------------------------------------------------------------


def contributor(dimension: str, value: str) -> dict[str, Any]:
    return {"dimension": dimension, "value": value, "gmv_cents": 12_345, "share": 0.5,
            "baseline_share": 0.25, "delta_cents": 6_000}


def incident_of(dimension: str, message: str = "") -> dict[str, Any]:
    return {"start": "2026-11-11T00:05:00.000+08:00", "start_ms": MIDNIGHT_MS + 300_000,
            "duration_s": 90.0, "severity": "critical", "kind": "region_dark",
            "dimension": dimension, "message": message, "gmv_lost_cents": 1_000}


def report_of(value: str) -> dict[str, Any]:
    return {"from": "2026-11-11T00:00:00.000+08:00", "to": "2026-11-11T01:00:00.000+08:00",
            "gmv_cents": 100_000, "orders": 10, "peak": None, "milestones": [], "next_year": None,
            "baseline": {"with": "previous", "from": "2026-11-10T23:00:00.000+08:00",
                         "to": "2026-11-11T00:00:00.000+08:00", "gmv_cents": 50_000},
            "contributors": [contributor(d, value) for d in ("region", "merchant", "payment")],
            "incidents": [incident_of(f"region={value}")], "device_split": []}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(document: str) -> Page:
    page = Page()
    page.feed(document)
    page.close()
    return page


@unhurried
@given(any_shown_text())
def test_the_html_report_shows_a_value_as_text_and_nothing_else(value: str) -> None:
    hostile, plain = parsed(report_html(report_of(value))), parsed(report_html(report_of("x")))
    assert hostile.tags == plain.tags  # no element, no attribute came from the value
    assert shown(value) in hostile.text


@unhurried
@given(any_shown_text())
def test_the_text_report_keeps_a_value_on_its_line(value: str) -> None:
    lines = report_lines(report_of(value))
    assert not any(is_invisible_or_reordering(c) for line in lines for c in line)
    assert sum(shown(value) in line for line in lines) >= 3


def test_interface_strings_hold_no_markup_a_chart_would_draw() -> None:
    """The interface's own phrases go into charts unescaped (names, templates): none of them
    may carry markup of its own."""
    for lang in STRINGS:
        for key, phrase in STRINGS[lang].items():
            assert not set("<>&$") & set(phrase), (lang, key, phrase)
