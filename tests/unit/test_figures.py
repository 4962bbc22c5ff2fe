"""The charts are drawn from the snapshot as it is: nothing invented, nothing half-counted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.chart_labels import INCIDENT_FONT_PX, INCIDENT_ROW_PX, LABEL_GAP_PX, text_px
from dashboard.components import headline_values, last_drawn_ms
from dashboard.figures import (
    NIGHT_PLOT_PX,
    alert_marks,
    device_shares,
    device_trend_figure,
    incident_rows,
    money_axis,
    night_figure,
    night_points,
    ops_points,
    totals_bar_figure,
)
from tests.conftest import MIDNIGHT_MS


def live(orders: list[int], start_ms: int = MIDNIGHT_MS) -> dict[str, Any]:
    return {"series": {"start_ms": start_ms, "orders": orders}, "gmv_cents": 123_456_789_01,
            "orders": 42, "ops_now": orders[-2], "peak_ops": max(orders),
            "peak_second_ms": MIDNIGHT_MS + 26_000}


def test_the_second_still_filling_is_not_drawn() -> None:
    x, y = ops_points(live([5, 6, 7, 1]), None)
    assert y == [5, 6, 7] and x[0] == "2026-11-11 00:00:00"
    assert last_drawn_ms(live([5, 6, 7, 1])) == MIDNIGHT_MS + 2000


def test_only_new_seconds_extend_the_chart() -> None:
    _, y = ops_points(live([5, 6, 7, 8, 1]), after_ms=MIDNIGHT_MS + 1000)
    assert y == [7, 8]
    assert ops_points(live([5, 6, 7, 8, 1]), after_ms=MIDNIGHT_MS + 3000) == ([], [])


def test_headline_values_in_both_languages() -> None:
    zh, en = headline_values(live([1, 2, 3]), "zh"), headline_values(live([1, 2, 3]), "en")
    assert zh["target"]["text"] == "¥1.2345亿" and en["target"]["text"] == "¥123.456M"
    assert zh["target"]["exact"] == "¥123,456,789.01" and zh["peak"] == "3"
    assert zh["peak_at"] == "出现于 00:00:26" and en["peak_at"] == "at 00:00:26"


def night(cumulative: list[int], latest_ms: int | None = None, **extra: Any) -> dict[str, Any]:
    return {"start_ms": MIDNIGHT_MS, "latest_ms": latest_ms, "gmv_before_cents": 0,
            "cumulative_gmv_cents": cumulative, "orders": [1] * len(cumulative),
            "milestones": [], **extra}


def test_the_night_curve_ends_at_the_latest_second_with_the_total() -> None:
    x, y = night_points(night([100, 300, 450], latest_ms=MIDNIGHT_MS + 150_000))
    assert x == [MIDNIGHT_MS, MIDNIGHT_MS + 60_000, MIDNIGHT_MS + 120_000, MIDNIGHT_MS + 150_000]
    assert y == [0, 100, 300, 450]


def test_last_year_is_drawn_only_up_to_tonights_minute() -> None:
    last_year = (list(range(10)), [i * 1000 for i in range(1, 11)])
    figure = night_figure(night([100, 300, 450], latest_ms=MIDNIGHT_MS + 150_000), last_year,
                          MIDNIGHT_MS, "en")
    last, tonight = figure["data"][0], figure["data"][1]
    assert last["name"] == "Last year" and len(last["x"]) == 2  # its minutes ended by 00:02:30
    assert tonight["name"] == "Tonight" and list(tonight["y"]) == [0, 1, 3, 4.5]


def test_milestones_are_marked_on_the_night_curve() -> None:
    document = night([10**8, 2 * 10**8], milestones=[
        {"yuan": 10**6, "second_ms": MIDNIGHT_MS + 30_000, "second": "…"}])
    markers = [t for t in night_figure(document, None, MIDNIGHT_MS, "zh")["data"]
               if t.get("mode") == "markers+text"]
    assert len(markers) == 1 and list(markers[0]["text"]) == ["¥100万"]


def test_device_shares_of_each_minute_add_up_to_one() -> None:
    document = night([1, 2], devices={"mobile": [3, 8], "pc": [1, 2], "pad": [0, 0]})
    traces = device_trend_figure(document, "en")["data"]
    assert [t["name"] for t in traces] == ["PC", "Mobile", "Pad"]
    assert device_shares({"by_device": {"mobile": {"share_now": 0.8}}}) == [0.0, 0.8, 0.0, 0.0]
    for minute in range(2):
        assert abs(sum(t["y"][minute] for t in traces) - 1) < 1e-9


def test_bars_put_the_largest_on_top_with_local_names() -> None:
    totals = {"ZJ": {"gmv_cents": 500}, "GD": {"gmv_cents": 900}, "overseas": {"gmv_cents": 100}}
    figure = totals_bar_figure(totals, "zh")
    bar, names = figure["data"][0], figure["layout"]["yaxis"]
    assert list(bar["x"]) == [1, 5, 9]  # Plotly draws the last on top
    assert list(names["tickvals"]) == list(bar["y"]) and names["ticktext"] == ["海外", "浙江", "广东"]


def test_money_ticks_are_round_in_local_units() -> None:
    figure: dict = {"layout": {"yaxis": {}}}
    money_axis(figure, 26_844_512_345_678, "zh")
    axis = figure["layout"]["yaxis"]
    assert axis["ticktext"][:3] == ["", "¥500亿", "¥1,000亿"]  # zero unwritten, in the corner
    assert axis["range"] == [0, axis["tickvals"][-1]] and axis["tickvals"][-1] >= 268_445_123_456.78


def test_pipeline_health_reads_like_an_operator_expects() -> None:
    from dashboard.pipeline import pipeline_values

    values = pipeline_values({"lag_ms": 1300, "ingest_eps": 2104, "capacity_eps": 3369,
                              "rejected": 1310, "duplicates": 6655, "age_ms": 120,
                              "worker": "vm-worker"}, "en")
    assert values == ("1.3 s", "2,104/s", "3,369/s", "62%", "1,310", "6,655", "120 ms", "vm-worker")
    assert pipeline_values({}, "zh")[:4] == ("—", "—/秒", "—/秒", "—")


def test_alerts_are_bands_from_start_to_end_and_an_oversell_a_line_where_it_began() -> None:
    alerts = [
        {"kind": "device_dark", "severity": "critical", "state": "resolved",
         "dimension": "device=mobile", "expected": 900, "actual": 12,
         "start_ms": MIDNIGHT_MS + 60_000, "end_ms": MIDNIGHT_MS + 120_000},
        {"kind": "oversell", "severity": "critical", "state": "firing", "dimension": "item=i42",
         "start_ms": MIDNIGHT_MS + 90_000, "end_ms": None},
        {"kind": "orders_drop", "severity": "critical", "state": "firing",
         "start_ms": MIDNIGHT_MS + 150_000, "end_ms": None},
        {"kind": "bot_burst", "severity": "major", "state": "resolved",  # before the range
         "start_ms": MIDNIGHT_MS - 600_000, "end_ms": MIDNIGHT_MS - 500_000},
    ]
    marks = alert_marks(alerts, "en", MIDNIGHT_MS + 200_000, MIDNIGHT_MS)
    band, line, open_band = marks["shapes"]
    assert (band["type"], band["x0"], band["x1"]) == ("rect", "2026-11-11 00:01:00",
                                                      "2026-11-11 00:02:00")
    assert (line["type"], line["x0"], line["x1"]) == ("line", "2026-11-11 00:01:30",
                                                      "2026-11-11 00:01:30")
    assert open_band["x1"] == "2026-11-11 00:03:20"  # still firing: up to now
    # Each names its cause and where, as the feed's headline does.
    assert [a["text"] for a in marks["annotations"]] == [
        "Orders from Mobile stopped", "Oversell of item i42", "Orders dropping site-wide"]
    assert alert_marks(alerts, "zh", MIDNIGHT_MS + 200_000)["annotations"][0]["text"] == "疑似刷单"


def test_marks_of_alerts_begun_before_the_window_do_not_say_they_began_at_its_edge() -> None:
    """The five-minute chart (issue #24): an oversell of ten minutes ago is not a line at the
    window's left edge (after a restart it stood there as if new); a band that began before
    enters from the edge and its label says since when."""
    since, until = MIDNIGHT_MS + 600_000, MIDNIGHT_MS + 900_000
    alerts = [
        {"kind": "oversell", "severity": "critical", "state": "firing", "key": "o",
         "start_ms": MIDNIGHT_MS + 60_000, "end_ms": None},
        {"kind": "region_dark", "severity": "warning", "state": "firing", "key": "r",
         "start_ms": MIDNIGHT_MS + 500_000, "end_ms": None},
        {"kind": "oversell", "severity": "critical", "state": "firing", "key": "n",
         "start_ms": MIDNIGHT_MS + 700_000, "end_ms": None},
    ]
    marks = alert_marks(alerts, "zh", until, since)
    band, line = marks["shapes"]
    assert (band["type"], band["x0"]) == ("rect", "2026-11-11 00:10:00")
    assert (line["type"], line["x0"]) == ("line", "2026-11-11 00:11:40")
    texts = [a["text"] for a in marks["annotations"]]
    assert any("00:08:20 起" in t and "◀" in t for t in texts), texts
    assert alert_marks(alerts, "en", until, since)["annotations"][0]["text"].endswith(
        "(since 00:08:20)")


# A crowded ten minutes: eight incidents in four, as the crowded night of the e2e tests has them.
CROWD = [("oversell", 30, None), ("oversell", 30, None), ("oversell", 30, None),
         ("region_dark", 63, 84), ("oversell", 183, None), ("orders_drop", 229, 237),
         ("price_glitch", 286, 305), ("payment_dark", 345, 368)]
PHONE_PLOT_PX = 341  # the night chart's plot at 390x844, in reference pixels (measured)


def crowd() -> list[dict[str, Any]]:
    return [{"kind": kind, "severity": "critical", "state": "firing" if end is None else "resolved",
             "key": f"{kind}-{i}", "start_ms": MIDNIGHT_MS + start * 1000,
             "end_ms": None if end is None else MIDNIGHT_MS + end * 1000}
            for i, (kind, start, end) in enumerate(CROWD)]


def overlaps(notes: list[dict[str, Any]], first_ms: int, last_ms: int, plot_px: float) -> list[str]:
    """Labels of one row whose boxes touch, on a plot `plot_px` wide from `first_ms` to
    `last_ms`."""
    boxes = []
    for note in notes:
        at = datetime.fromisoformat(note["x"] + "+08:00").timestamp() * 1000
        width = text_px(note["text"], INCIDENT_FONT_PX)
        left = (at - first_ms) / (last_ms - first_ms) * plot_px \
            - {"left": 0, "center": 0.5, "right": 1}[note["xanchor"]] * width
        boxes.append((note["yshift"], left, left + width, note["text"]))
    return [f"{a[3]} and {b[3]}" for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a[0] == b[0] and a[1] < b[2] + LABEL_GAP_PX and b[1] < a[2] + LABEL_GAP_PX]


def fit_for(fits: list[dict[str, Any]], plot_px: float) -> dict[str, Any]:
    """The fit fit.js draws on a plot `plot_px` wide."""
    return max((f for f in fits if f["plot_px"] <= plot_px), key=lambda f: f["plot_px"],
               default=min(fits, key=lambda f: f["plot_px"]))


def test_incident_labels_come_laid_out_for_a_phones_plot_too() -> None:
    """Issue #24: on a phone the night chart's plot is ~341 reference px; the labels laid out for
    the wall's 780 touch there, those laid out for it do not."""
    until = MIDNIGHT_MS + 479_000
    for lang in ("zh", "en"):
        marks = alert_marks(crowd(), lang, until, MIDNIGHT_MS)
        fits = marks["meta"]["labels_by_width"]
        assert [f["plot_px"] for f in fits] == sorted(f["plot_px"] for f in fits)
        assert fits[-1]["annotations"] == marks["annotations"]  # the wall's, drawn without fit.js
        assert overlaps(marks["annotations"], MIDNIGHT_MS, until, PHONE_PLOT_PX)
        phone = fit_for(fits, PHONE_PLOT_PX)
        assert not overlaps(phone["annotations"], MIDNIGHT_MS, until, PHONE_PLOT_PX), lang
        named = sorted(i for n in phone["annotations"] for i in map(int, n["name"][6:].split(",")))
        assert named == list(range(len(CROWD)))
        assert len(phone["annotations"]) >= 3  # folded where it must, not all into one


def test_the_night_axis_makes_room_for_the_rows_each_width_takes() -> None:
    """The curve stays under the incident rows of whichever labels a screen draws."""
    latest = MIDNIGHT_MS + 479_000
    gmv_cents = [10_000_000 * (i + 1) for i in range(8)]
    figure = night_figure(night(gmv_cents, latest_ms=latest), None, MIDNIGHT_MS, "zh", crowd())
    layout = figure["layout"]
    fits = layout["meta"]["labels_by_width"]
    assert {incident_rows(f["annotations"]) for f in fits} != {incident_rows(layout["annotations"])}
    for fit in fits:
        rows_px = incident_rows(fit["annotations"]) * INCIDENT_ROW_PX
        assert gmv_cents[-1] / 100 <= fit["yaxis"]["range"][1] * (1 - rows_px / NIGHT_PLOT_PX[1])
        assert fit["yaxis"]["tickvals"][-1] == fit["yaxis"]["range"][1]
