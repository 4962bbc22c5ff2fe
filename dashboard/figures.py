"""Pure figure builders: documents in, Plotly figures out; no Redis, no files, no Dash.

Figures are plain dicts in Plotly's JSON shape, not `plotly.graph_objects`: building and
validating a graph object with a template costs ~100 ms, a dict a few microseconds, and every
viewer's browser asks for them.

Every string that came with an order or an alert goes into a figure through `chart_text`
(dashboard/shown.py): Plotly would draw its markup. The builders take plain text and escape it.
"""

from __future__ import annotations

import re
from typing import Any, NotRequired, TypedDict

from dashboard.alert_text import alert_headline
from dashboard.chart_labels import (
    INCIDENT_FONT_PX,
    INCIDENT_ROW_PX,
    MILESTONE_RISE_PX,
    Band,
    Milestone,
    Placed,
    incident_layouts,
    milestone_labels,
)
from dashboard.format import beijing, clock, format_compact, milestone_label, text, value_name
from dashboard.shown import chart_text
from ingest.contract import DEVICES
from ingest.detect.alerts import SEVERITIES
from ingest.detect.incidents import by_incident

Figure = dict[str, Any]
SERIES_POINTS = 300  # the live orders/s chart: a fixed five minutes, trimmed by the browser
ORANGE, GOLD, BLUE, VIOLET, GREY = "#ff6a00", "#ffc53d", "#3fa7ff", "#a67cff", "#8a94a6"
DEVICE_COLOURS = {"mobile": ORANGE, "pc": BLUE, "pad": VIOLET, "other": GREY}
INK, MUTED, GRID = "#e8ecf3", "#8a94a6", "rgba(255,255,255,0.08)"
FONT = "Noto Sans CJK SC, Noto Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
# A name longer than these is cut with an ellipsis where it labels a bar or a legend entry (the
# contract allows 64 characters: a bar chart a third of the wall wide would be all name); the
# whole of it is in the hover, and in the exports.
BAR_NAME_CHARS = 24
LEGEND_NAME_CHARS = 32


def _axis(**extra: Any) -> dict[str, Any]:
    return {"gridcolor": GRID, "zeroline": False, "linecolor": GRID, "color": INK,
            "tickfont": {"color": INK}, **extra}


def _figure(data: list[dict[str, Any]], **layout: Any) -> Figure:
    """A figure on the war room's dark background; `layout` overrides the defaults."""
    base: dict[str, Any] = {
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": INK, "size": 16, "family": FONT}, "hoverlabel": {"font": {"size": 15}},
        "margin": {"l": 64, "r": 24, "t": 16, "b": 40}, "showlegend": False, "uirevision": "keep",
        "xaxis": _axis(), "yaxis": _axis()}
    for key in ("xaxis", "yaxis"):
        layout[key] = base[key] | layout.get(key, {})
    return {"data": data, "layout": base | layout}


def money_axis(figure: Figure, top_cents: int, lang: str, most_steps: int = 6) -> None:
    """Ticks in 亿/万 or B/M at round steps up to `top_cents` or just past it, and the axis
    exactly as tall as its ticks: what is drawn is under a labelled tick. Zero goes unwritten (it
    would meet the time axis's first label in the corner)."""
    figure["layout"]["yaxis"] |= money_ticks(top_cents, lang, most_steps)


def money_ticks(top_cents: int, lang: str, most_steps: int = 6) -> dict[str, Any]:
    """The y axis's ticks and range of `money_axis`."""
    top = max(top_cents, 10_000)
    step = 10 ** (len(str(top)) - 1)
    for factor in (1, 2, 5, 10, 20, 50, 100):
        if top / (step * factor / 10) <= most_steps:
            step = step * factor // 10 or 1
            break
    ticks = list(range(0, top + step, step))
    if ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return {
        "tickvals": [t / 100 for t in ticks], "range": [0, ticks[-1] / 100], "autorange": False,
        "ticktext": [re.sub(r"\.0(?=\D*$)", "", format_compact(t, lang)) if t else "" for t in ticks]}


