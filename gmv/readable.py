"""The one-shot commands' figures as people read them: ¥ in 亿/万 as the big screen shows money,
separators in counts, Beijing time; never a Python repr."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from dashboard.format import format_exact, format_headline, format_short, value_name
from dashboard.report_text import capacity_basis_text
from ingest.contract import BEIJING

LANG = "zh"  # the screens' default: the money reads as it does on the big screen


def cents_of(yuan: str | int) -> int:
    """'12632421735.02' (a document's decimal string) -> 1263242173502."""
    return int(Decimal(str(yuan)) * 100)


def money(yuan: str | int) -> str:
    """'¥126.3242亿 (¥12,632,421,735.02)': the screen's figure, then every cent."""
    cents = cents_of(yuan)
    return f"{format_headline(cents, LANG)} ({format_exact(cents)})"


def short_money(yuan: str | int) -> str:
    """'¥126.3242亿', '¥3,200亿': a forecast, a guess, a distance."""
    return format_short(cents_of(yuan), LANG)


def when(iso: str | None) -> str:
    """'2026-11-11T00:00:28+08:00' -> '2026-11-11 00:00:28' (Beijing)."""
    if not iso:
        return "—"
    from datetime import datetime

    return datetime.fromisoformat(iso).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def plain(value: Any) -> str:
    """Any other value of a document: a count with separators, JSON for the rest."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def summary_lines(totals: dict[str, Any]) -> list[str]:
    """`gmv summary`: the contract's totals, one a line."""
    rows: list[tuple[str, str]] = [("GMV", money(totals["gmv"])),
                                   ("orders", plain(totals["orders"]))]
    if totals.get("peak_ops") is not None:
        rows.append(("peak", f"{totals['peak_ops']:,} orders/s at {when(totals.get('peak_second'))}"))
    for device, figures in sorted((totals.get("by_device") or {}).items(),
                                  key=lambda item: -cents_of(item[1]["gmv"])):
        rows.append((f"  {device}", f"{money(figures['gmv'])}  {figures['orders']:,} orders"))
    if totals.get("capacity_eps"):
        rows.append(("capacity", f"{totals['capacity_eps']:,} entries/s "
                                 f"({capacity_basis_text(totals.get('capacity_basis'))})"))
    gaps = totals.get("stream_gaps")
    if gaps is not None:
        rows.append(("stream gaps", "none" if not gaps else
                     f"{len(gaps)}: {json.dumps(gaps, ensure_ascii=False)}"))
    shown = {"gmv", "orders", "peak_ops", "peak_second", "by_device", "capacity_eps",
             "capacity_basis", "stream_gaps"}
    rows += [(key, plain(value)) for key, value in totals.items() if key not in shown]
    width = max(len(name) for name, _ in rows)
    return [f"{name:<{width}}  {value}" for name, value in rows]


def forecast_line(document: dict[str, Any]) -> str:
    """`gmv forecast`: where the day ends, in the screen's money."""
    if document["status"] != "ok":
        return f"not enough data: {document['message']}"
    return (f"as of {when(document['as_of'])}: the day ends at {short_money(document['final_gmv'])}"
            f" (80 %: {short_money(document['low'])} – {short_money(document['high'])}; "
            f"{value_name('en', str(document['method']))})")
