"""What changed, and why: a range of the night against a baseline (the range before it, or the
same clock range of last year's festival), every value of every dimension ranked by the GMV it
gained or lost against its share in the baseline, beside the range's incidents, milestones, peak
and device split. What `gmv report` prints and `/review` shows, exact to the cent."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from common.settings import Settings
from dashboard.data.history import History
from dashboard.data.rollups import DIMENSIONS, Rollups, grouped
from ingest.contract import BEIJING, beijing_iso, format_cents, midnight_ms
from ingest.history import orders_dir
from ingest.live_state import MILESTONES_YUAN

COMPARES = ("previous", "last-year")
MAX_RANGE_MS = 8 * 86_400_000
BEFORE_INCIDENT_MS = 600_000  # the usual level an incident's loss is measured against
SPLIT_BUCKETS_S = (60, 300, 600, 1800, 3600, 7200, 14_400)
SPLIT_ROWS = 24
DEVICE_ORDER = ("pc", "mobile", "pad", "other")
LOSS_KINDS = {"orders_drop", "gmv_drop", "device_dark", "region_dark", "payment_dark"}


class ReportError(ValueError):
    """A question the report cannot answer, said in one line."""


def parse_instant(text: str) -> int:
    """An ISO time ('2026-11-11T00:10', with or without an offset: Beijing if none) -> epoch ms."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"not an ISO time: {text!r} (e.g. 2026-11-11T00:10:00+08:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Span:
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ReportError("the range ends before it starts")
        if self.end_ms - self.start_ms > MAX_RANGE_MS:
            raise ReportError("the range is longer than 8 days")

    def shifted(self, by_ms: int) -> Span:
        return Span(self.start_ms + by_ms, self.end_ms + by_ms)

    def as_dict(self) -> dict[str, Any]:
        return {"from": beijing_iso(self.start_ms), "to": beijing_iso(self.end_ms),
                "from_ms": self.start_ms, "to_ms": self.end_ms}


@dataclass(frozen=True)
class Night:
    """One festival's history: its rollups and its midnight (Beijing)."""

    rollups: Rollups
    midnight_ms: int


@dataclass(frozen=True)
class Baseline:
    compare: str
    night: Night
    span: Span


def nights(settings: Settings) -> tuple[Night, Night | None]:
    """Tonight (at the configured festival date) and last year's, when one is loaded (its
    rollups cached beside tonight's data)."""
    tonight = Night(Rollups(settings.data_dir),
                    midnight_ms(date.fromisoformat(settings.festival_date)))
    path = settings.last_year_data_dir
    if not path or not orders_dir(Path(path)).is_dir():
        return tonight, None
    last_year = History(Path(path), cache_root=settings.data_dir)
    midnight = last_year.festival_midnight_ms()
    return tonight, Night(last_year.rollups, midnight) if midnight is not None else None


def baseline_for(compare: str, span: Span, tonight: Night, last_year: Night | None) -> Baseline:
    if compare == "previous":
        return Baseline(compare, tonight, span.shifted(span.start_ms - span.end_ms))
    if compare == "last-year":
        if last_year is None:
            raise ReportError("no last year loaded: set GMV_LAST_YEAR_DATA_DIR, or compare "
                              "with the previous range")
        return Baseline(compare, last_year, span.shifted(last_year.midnight_ms
                                                         - tonight.midnight_ms))
    raise ReportError(f"unknown comparison {compare!r}: previous or last-year")


def totals_by_value(db: duckdb.DuckDBPyConnection, span: Span,
                    dimensions: tuple[str, ...] = ("all", *DIMENSIONS)) -> dict[tuple[str, str], list[int]]:
    """(dimension, value) -> [orders, gmv_cents] over the span."""
    table = grouped(db, span.start_ms, span.end_ms, dimensions, None)
    return {(d, v): [int(n), int(g)] for d, v, n, g in zip(
        table["dimension"].to_pylist(), table["value"].to_pylist(), table["orders"].to_pylist(),
        table["gmv_cents"].to_pylist(), strict=True)}


def _share(part: int, whole: int) -> Fraction:
    return Fraction(part, whole) if whole else Fraction(0)


def contributors(now: dict[tuple[str, str], list[int]], base: dict[tuple[str, str], list[int]],
                 gmv: int, base_gmv: int) -> list[dict[str, Any]]:
    """Every value of every dimension: delta = (share in range - share in baseline) x range GMV,
    largest |delta| first (then by dimension and value, for a stable order)."""
    rows: list[dict[str, Any]] = []
    for dimension, value in sorted(set(now) | set(base)):
        if dimension == "all":
            continue
        cents = now.get((dimension, value), [0, 0])[1]
        base_cents = base.get((dimension, value), [0, 0])[1]
        share, base_share = _share(cents, gmv), _share(base_cents, base_gmv)
        delta = round((share - base_share) * gmv)  # exact, then to the cent (half to even)
        rows.append({"dimension": dimension, "value": value, "gmv": format_cents(cents),
                     "gmv_cents": cents, "share": float(share),
                     "baseline_gmv": format_cents(base_cents),
                     "baseline_share": float(base_share), "delta": format_cents(delta),
                     "delta_cents": delta})
    rows.sort(key=lambda r: (-abs(int(r["delta_cents"])), r["dimension"], r["value"]))
    return rows


def seconds_series(db: duckdb.DuckDBPyConnection, span: Span) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(second, orders, gmv_cents) of every second with orders in the span."""
    table = grouped(db, span.start_ms, span.end_ms, ("all",), 1)
    return (np.asarray(table["bucket_ms"].to_numpy(), dtype=np.int64) // 1000,
            np.asarray(table["orders"].to_numpy(), dtype=np.int64),
            np.array([int(g) for g in table["gmv_cents"].to_pylist()], dtype=np.int64))


def milestones(db: duckdb.DuckDBPyConnection, span: Span, first_ms: int) -> list[dict[str, Any]]:
    """The GMV milestones the night's running total crossed inside the span (counted from
    `first_ms`, the night's start)."""
    seconds, _, gmv = seconds_series(db, Span(first_ms, span.end_ms))
    if not len(seconds):
        return []
    running = np.cumsum(gmv)
    found = []
    for yuan in MILESTONES_YUAN:
        i = int(np.searchsorted(running, yuan * 100))
        if i < len(seconds) and seconds[i] * 1000 >= span.start_ms:
            found.append({"yuan": yuan, "gmv": format_cents(yuan * 100),
                          "at": beijing_iso(int(seconds[i]) * 1000),
                          "at_ms": int(seconds[i]) * 1000})
    return found


def peak(db: duckdb.DuckDBPyConnection, span: Span) -> dict[str, Any] | None:
    seconds, orders, _ = seconds_series(db, span)
    if not len(seconds):
        return None
    i = int(np.argmax(orders))  # the first of equal peaks
    return {"orders_per_s": int(orders[i]), "at": beijing_iso(int(seconds[i]) * 1000),
            "at_ms": int(seconds[i]) * 1000}


def device_split(db: duckdb.DuckDBPyConnection, span: Span) -> list[dict[str, Any]]:
    """Each device's share of GMV per bucket through the range (an hour, or finer when short)."""
    length_s = (span.end_ms - span.start_ms) // 1000
    bucket_s = next((b for b in SPLIT_BUCKETS_S if length_s / b <= SPLIT_ROWS), 86_400)
    table = grouped(db, span.start_ms, span.end_ms, ("device",), bucket_s)
    buckets: dict[int, dict[str, int]] = {}
    for bucket, value, cents in zip(table["bucket_ms"].to_pylist(), table["value"].to_pylist(),
                                    table["gmv_cents"].to_pylist(), strict=True):
        buckets.setdefault(int(bucket), {})[value] = int(cents)
    rows = []
    for bucket, by_device in sorted(buckets.items()):
        whole = sum(by_device.values())
        rows.append({"from": beijing_iso(bucket), "from_ms": bucket, "bucket_s": bucket_s,
                     "shares": {d: round(c / whole, 4) if whole else 0.0
                                for d, c in sorted(by_device.items(), key=_device_order)}})
    return rows


def _device_order(item: tuple[str, int]) -> tuple[int, str]:
    return (DEVICE_ORDER.index(item[0]) if item[0] in DEVICE_ORDER else 9, item[0])


def _gmv_of(db: duckdb.DuckDBPyConnection, span: Span, dimension: str | None) -> dict[str, int]:
    dims = ("all",) if dimension is None else ("all", dimension)
    return {f"{d}={v}" if d != "all" else "all": g
            for (d, v), (_, g) in totals_by_value(db, span, dims).items()}


def gmv_lost(db: duckdb.DuckDBPyConnection, alert: dict[str, Any], end_ms: int) -> int | None:
    """GMV the incident cost against what the 10 minutes before it would have made: for a value
    of a dimension its share of them x the GMV of the incident's span, for the whole flow
    their rate x its length. None for kinds that do not lose sales."""
    if alert["kind"] not in LOSS_KINDS:
        return None
    start, end = int(alert["start_ms"]), int(alert.get("end_ms") or end_ms)
    if end <= start:
        return 0
    dimension = alert.get("dimension")
    before = _gmv_of(db, Span(start - BEFORE_INCIDENT_MS, start),
                     dimension.split("=")[0] if dimension else None)
    during = _gmv_of(db, Span(start, end), dimension.split("=")[0] if dimension else None)
    if dimension:
        share = _share(before.get(dimension, 0), before.get("all", 0))
        expected = share * during.get("all", 0)
        actual = during.get(dimension, 0)
    else:
        expected = Fraction(before.get("all", 0) * (end - start), BEFORE_INCIDENT_MS)
        actual = during.get("all", 0)
    return max(round(expected - actual), 0)


def incidents(db: duckdb.DuckDBPyConnection, alerts: list[dict[str, Any]],
              span: Span) -> list[dict[str, Any]]:
    """The alerts raised inside the span (or open into it), oldest first."""
    found = []
    for alert in alerts:
        if alert.get("state") == "pending" or alert.get("start_ms") is None:
            continue
        start, end = int(alert["start_ms"]), alert.get("end_ms")
        if start >= span.end_ms or (end is not None and int(end) < span.start_ms):
            continue
        until = int(end) if end is not None else span.end_ms
        lost = gmv_lost(db, alert, span.end_ms)
        found.append({"kind": alert["kind"], "severity": alert.get("severity"),
                      "dimension": alert.get("dimension"), "state": alert.get("state"),
                      "start": alert.get("start"), "end": alert.get("end"), "start_ms": start,
                      "end_ms": end, "duration_s": round((until - start) / 1000, 1),
                      "message": alert.get("message"),
                      "gmv_lost": format_cents(lost) if lost is not None else None,
                      "gmv_lost_cents": lost,
                      "acknowledged_ms": alert.get("acknowledged_ms")})
    return sorted(found, key=lambda a: (a["start_ms"], a["kind"]))


def build_report(span: Span, compare: str, tonight: Night, last_year: Night | None,
                 alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """The report as `gmv report --json` prints it (money as decimal strings)."""
    baseline = baseline_for(compare, span, tonight, last_year)
    bounds = History(tonight.rollups.data_dir).bounds_ms()
    # One connection for tonight's every question (the running total reaches back to the
    # night's start, an incident's loss to the minutes before it), one for another night's.
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(tonight.rollups.connect())
        base_db = db if baseline.night is tonight else stack.enter_context(
            baseline.night.rollups.connect((baseline.span.start_ms, baseline.span.end_ms)))
        now = totals_by_value(db, span)
        base = totals_by_value(base_db, baseline.span)
        orders, gmv = now.get(("all", "all"), [0, 0])
        base_orders, base_gmv = base.get(("all", "all"), [0, 0])
        return {
            **span.as_dict(), "gmv": format_cents(gmv), "gmv_cents": gmv, "orders": orders,
            "compare": compare,
            "baseline": {"with": compare, **baseline.span.as_dict(),
                         "gmv": format_cents(base_gmv), "gmv_cents": base_gmv,
                         "orders": base_orders},
            "contributors": contributors(now, base, gmv, base_gmv),
            "incidents": incidents(db, alerts, span),
            "milestones": milestones(db, span, bounds[0]) if bounds else [],
            "peak": peak(db, span),
            "device_split": device_split(db, span),
        }