def time_axis(figure: Figure, x_ms: list[int]) -> None:
    """Hours and minutes over a long range; seconds too while the range is short."""
    if x_ms:
        short = x_ms[-1] - x_ms[0] < 20 * 60_000
        figure["layout"]["xaxis"] |= {"tickformat": "%H:%M:%S" if short else "%H:%M", "nticks": 7}


def _times(epoch_ms: list[int]) -> list[str]:
    """Beijing wall-clock times for an x axis, without an offset so Plotly does not shift them."""
    return [beijing(ms).strftime("%Y-%m-%d %H:%M:%S") for ms in epoch_ms]


ALERT_FILL = {"critical": "rgba(255,77,79,0.22)", "major": "rgba(255,106,0,0.20)",
              "warning": "rgba(255,197,61,0.16)"}
ALERT_LINE = {ALERT_FILL["critical"]: "#ff4d4f", ALERT_FILL["major"]: ORANGE,
              ALERT_FILL["warning"]: GOLD}
MARKED_ALERTS = 8  # labels beyond the latest few would pile up on a night-long axis
# Alerts about one item, not the charted flow: a line where they began, not a band that would
# tint the chart for as long as the item stays oversold.
MOMENT_KINDS = {"oversell", "stream_gap"}  # a moment, not a stretch: a line


# The plot of each chart that carries labels, in pixels as a 1080p screen draws it, taken on the
# small side (the operations view draws the night's charts shorter than the wall does): the
# labels are laid out on it, and on narrower plots for narrower screens (dashboard/chart_labels.py;
# fit.js draws those for the widest plot no wider than the chart's: measured on a wall, the night
# chart's is ~785 and the orders/s chart's ~389, so a width over those would go unused there).
NIGHT_PLOT_PX = (780, 270)
OPS_PLOT_PX = (385, 270)
REVIEW_PLOT_PX = (1000, 300)


class LabelFit(TypedDict):
    """The incident labels laid out for plots at least `plot_px` reference pixels wide (up to
    the next fit's width), and the y axis that makes room for their rows where a chart needs it."""
    plot_px: float
    annotations: list[dict[str, Any]]
    yaxis: NotRequired[dict[str, Any]]


class LabelFits(TypedDict):
    labels_by_width: list[LabelFit]  # narrowest first; fit.js picks one for the chart's width


class Marks(TypedDict):
    """What `alert_marks` adds to a figure's layout: the bands, the labels for the widest plot,
    and in `meta` the labels for every width (fit.js draws the ones for the chart's plot)."""
    shapes: list[dict[str, Any]]
    annotations: list[dict[str, Any]]
    meta: LabelFits


def no_marks() -> Marks:
    return {"shapes": [], "annotations": [], "meta": {"labels_by_width": []}}


def alert_marks(alerts: list[dict[str, Any]], lang: str, until_ms: int | None,
                since_ms: int | None = None,
                plot_px: tuple[int, int] = NIGHT_PLOT_PX) -> Marks:
    """Layout shapes and labels marking alerts on a time axis: a band from start to end (or
    `until_ms` while it fires), its cause's headline written at the top, at its band, in rows; a run too
    crowded for the rows folded into one label ("3 起事件", the kinds in its hover). Each label's
    `name` lists the shapes it labels ("bands:0,1"). The labels are laid out for a plot
    `plot_px[0]` wide and for narrower ones (`meta`)."""
    shown = [a for a in one_per_incident(alerts)
             if a.get("state") != "pending" and a.get("start_ms") is not None
             and (until_ms is None or a["start_ms"] <= until_ms)
             and (since_ms is None or (a.get("end_ms") or until_ms or 0) >= since_ms)
             # A moment before the window is not in it: a line at its edge would say it began there.
             and (since_ms is None or a["kind"] not in MOMENT_KINDS or a["start_ms"] >= since_ms)]
    shown = sorted(shown, key=lambda a: a["start_ms"])[-MARKED_ALERTS:]
    shapes, spans = [], []
    for alert in shown:
        start = max(alert["start_ms"], since_ms) if since_ms else alert["start_ms"]
        # Begun before the window: its band enters from the edge, its label says it goes on.
        name = alert_headline(alert, lang)  # the cause, where: "支付宝支付通道异常"
        if start > alert["start_ms"]:
            name = text(lang, "incident_since", name=name, time=clock(alert["start_ms"]))
        end = alert.get("end_ms") or until_ms or start
        end = max(end, start + 1000)  # a band at least a second wide
        x0, x1 = _times([start, end])
        fill = ALERT_FILL.get(alert.get("severity", ""), ALERT_FILL["major"])
        if alert["kind"] in MOMENT_KINDS:
            shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": x0, "x1": x0,
                           "y0": 0, "y1": 1, "line": {"width": 2, "dash": "dot",
                                                       "color": ALERT_LINE[fill]}})
            end = start
        else:
            shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": x0, "x1": x1,
                           "y0": 0, "y1": 1, "layer": "below", "line": {"width": 0},
                           "fillcolor": fill})
        spans.append((start, end, name))
    fits = _incident_notes(spans, lang, since_ms, until_ms, plot_px[0])
    return {"shapes": shapes, "annotations": fits[-1]["annotations"] if fits else [],
            "meta": {"labels_by_width": fits}}


