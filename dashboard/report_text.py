"""The morning report for people: a few lines for the terminal, one printable HTML page for an
executive (no script, no outside resource: it opens anywhere and prints on one or two pages).
A value that came with an order is one line of text in both (common/text.py), escaped in the
page."""

from __future__ import annotations

import html
from typing import Any

from common.text import for_a_line
from dashboard.format import format_change, format_exact, format_headline, format_signed, milestone_label

TOP = 15
_DIMENSION_NAMES = {"device": "Device", "region": "Region", "category": "Category",
                    "payment": "Payment", "merchant": "Merchant"}


def _when(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else "open"


def report_lines(report: dict[str, Any]) -> list[str]:
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
        lines.append(f"{row['dimension'] + '=' + for_a_line(row['value']):<28}"
                     f"{format_exact(row['gmv_cents']):>20}"
                     f"{row['share']:>9.1%}{row['baseline_share']:>9.1%}"
                     f"{format_signed(row['delta_cents']):>20}")
    if report["incidents"]:
        lines.append("")
        for incident in report["incidents"]:
            lost = f"  lost ~{format_exact(incident['gmv_lost_cents'])}" \
                if incident["gmv_lost_cents"] is not None else ""
            lines.append(f"{_when(incident['start'])}  {incident['duration_s']:>7,.0f} s  "
                         f"{incident['severity']:<8} {incident['kind']:<16} "
                         f"{for_a_line(incident['dimension'] or '-'):<18}{lost}")
    return lines


def _money(cents: int) -> str:
    """The screen's figure (亿/万), then every cent."""
    return f"{format_headline(cents, 'zh')} ({format_exact(cents)})"


def next_year_text(ahead: dict[str, Any]) -> str:
    room = (f"; capacity {ahead['capacity_eps']:,} entries/s measured ({ahead['capacity_basis']}): "
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


def report_html(report: dict[str, Any]) -> str:
    base = report["baseline"]
    change = format_change(report["gmv_cents"], base["gmv_cents"])
    peak = report["peak"]
    figures = [("GMV", format_exact(report["gmv_cents"])), ("Orders", f"{report['orders']:,}"),
               (f"vs {base['with']}", change)]
    if peak:
        figures.append(("Peak orders/s", f"{peak['orders_per_s']:,} at {_when(peak['at'])[11:]}"))
    if (ahead := report.get("next_year")) is not None:
        figures.append(("Next year's baseline", f"{ahead['peak_ops']:,} orders/s"))
        if ahead["capacity_eps"]:
            figures.append(("Headroom", f"{ahead['headroom']:.1f}× ({ahead['capacity_eps']:,}/s)"))
    parts = [f"<!doctype html><html lang='en'><meta charset='utf-8'>"
             f"<title>GMV report {_e(_when(report['from']))}</title><style>{_CSS}</style><body>",
             f"<h1>Festival GMV report</h1><p class='sub'>{_e(_when(report['from']))} – "
             f"{_e(_when(report['to']))} (Beijing), against {_e(base['with'])}: "
             f"{_e(_when(base['from']))} – {_e(_when(base['to']))}</p>",
             "<div class='figures'>" + "".join(
                 f"<div class='figure'><div class='label'>{_e(k)}</div>"
                 f"<div class='value'>{_e(v)}</div></div>" for k, v in figures) + "</div>"]
    rows = report["contributors"][:TOP]
    widest = max((abs(r["delta_cents"]) for r in rows), default=0) or 1
    note = "Each value's GMV against its share of the baseline: delta = (share now − share " \
        "then) × GMV now." if base["gmv_cents"] else "The baseline has no orders: every value " \
        "counts as new. Compare with last year, or choose a later range."
    parts.append(f"<h2>What changed</h2><p class='sub'>{_e(note)}</p><table><tr>"
                 "<th>Dimension</th><th>Value</th><th class='n'>GMV</th><th class='n'>Share</th>"
                 "<th class='n'>Was</th><th class='n'>Delta</th><th></th></tr>")
    for r in rows:
        tone = "up" if r["delta_cents"] > 0 else "down"
        width = 8 * abs(r["delta_cents"]) / widest
        colour = "#0a7a3e" if r["delta_cents"] > 0 else "#b42318"
        parts.append(f"<tr><td>{_e(_DIMENSION_NAMES.get(r['dimension'], r['dimension']))}</td>"
                     f"<td>{_e(r['value'])}</td><td class='n'>{_e(format_exact(r['gmv_cents']))}</td>"
                     f"<td class='n'>{r['share']:.1%}</td><td class='n'>{r['baseline_share']:.1%}"
                     f"</td><td class='n {tone}'>{_e(format_signed(r['delta_cents']))}</td>"
                     f"<td><span class='bar' style='width:{width:.2f}rem;background:{colour}'>"
                     "</span></td></tr>")
    parts.append("</table>")
    parts.append("<h2>Incidents</h2>")
    if report["incidents"]:
        parts.append("<table><tr><th>Start</th><th class='n'>Duration</th><th>Severity</th>"
                     "<th>Kind</th><th>Where</th><th class='n'>GMV lost (est.)</th></tr>")
        for i in report["incidents"]:
            lost = format_exact(i["gmv_lost_cents"]) if i["gmv_lost_cents"] is not None else "–"
            parts.append(f"<tr><td>{_e(_when(i['start']))}</td><td class='n'>"
                         f"{i['duration_s']:,.0f} s</td><td>{_e(i['severity'])}</td>"
                         f"<td>{_e(i['kind'])}</td><td>{_e(i['dimension'] or 'all')}</td>"
                         f"<td class='n'>{_e(lost)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No alert was raised in this range.</p>")
    if report["milestones"]:
        parts.append("<h2>Milestones</h2><table><tr><th>GMV</th><th>Reached</th></tr>" + "".join(
            f"<tr><td>{_e(format_exact(m['yuan'] * 100))}</td><td>{_e(_when(m['at']))}</td></tr>"
            for m in report["milestones"]) + "</table>")
    if report["device_split"]:
        parts.append("<h2>Device split through the range</h2><div class='legend'>" + "".join(
            f"<span><i style='background:{c}'></i>{_e(d)}</span>"
            for d, c in _DEVICE_COLOURS.items()) + "</div><table>")
        for row in report["device_split"]:
            bars = "".join(f"<span title='{_e(d)} {s:.0%}' style='width:{s * 100:.2f}%;"
                           f"background:{_DEVICE_COLOURS.get(d, '#6b7280')}'></span>"
                           for d, s in row["shares"].items())
            text = " · ".join(f"{d} {s:.0%}" for d, s in row["shares"].items())
            parts.append(f"<tr><td style='width:9rem'>{_e(_when(row['from'])[11:16])}</td>"
                         f"<td><div class='split'>{bars}</div></td><td style='width:16rem'>"
                         f"{_e(text)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
