"""The morning report for people: a few lines for the terminal, one printable HTML page for an
executive (no script, no outside resource: it opens anywhere and prints on one or two pages).
A value that came with an order is one line of text in both (common/text.py), escaped in the
page."""

from __future__ import annotations

import html
from typing import Any

from common.text import for_a_line
from dashboard.alert_text import alert_headline, where_text, where_unsaid
from dashboard.format import (
    format_change,
    format_exact,
    format_headline,
    format_signed,
    language,
    milestone_label,
    text,
    value_name,
)
from ingest.detect.incidents import by_incident

TOP = 15
_DIMENSION_NAMES = {"device": "Device", "region": "Region", "category": "Category",
                    "payment": "Payment", "merchant": "Merchant"}


def _when(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else "open"


def report_lines(report: dict[str, Any]) -> list[str]:
    if report.get("note"):  # a range without the night's orders: said, not a page of zeros
        return [f"{_when(report['from'])} – {_when(report['to'])}: {report['note']['text']}"]
    base = report["baseline"]
    lines = [f"{_when(report['from'])} – {_when(report['to'])}  GMV {_money(report['gmv_cents'])}"
             f"  orders {report['orders']:,}",
             f"against {base['with']} ({_when(base['from'])} – {_when(base['to'])}): GMV "
             f"{_money(base['gmv_cents'])} ({format_change(report['gmv_cents'], base['gmv_cents'])})"]
    if report["peak"]:
        lines.append(f"peak {report['peak']['orders_per_s']:,} orders/s at "
                     f"{_when(report['peak']['at'])}")
    lines += [f"milestone {milestone_label(m['yuan'], 'zh')} at {_when(m['at'])}"
              for m in report["milestones"]]
    if (ahead := report.get("next_year")) is not None:
        lines.append(next_year_text(ahead))
    lines.append("")
    if not base["gmv_cents"]:
        lines.append("the baseline has no orders: every value counts as new")
    lines.append(f"{'what changed':<28}{'GMV':>20}{'share':>9}{'was':>9}{'delta':>20}")
    for row in report["contributors"][:TOP]:
        lines.append(f"{_named(row['dimension'], row['value']):<28}"
                     f"{format_exact(row['gmv_cents']):>20}"
                     f"{row['share']:>9.1%}{row['baseline_share']:>9.1%}"
                     f"{format_signed(row['delta_cents']):>20}")
    if report["incidents"]:
        lines.append("")
        for incident in _by_incident(report):
            lost = f"  lost ~{format_exact(incident['gmv_lost_cents'])}" \
                if incident["gmv_lost_cents"] is not None else ""
            also = "" if incident.get("cause", True) else "also: "  # set off by the line above
            lines.append(f"{_when(incident['start'])}  {incident['duration_s']:>7,.0f} s  "
                         f"{incident['severity']:<8} "
                         f"{for_a_line(also + _incident_text(incident)):<40}{lost}")
    return lines


def _by_incident(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's incidents, each cause followed by what it set off."""
    return [a for group in by_incident(report["incidents"]) for a in group]


def _also(incident: dict[str, Any], lang: str) -> str:
    """'同时：' before an alert the incident's cause (the row above) set off."""
    return "" if incident.get("cause", True) else text(lang, "alert_evidence", said="")


def _incident_text(incident: dict[str, Any]) -> str:
    """'Orders from Fujian stopped'; where it was, when the headline does not say it already."""
    said, where = alert_headline(incident, "en"), where_unsaid(incident, "en")
    return f"{said} ({where})" if where else said


def _named(dimension: str, value: str) -> str:
    """'Region: Hubei', 'Payment: Alipay': the names the pages use, in English (a terminal)."""
    label = text("en", dimension) if dimension in _DIMENSION_NAMES else dimension
    return f"{label}: {for_a_line(value_name('en', value))}"


def _money(cents: int) -> str:
    """The screen's figure (亿/万), then every cent."""
    return f"{format_headline(cents, 'zh')} ({format_exact(cents)})"


CAPACITY_BASES = {
    "flat_out": "measured while the worker drained a backlog flat out",
    "working_time": "estimated from the worker's busy time at tonight's load",
    "sum of partitions": "the sum of the partitions' workers",
}


def capacity_basis_text(basis: str | None) -> str:
    """How the capacity figure was measured, in a sentence (the snapshot keeps the code)."""
    return CAPACITY_BASES.get(basis or "", "measured")


def next_year_text(ahead: dict[str, Any]) -> str:
    room = (f"; capacity {ahead['capacity_eps']:,} entries/s "
            f"({capacity_basis_text(ahead['capacity_basis'])}): "
            f"headroom {ahead['headroom']:.1f}x") if ahead["capacity_eps"] else \
        "; capacity not measured"
    return f"next year's baseline: peak {ahead['peak_ops']:,} orders/s{room}"


_CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans",Helvetica,Arial,sans-serif;color:#14181f;
  margin:2.2rem auto;max-width:64rem;padding:0 1.5rem;line-height:1.4}
h1{font-size:1.6rem;margin:0 0 .2rem} h2{font-size:1.1rem;margin:1.8rem 0 .5rem;
  border-bottom:2px solid #14181f;padding-bottom:.2rem}
.sub{color:#4b5563;margin:0 0 1.2rem}
.figures{display:flex;gap:2.5rem;flex-wrap:wrap}
.figure .label{color:#4b5563;font-size:.85rem;text-transform:uppercase;letter-spacing:.04em}
.figure .value{font-size:1.8rem;font-weight:700;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:.92rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #d1d5db}
th{font-size:.8rem;text-transform:uppercase;color:#4b5563} td.n,th.n{text-align:right}
.up{color:#0a7a3e;font-weight:600} .down{color:#b42318;font-weight:600}
.bar{display:inline-block;height:.7rem;vertical-align:middle}
.split{display:flex;width:100%;height:1rem} .split span{display:block;height:100%}
.legend span{display:inline-block;margin-right:1rem} .legend i{display:inline-block;width:.8rem;
  height:.8rem;margin-right:.3rem;vertical-align:middle}
@media print{body{margin:0;max-width:none} h2{break-after:avoid} tr{break-inside:avoid}}
"""
_DEVICE_COLOURS = {"pc": "#2563eb", "mobile": "#f97316", "pad": "#10b981", "other": "#9ca3af"}


def _e(value: Any) -> str:
    return html.escape(for_a_line(value))


_WORDS: dict[str, dict[str, str]] = {
    "zh": {"title": "成交额报告", "h1": "节日成交额报告", "beijing": "北京时间",
           "sub": "{start} – {end}（{beijing}），对比{with_}：{base_start} – {base_end}",
           "previous": "前一时段", "last-year": "去年同期", "peak_at": "{ops} 于 {at}",
           "next_year": "明年基线", "next_year_value": "每秒订单 {peak}", "headroom": "余量",
           "note": "各取值相对基准占比的成交额变化：变化 = (本时段占比 − 基准占比) × 本时段成交额。",
           "empty": "基准时段没有订单：所有取值都算新增。请与去年同期对比，或选更晚的时间范围。",
           "start": "开始", "duration": "持续时间", "where": "范围", "kind": "告警", "severity": "级别",
           "lost": "估计损失", "all": "全站", "no_incident": "此时段没有告警。",
           "reached": "达成时间", "device_split": "终端占比", "open": "进行中",
           "critical": "严重", "major": "重要", "warning": "警告", "info": "提示"},
    "en": {"title": "GMV report", "h1": "Festival GMV report", "beijing": "Beijing",
           "sub": "{start} – {end} ({beijing}), against {with_}: {base_start} – {base_end}",
           "previous": "previous", "last-year": "last-year", "peak_at": "{ops} at {at}",
           "next_year": "Next year's baseline", "next_year_value": "{peak} orders/s",
           "headroom": "Headroom",
           "note": "Each value's GMV against its share of the baseline: delta = (share now − "
                   "share then) × GMV now.",
           "empty": "The baseline has no orders: every value counts as new. Compare with last "
                    "year, or choose a later range.",
           "start": "Start", "duration": "Duration", "where": "Where", "kind": "Kind", "severity": "Severity",
           "lost": "GMV lost (est.)", "all": "all", "no_incident": "No alert was raised in this "
           "range.", "reached": "Reached", "device_split": "Device split through the range",
           "open": "open", "critical": "critical", "major": "major", "warning": "warning",
           "info": "info"},
}


def report_html(report: dict[str, Any], lang: str = "en") -> str:
    """The report as one printable page, in `lang`: every label, dimension and value by its
    name ('湖北', not 'HB'), the incidents as the war room's alert headlines."""
    lang = language(lang)
    words = _WORDS[lang]

    def when(iso: str | None) -> str:
        return _when(iso) if iso else words["open"]

    def name(key: str) -> str:
        return text(lang, key)

    base = report["baseline"]
    change = format_change(report["gmv_cents"], base["gmv_cents"])
    peak = report["peak"]
    against = words.get(base["with"], base["with"])
    figures = [(name("gmv"), format_exact(report["gmv_cents"])),
               (name("orders"), f"{report['orders']:,}"),
               (f"{name('against')} {against}", change)]
    if peak:
        figures.append((name("peak"), words["peak_at"].format(ops=f"{peak['orders_per_s']:,}",
                                                              at=when(peak["at"])[11:])))
    if (ahead := report.get("next_year")) is not None:
        figures.append((words["next_year"],
                        words["next_year_value"].format(peak=f"{ahead['peak_ops']:,}")))
        if ahead["capacity_eps"]:
            figures.append((words["headroom"],
                            f"{ahead['headroom']:.1f}× ({ahead['capacity_eps']:,}"
                            f"{name('per_second_unit')})"))
    page_lang = "zh-CN" if lang == "zh" else "en"
    parts = [f"<!doctype html><html lang='{page_lang}'><meta charset='utf-8'>"
             f"<title>{_e(words['title'])} {_e(when(report['from']))}</title><style>{_CSS}"
             "</style><body>",
             f"<h1>{_e(words['h1'])}</h1><p class='sub'>" + _e(words["sub"].format(
                 start=when(report["from"]), end=when(report["to"]), beijing=words["beijing"],
                 with_=against, base_start=when(base["from"]), base_end=when(base["to"])))
             + "</p>",
             "<div class='figures'>" + "".join(
                 f"<div class='figure'><div class='label'>{_e(k)}</div>"
                 f"<div class='value'>{_e(v)}</div></div>" for k, v in figures) + "</div>"]
    rows = report["contributors"][:TOP]
    widest = max((abs(r["delta_cents"]) for r in rows), default=0) or 1
    note = words["note"] if base["gmv_cents"] else words["empty"]
    parts.append(f"<h2>{_e(name('what_changed'))}</h2><p class='sub'>{_e(note)}</p><table><tr>"
                 f"<th>{_e(name('dimension'))}</th><th>{_e(name('value'))}</th>"
                 f"<th class='n'>{_e(name('gmv'))}</th><th class='n'>{_e(name('share'))}</th>"
                 f"<th class='n'>{_e(name('was'))}</th><th class='n'>{_e(name('delta'))}</th>"
                 "<th></th></tr>")
    for r in rows:
        tone = "up" if r["delta_cents"] > 0 else "down"
        width = 8 * abs(r["delta_cents"]) / widest
        colour = "#0a7a3e" if r["delta_cents"] > 0 else "#b42318"
        dimension = name(r["dimension"]) if r["dimension"] in _DIMENSION_NAMES else r["dimension"]
        parts.append(f"<tr><td>{_e(dimension)}</td>"
                     f"<td>{_e(value_name(lang, r['value']))}</td>"
                     f"<td class='n'>{_e(format_exact(r['gmv_cents']))}</td>"
                     f"<td class='n'>{r['share']:.1%}</td><td class='n'>{r['baseline_share']:.1%}"
                     f"</td><td class='n {tone}'>{_e(format_signed(r['delta_cents']))}</td>"
                     f"<td><span class='bar' style='width:{width:.2f}rem;background:{colour}'>"
                     "</span></td></tr>")
    parts.append("</table>")
    parts.append(f"<h2>{_e(name('incidents'))}</h2>")
    if report["incidents"]:
        parts.append(f"<table><tr><th>{_e(words['start'])}</th><th class='n'>"
                     f"{_e(words['duration'])}</th><th>{_e(words['severity'])}</th>"
                     f"<th>{_e(words['kind'])}</th><th>{_e(words['where'])}</th>"
                     f"<th class='n'>{_e(words['lost'])}</th></tr>")
        for i in _by_incident(report):
            lost = format_exact(i["gmv_lost_cents"]) if i["gmv_lost_cents"] is not None else "–"
            severity = words.get(i["severity"] or "", i["severity"] or "")
            where = where_text(i["dimension"], lang) or words["all"]
            parts.append(f"<tr><td>{_e(when(i['start']))}</td><td class='n'>"
                         f"{i['duration_s']:,.0f} {_e(name('seconds_short'))}</td>"
                         f"<td>{_e(severity)}</td><td>{_e(_also(i, lang) + alert_headline(i, lang))}</td>"
                         f"<td>{_e(where)}</td><td class='n'>{_e(lost)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append(f"<p>{_e(words['no_incident'])}</p>")
    if report["milestones"]:
        parts.append(f"<h2>{_e(name('milestones'))}</h2><table><tr><th>{_e(name('gmv'))}</th>"
                     f"<th>{_e(words['reached'])}</th></tr>" + "".join(
            f"<tr><td>{_e(format_exact(m['yuan'] * 100))}</td><td>{_e(when(m['at']))}</td></tr>"
            for m in report["milestones"]) + "</table>")
    if report["device_split"]:
        parts.append(f"<h2>{_e(words['device_split'])}</h2><div class='legend'>" + "".join(
            f"<span><i style='background:{c}'></i>{_e(value_name(lang, d))}</span>"
            for d, c in _DEVICE_COLOURS.items()) + "</div><table>")
        for row in report["device_split"]:
            bars = "".join(f"<span title='{_e(value_name(lang, d))} {s:.0%}' "
                           f"style='width:{s * 100:.2f}%;"
                           f"background:{_DEVICE_COLOURS.get(d, '#6b7280')}'></span>"
                           for d, s in row["shares"].items())
            shares = " · ".join(f"{value_name(lang, d)} {s:.0%}" for d, s in row["shares"].items())
            parts.append(f"<tr><td style='width:9rem'>{_e(when(row['from'])[11:16])}</td>"
                         f"<td><div class='split'>{bars}</div></td><td style='width:16rem'>"
                         f"{_e(shares)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