def one_per_incident(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One mark an incident (the alerts one cause set off): its cause's, from the first of them
    to the last (open while any is), at the worst severity among them."""
    marked = []
    for cause, *evidence in by_incident(alerts):
        if not evidence:
            marked.append(cause)
            continue
        group = [cause, *evidence]
        ends = [a.get("end_ms") for a in group]
        severity = max((a.get("severity") or "info" for a in group),
                       key=lambda s: SEVERITIES.index(s) if s in SEVERITIES else 0)
        marked.append({**cause, "severity": severity,
                       "start_ms": min((a["start_ms"] for a in group
                                        if isinstance(a.get("start_ms"), int)), default=None),
                       "end_ms": None if None in ends else max(e for e in ends if e is not None),
                       "state": "firing" if any(a.get("state") == "firing" for a in group)
                       else cause.get("state")})
    return marked


def _incident_notes(spans: list[tuple[int, int, str]], lang: str, since_ms: int | None,
                    until_ms: int | None, plot_px: int) -> list[LabelFit]:
    """The labels of `spans` (start, end, kind's name), laid out on a plot `plot_px` wide and on
    narrower ones, narrowest first; a width whose labels are those of a wider one is not
    repeated (the wider one's fit then starts at it)."""
    if not spans:
        return []
    first = since_ms if since_ms is not None else spans[0][0]
    last = max(until_ms or 0, *(end for _, end, _ in spans), first + 1000)
    px = plot_px / (last - first)
    bands = [Band(max(start - first, 0) * px, min(end - first, last - first) * px, name)
             for start, end, name in spans]
    fits: list[LabelFit] = []
    for layout in incident_layouts(bands, plot_px, text(lang, "incidents_folded")):
        notes = _notes(layout.labels, spans, first, layout.plot_px / (last - first))
        if fits and fits[-1]["annotations"] == notes:
            fits[-1]["plot_px"] = layout.plot_px
        else:
            fits.append({"plot_px": layout.plot_px, "annotations": notes})
    return fits[::-1]


def _notes(labels: list[Placed], spans: list[tuple[int, int, str]], first_ms: int,
           px: float) -> list[dict[str, Any]]:
    """The annotations of `labels`, laid out at `px` pixels a millisecond from `first_ms`."""
    notes = []
    for label in labels:
        note = {"xref": "x", "yref": "paper", "x": _times([first_ms + round(label.anchor_px / px)])[0],
                "y": 1, "xanchor": label.anchor, "yanchor": "top", "yshift": -INCIDENT_ROW_PX * label.row,
                "showarrow": False, "text": chart_text(label.text),
                "name": "bands:" + ",".join(map(str, label.bands)),
                "font": {"size": INCIDENT_FONT_PX, "color": INK}, "bgcolor": "rgba(11,16,32,0.72)",
                # Its width as reckoned here: fit.js measures it drawn, and where fonts draw it
                # wider, picks the labels laid out for a plot narrower by as much.
                "reckoned_px": round(label.width_px, 1)}
        if len(label.bands) > 1:
            note["hovertext"] = "<br>".join(chart_text(spans[i][2]) for i in label.bands)
        notes.append(note)
    return notes


def incident_rows(annotations: list[dict[str, Any]]) -> int:
    """How many rows of incident labels `annotations` write at the top of their chart."""
    return max((1 - round(n.get("yshift", 0) / INCIDENT_ROW_PX) for n in annotations), default=0)


def partial_marks(bucket_starts: list[int], bucket_s: int, lang: str) -> list[dict[str, Any]]:
    """A hatched-looking band over each bucket the range holds only in part, so its lower value
    does not read as a fall."""
    shapes = []
    for start in bucket_starts:
        x0, x1 = _times([start, start + bucket_s * 1000])
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": x0, "x1": x1,
                       "y0": 0, "y1": 1, "layer": "below", "line": {"width": 1, "dash": "dot",
                                                                    "color": GREY},
                       "fillcolor": "rgba(138,148,166,0.12)",
                       "label": {"text": text(lang, "partial"), "textposition": "bottom center",
                                 "font": {"size": 12, "color": GREY}}})
    return shapes


def range_band(start_ms: int, end_ms: int) -> dict[str, Any]:
    """The chosen range, on the overview."""
    x0, x1 = _times([start_ms, end_ms])
    return {"type": "rect", "xref": "x", "yref": "paper", "x0": x0, "x1": x1, "y0": 0, "y1": 1,
            "layer": "below", "line": {"width": 1, "color": ORANGE},
            "fillcolor": "rgba(255,106,0,0.12)"}


def _named(name: str, hover_values: str) -> dict[str, str]:
    """A line's name, cut in the legend and whole in the hover (above `hover_values`, a
    template of ours)."""
    return {"name": chart_text(name, LEGEND_NAME_CHARS),
            "hovertemplate": f"{chart_text(name)}<br>{hover_values}<extra></extra>"}


def share_figure(series: dict[str, list[Any]], lang: str, name: str, baseline_name: str,
                 baseline: list[Any] | None = None) -> Figure:
    """One value's share of GMV (%) per bucket through the range, and the same through the
    baseline's range (aligned bucket for bucket), dashed."""
    x = _times(series.get("bucket_ms", []))
    data = [{"type": "scatter", "x": x, "y": series.get("now", []), "mode": "lines",
             **_named(name, "%{x}<br>%{y:.1f}%"), "line": {"color": ORANGE, "width": 2.5},
             "connectgaps": False}]
    if baseline is not None:
        data.append({"type": "scatter", "x": x[:len(baseline)], "y": baseline, "mode": "lines",
                     **_named(baseline_name, "%{x}<br>%{y:.1f}%"),
                     "line": {"color": GREY, "width": 2, "dash": "dash"}})
    figure = _figure(data, showlegend=True,
                     legend={"orientation": "h", "y": 1.02, "x": 0, "yanchor": "bottom"},
                     yaxis={"ticksuffix": "%", "rangemode": "tozero", "automargin": True},
                     xaxis={"automargin": True})
    figure["layout"]["margin"] = figure["layout"]["margin"] | {"t": 36}
    time_axis(figure, series.get("bucket_ms", []))
    return figure


def ops_series_figure(live: dict[str, Any] | None, lang: str,
                      marks: Marks | None = None) -> Figure:
    """Orders per second over the last five minutes: the frame that extendData then grows, with
    the alerts of those minutes (`marks`, which the browser lays on anew as they change)."""
    x, y = ops_points(live, None)
    return _figure(
        [{"type": "scatter", "x": x, "y": y, "mode": "lines", "line": {"color": ORANGE, "width": 3},
          "fill": "tozeroy", "fillcolor": "rgba(255,106,0,0.18)",
          "hovertemplate": "%{x}<br>%{y:,} " + text(lang, "per_second_unit") + "<extra></extra>"}],
        yaxis={"rangemode": "tozero", "tickformat": ","},
        xaxis={"tickformat": "%H:%M:%S", "nticks": 6}, **(marks or no_marks()))


def ops_points(live: dict[str, Any] | None, after_ms: int | None) -> tuple[list[str], list[int]]:
    """The complete seconds of the snapshot's series later than `after_ms` (all when None): the
    last second may still be filling, so it is drawn once the next one has begun."""
    if not live or not live.get("series", {}).get("start_ms"):
        return [], []
    start, counts = live["series"]["start_ms"], live["series"]["orders"][:-1]
    points = [(start + i * 1000, n) for i, n in enumerate(counts)
              if after_ms is None or start + i * 1000 > after_ms]
    return _times([ms for ms, _ in points]), [n for _, n in points]


def night_figure(night: dict[str, Any] | None, last_year: tuple[list[int], list[int]] | None,
                 festival_midnight_ms: int, lang: str,
                 alerts: list[dict[str, Any]] | None = None) -> Figure:
    """GMV so far through the night, last year's at the same minute, the milestones and the
    alerts."""
    data: list[dict[str, Any]] = []
    top = 0
    points: list[tuple[int, int]] = []
    x_ms, cumulative = night_points(night)
    if last_year:
        minutes, last = last_year
        # Only as far as tonight has got: the comparison is "at the same minute".
        until = x_ms[-1] if x_ms else festival_midnight_ms
        points = [(festival_midnight_ms + (m + 1) * 60_000, c) for m, c in zip(minutes, last, strict=True)
                  if festival_midnight_ms + (m + 1) * 60_000 <= until]
        top = max((c for _, c in points), default=0)
    if points:
        data.append({"type": "scatter", "x": _times([ms for ms, _ in points]),
                     "y": [c / 100 for _, c in points], "mode": "lines", "name": text(lang, "last_year"),
                     "line": {"color": GREY, "width": 3, "dash": "dash"},
                     "hovertemplate": text(lang, "last_year") + " %{x}<br>¥%{y:,.0f}<extra></extra>"})
    marks = alert_marks(alerts, lang, x_ms[-1], x_ms[0]) if alerts and x_ms else None
    milestones = (night or {}).get("milestones", []) if x_ms else []
    if x_ms:
        top = max(top, cumulative[-1])
        data.append(_cumulative_trace(x_ms, cumulative, text(lang, "this_year")))
    figure = _figure(data, showlegend=bool(last_year and points), yaxis={"rangemode": "tozero"},
                     legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0,
                             "font": {"size": 15}},
                     margin={"l": 84, "r": 24, "t": 16, "b": 40})
    time_axis(figure, x_ms)
    # Room at the top for the incidents' rows, and above each milestone for its label: as many
    # rows as the labels drawn take, on a wall or (`meta`'s fits) on a narrower plot.
    highest = max((m["yuan"] * 100 for m in milestones), default=0)
    figure["layout"]["yaxis"] |= _night_ticks(top, highest, marks["annotations"] if marks else [],
                                              lang)
    for fit in marks["meta"]["labels_by_width"] if marks else []:
        fit["yaxis"] = _night_ticks(top, highest, fit["annotations"], lang)
    if milestones:
        data.extend(_milestone_traces(milestones, x_ms[0], x_ms[-1],
                                      figure["layout"]["yaxis"]["range"][1], lang))
    if marks:
        figure["layout"] |= marks
    return figure


def _night_ticks(top_cents: int, highest_cents: float, annotations: list[dict[str, Any]],
                 lang: str) -> dict[str, Any]:
    """The night chart's money axis, tall enough for the curve, the milestones' labels and the
    rows of incident labels `annotations` take above them."""
    rows_px = incident_rows(annotations) * INCIDENT_ROW_PX
    height = NIGHT_PLOT_PX[1]
    return money_ticks(int(max(top_cents * 1.1, top_cents / (1 - rows_px / height),
                               highest_cents / (1 - (rows_px + MILESTONE_RISE_PX) / height))), lang)


def _milestone_traces(milestones: list[dict[str, Any]], first_ms: int, last_ms: int,
                      top_yuan: float, lang: str) -> list[dict[str, Any]]:
    """A diamond on the curve at each milestone, and its label; milestones crossed close
    together share one label, at the last one's diamond."""
    width, height = NIGHT_PLOT_PX
    span = max(last_ms - first_ms, 1)
    marks = [Milestone((m["second_ms"] - first_ms) / span * width, m["yuan"] / top_yuan * height,
                       milestone_label(m["yuan"], lang)) for m in milestones]
    traces = []
    for label in milestone_labels(marks, width):
        chosen = [milestones[i] for i in label.members]
        traces.append({
            "type": "scatter", "x": _times([m["second_ms"] for m in chosen]),
            "y": [m["yuan"] for m in chosen], "mode": "markers+text",
            "text": [""] * (len(chosen) - 1) + [label.text],
            "marker": {"color": ORANGE, "size": 14, "symbol": "diamond",
                       "line": {"color": INK, "width": 1}},
            "textposition": label.position, "textfont": {"size": 17, "color": INK},
            "cliponaxis": False, "hoverinfo": "skip", "showlegend": False})
    return traces


def _cumulative_trace(x_ms: list[int], cumulative: list[int], name: str) -> dict[str, Any]:
    # The y values are for drawing only; every total shown as a number is exact elsewhere.
    return {"type": "scatter", "x": _times(x_ms), "y": [c / 100 for c in cumulative],
            "mode": "lines", "name": name, "line": {"color": GOLD, "width": 4}, "fill": "tozeroy",
            "fillcolor": "rgba(255,197,61,0.12)", "hovertemplate": "%{x}<br>¥%{y:,.2f}<extra></extra>"}


def cumulative_figure(x_ms: list[int], cumulative: list[int], lang: str) -> Figure:
    """GMV so far at each time: the review's replay."""
    figure = _figure([_cumulative_trace(x_ms, cumulative, text(lang, "gmv"))])
    if not x_ms:
        figure["layout"]["xaxis"]["visible"] = figure["layout"]["yaxis"]["visible"] = False
        return figure
    time_axis(figure, x_ms)
    money_axis(figure, int(max(cumulative, default=0) * 1.1), lang)
    return figure


def night_points(night: dict[str, Any] | None) -> tuple[list[int], list[int]]:
    """(epoch ms, GMV so far in cents): the start of the first minute, the end of each minute,
    and the latest second for the minute still filling."""
    if not night or night.get("start_ms") is None:
        return [], []
    start, latest = night["start_ms"], night.get("latest_ms")
    x = [start] + [start + (i + 1) * 60_000 for i in range(len(night["cumulative_gmv_cents"]))]
    y = [night.get("gmv_before_cents", 0), *night["cumulative_gmv_cents"]]
    if latest is not None:
        x[-1] = min(x[-1], latest)
    return x, y


def device_trend_figure(night: dict[str, Any] | None, lang: str) -> Figure:
    """Each device's share of the orders of each minute: the shift from PC to mobile."""
    data: list[dict[str, Any]] = []
    start = (night or {}).get("start_ms")
    if night and start is not None:
        devices = night["devices"]
        totals = [sum(column) or 1 for column in zip(*devices.values(), strict=True)]
        x = _times([start + i * 60_000 for i in range(len(totals))])
        for device in sorted(devices, key=lambda d: DEVICES.index(d) if d in DEVICES else 9):
            name = chart_text(value_name(lang, device))
            data.append({
                "type": "scatter", "x": x, "y": [n / t for n, t in zip(devices[device], totals, strict=True)],
                "name": name, "stackgroup": "share", "mode": "lines",
                "line": {"width": 0.5, "color": DEVICE_COLOURS.get(device, GREY)},
                "hovertemplate": f"{name} %{{y:.1%}}<extra></extra>"})
    figure = _figure(data, showlegend=True, margin={"l": 56, "r": 16, "t": 36, "b": 32},
                     legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0,
                             "font": {"size": 15}},
                     # Zero unwritten: it would meet the time axis's first label in the corner.
                     yaxis={"range": [0, 1], "tickvals": [0, 0.25, 0.5, 0.75, 1],
                            "ticktext": ["", "25%", "50%", "75%", "100%"]})
    time_axis(figure, [start, start + 60_000 * len(night["orders"])] if night and start else [])
    return figure


def device_share_figure(live: dict[str, Any] | None, lang: str) -> Figure:
    """The split of the last minute as a ring; every device has its slice, so a refresh only
    replaces the values (`device_shares`)."""
    return _figure([{
        "type": "pie", "labels": [chart_text(value_name(lang, d)) for d in DEVICES],
        "values": device_shares(live),
        "hole": 0.62, "sort": False, "direction": "clockwise",
        "domain": {"x": [0.12, 0.88], "y": [0.1, 0.9]},
        "marker": {"colors": [DEVICE_COLOURS[d] for d in DEVICES]},
        "textinfo": "label+percent", "textposition": "outside", "automargin": True,
        "textfont": {"size": 17, "color": INK},
        "hoverinfo": "skip"}],
        margin={"l": 40, "r": 40, "t": 36, "b": 36})


def device_shares(live: dict[str, Any] | None) -> list[float]:
    devices = (live or {}).get("by_device", {})
    return [devices.get(d, {}).get("share_now", 0.0) for d in DEVICES]


def totals_bar_figure(totals: dict[str, dict[str, Any]], lang: str, limit: int = 10) -> Figure:
    """Horizontal bars of GMV by value, the largest on top. The bars stand at 0, 1, 2, … and
    their names are tick texts: names as categories would be merged where two cut alike, and
    one that reads like a number or a date would turn the axis numeric."""
    best = sorted(totals.items(), key=lambda item: -item[1]["gmv_cents"])[:limit][::-1]
    most = max((v["gmv_cents"] / 100 for _, v in best), default=1)
    places = list(range(len(best)))
    return _figure(
        [{"type": "bar", "orientation": "h", "x": [v["gmv_cents"] / 100 for _, v in best],
          "y": places, "marker": {"color": ORANGE},
          "text": [format_compact(v["gmv_cents"], lang) for _, v in best],
          "customdata": [chart_text(value_name(lang, k)) for k, _ in best],
          "hovertemplate": "%{customdata}: %{text}<extra></extra>",
          "textposition": "outside", "cliponaxis": False,
          "textfont": {"size": 15, "color": INK}}],
        margin={"l": 8, "r": 8, "t": 4, "b": 4}, bargap=0.22,
        xaxis={"visible": False, "range": [0, most * 1.3]},
        yaxis={"tickfont": {"size": 15, "color": INK}, "automargin": True, "tickmode": "array",
               "tickvals": places,
               "ticktext": [chart_text(value_name(lang, k), BAR_NAME_CHARS) for k, _ in best]})


def buckets_figure(series: dict[str, list[Any]], lang: str, metric: str,
                   compare: dict[str, list[Any]] | None = None, compare_name: str = "",
                   most_steps: int = 6) -> Figure:
    """Review and drill-down: one line per value of `series` ({"bucket_ms": [...], "<value>":
    [...]}), and an optional dashed comparison aligned on the same buckets; at most `most_steps`
    money ticks above zero (fewer on a short chart)."""
    x = _times(series.get("bucket_ms", []))
    palette = [ORANGE, BLUE, GOLD, VIOLET, "#36cfc9", "#f759ab", "#73d13d", GREY]
    names = [k for k in series if k != "bucket_ms"]
    values = "%{x}<br>" + ("¥%{y:,.2f}" if metric == "gmv" else "%{y:,}")
    data = [{"type": "scatter", "x": x, "y": series[name], "mode": "lines",
             **_named(_line_name(lang, name), values),
             "line": {"color": palette[i % len(palette)], "width": 2.5}}
            for i, name in enumerate(names)]
    for name in [k for k in (compare or {}) if k != "bucket_ms"]:
        assert compare is not None
        data.append({"type": "scatter", "x": x[:len(compare[name])], "y": compare[name],
                     "mode": "lines", **_named(f"{compare_name} · {_line_name(lang, name)}", values),
                     "line": {"color": GREY, "width": 2, "dash": "dash"}})
    figure = _figure(data, showlegend=len(names) > 1 or bool(compare),
                     legend={"orientation": "h", "y": 1.02, "x": 0, "yanchor": "bottom"},
                     yaxis={"automargin": True}, xaxis={"automargin": True})
    figure["layout"]["margin"] = figure["layout"]["margin"] | {"t": 36 if len(names) > 1 or compare
                                                               else 16}
    time_axis(figure, series.get("bucket_ms", []))
    if metric == "gmv":  # the comparison's lines too: the axis covers all that is drawn
        top = max((max((v for v in trace["y"] if v is not None), default=0) for trace in data),
                  default=0)
        money_axis(figure, int(top * 110), lang, most_steps)
    return figure


def _line_name(lang: str, key: str) -> str:
    """A line of the review's chart: "all" (the range's total), or a value of the dimension."""
    return text(lang, "all") if key == "all" else value_name(lang, key)
