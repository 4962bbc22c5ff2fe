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
import pyarrow as pa
import pyarrow.compute as pc

from common.settings import Settings
from dashboard.data.history import History
from dashboard.data.ranges import RangeNote, night_of, ordered, outside_night
from dashboard.data.rollups import DIMENSIONS, Rollups, grouped, shared_cursor
from dashboard.said import Said
from ingest.contract import BEIJING, beijing_iso, format_cents, midnight_ms
from ingest.detect.incidents import by_incident
from ingest.history import last_year_dir, orders_dir, read_summary
from ingest.live_state import milestones_crossed

COMPARES = ("previous", "last-year")
MAX_RANGE_MS = 8 * 86_400_000
BEFORE_INCIDENT_MS = 600_000  # the usual level an incident's loss is measured against
SPLIT_BUCKETS_S = (60, 300, 600, 1800, 3600, 7200, 14_400)
SPLIT_ROWS = 24
DEVICE_ORDER = ("pc", "mobile", "pad", "other")
LOSS_KINDS = {"orders_drop", "gmv_drop", "device_dark", "region_dark", "payment_dark"}


class ReportError(Said):
    """A question the report cannot answer, said in one line."""


def parse_instant(text: str) -> int:
    """An ISO time ('2026-11-11T00:10', with or without an offset: Beijing if none) -> epoch ms."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReportError("not_iso_time", value=text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Span:
    """A stretch of event time, [start_ms, end_ms). What a person asks for is checked by
    `asked_span`; the report's own questions (the running total from the night's first second,
    the minutes before an incident) are spans of any length."""

    start_ms: int
    end_ms: int

    def shifted(self, by_ms: int) -> Span:
        return Span(self.start_ms + by_ms, self.end_ms + by_ms)

    def as_dict(self) -> dict[str, Any]:
        return {"from": beijing_iso(self.start_ms), "to": beijing_iso(self.end_ms),
                "from_ms": self.start_ms, "to_ms": self.end_ms}


def asked_span(start_ms: int, end_ms: int) -> Span:
    """The range a person asked for (`gmv report`, /review's report): one that ends after it
    starts (dashboard/data/ranges.py, the page's rule), of at most MAX_RANGE_MS."""
    ordered(start_ms, end_ms)
    if end_ms - start_ms > MAX_RANGE_MS:
        raise ReportError("range_too_long_days", days=MAX_RANGE_MS // 86_400_000)
    return Span(start_ms, end_ms)


def night_so_far(data_dir: Path) -> Span:
    """The night's first second to its last committed one (`gmv report` without a range)."""
    night = night_of(History(data_dir).bounds_ms())
    if night is None:
        raise ReportError("range_no_data")
    return Span(night.start_ms, night.end_ms)


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
    path = last_year_dir(settings.data_dir, settings.last_year_data_dir)
    if path is None or not orders_dir(path).is_dir():
        return tonight, None
    last_year = History(path, cache_root=settings.data_dir)
    midnight = last_year.festival_midnight_ms()
    return tonight, Night(last_year.rollups, midnight) if midnight is not None else None


def baseline_for(compare: str, span: Span, tonight: Night, last_year: Night | None) -> Baseline:
    if compare == "previous":
        return Baseline(compare, tonight, span.shifted(span.start_ms - span.end_ms))
    if compare == "last-year":
        if last_year is None:
            raise ReportError("no_last_year")
        return Baseline(compare, last_year, span.shifted(last_year.midnight_ms
                                                         - tonight.midnight_ms))
    raise ReportError("unknown_comparison", value=compare)


def totals_table(db: duckdb.DuckDBPyConnection, span: Span) -> pa.Table:
    """dimension, value, orders, gmv_cents over the span, for 'all' and every dimension."""
    return grouped(db, span.start_ms, span.end_ms, ("all", *DIMENSIONS), None)


def _whole(table: pa.Table) -> tuple[int, int]:
    """(orders, gmv_cents) of a totals table's 'all' row."""
    row = table.filter(pc.equal(table["dimension"], "all")).to_pylist()
    return (int(row[0]["orders"]), int(row[0]["gmv_cents"])) if row else (0, 0)


def totals_by_value(db: duckdb.DuckDBPyConnection, span: Span,
                    dimensions: tuple[str, ...] = ("all", *DIMENSIONS)
                    ) -> dict[tuple[str, str], list[int]]:
    """(dimension, value) -> [orders, gmv_cents] over the span."""
    table = grouped(db, span.start_ms, span.end_ms, dimensions, None)
    return {(d, v): [int(n), int(g)] for d, v, n, g in zip(
        table["dimension"].to_pylist(), table["value"].to_pylist(), table["orders"].to_pylist(),
        table["gmv_cents"].to_pylist(), strict=True)}


def _share(part: int, whole: int) -> Fraction:
    return Fraction(part, whole) if whole else Fraction(0)


def _round_half_even(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)  # floor, remainder >= 0
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


_CONTRIBUTORS_SQL = """
WITH j AS (
    SELECT coalesce(n.dimension, b.dimension) AS dimension, coalesce(n.value, b.value) AS value,
           coalesce(n.gmv_cents, 0)::HUGEINT AS c, coalesce(b.gmv_cents, 0)::HUGEINT AS bc
    FROM (SELECT * FROM now_totals WHERE dimension <> 'all') n
    FULL OUTER JOIN (SELECT * FROM base_totals WHERE dimension <> 'all') b
        ON n.dimension = b.dimension AND n.value = b.value),
d AS (  -- delta = c - bc x G / B, rounded to the cent, half to even
    SELECT *, CASE WHEN $base = 0 THEN c ELSE c - (bc * $gmv // $base + CASE
        WHEN 2 * (bc * $gmv % $base) > $base
          OR (2 * (bc * $gmv % $base) = $base AND (bc * $gmv // $base) % 2 = 1) THEN 1 ELSE 0
        END) END AS delta FROM j)
SELECT dimension, value, {money_c} AS gmv, c::BIGINT AS gmv_cents,
       CASE WHEN $gmv = 0 THEN 0.0 ELSE c::DOUBLE / $gmv END AS share,
       {money_bc} AS baseline_gmv,
       CASE WHEN $base = 0 THEN 0.0 ELSE bc::DOUBLE / $base END AS baseline_share,
       {money_delta} AS delta, delta::BIGINT AS delta_cents
FROM d ORDER BY abs(delta) DESC, dimension, value
"""


def _money_sql(column: str) -> str:
    """Cents as the yuan string format_cents writes ('-1.05'), in SQL."""
    return (f"(CASE WHEN {column} < 0 THEN '-' ELSE '' END || (abs({column}) // 100)::VARCHAR "
            f"|| '.' || lpad((abs({column}) % 100)::VARCHAR, 2, '0'))")


def contributors(now: pa.Table, base: pa.Table, gmv: int, base_gmv: int) -> list[dict[str, Any]]:
    """Every value of every dimension (from two `grouped` tables): delta = (share in range -
    share in baseline) x range GMV, largest |delta| first (then by dimension and value). In
    integers: delta = cents - base_cents x GMV / base GMV, rounded to the cent (half to even)."""
    db = shared_cursor()
    db.register("now_totals", now)
    db.register("base_totals", base)
    sql = _CONTRIBUTORS_SQL.format(money_c=_money_sql("c"), money_bc=_money_sql("bc"),
                                   money_delta=_money_sql("delta"))
    table: pa.Table = db.execute(sql, {"gmv": gmv, "base": base_gmv}).to_arrow_table()
    rows: list[dict[str, Any]] = table.to_pylist()
    db.close()
    return rows


def seconds_series(db: duckdb.DuckDBPyConnection, span: Span) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(second, orders, gmv_cents) of every second with orders in the span."""
    table = grouped(db, span.start_ms, span.end_ms, ("all",), 1)
    return (np.asarray(table["bucket_ms"].to_numpy(), dtype=np.int64) // 1000,
            np.asarray(table["orders"].to_numpy(), dtype=np.int64),
            # a second's GMV fits in 64 bits many times over
            np.asarray(pc.cast(table["gmv_cents"], pa.int64()).to_numpy(), dtype=np.int64))


def milestones(seconds: np.ndarray, gmv: np.ndarray, span: Span) -> list[dict[str, Any]]:
    """The GMV milestones the night's running total (`gmv` per second of `seconds`, from the
    night's start) crossed inside the span."""
    return [{"yuan": yuan, "gmv": format_cents(yuan * 100), "at": beijing_iso(second * 1000),
             "at_ms": second * 1000}
            for yuan, second in milestones_crossed(seconds, gmv)
            if second * 1000 >= span.start_ms]


def peak(seconds: np.ndarray, orders: np.ndarray, span: Span) -> dict[str, Any] | None:
    """The span's busiest second (the first of equal ones)."""
    inside = (seconds * 1000 >= span.start_ms) & (seconds * 1000 < span.end_ms)
    if not inside.any():
        return None
    at = int(seconds[inside][int(np.argmax(orders[inside]))])
    return {"orders_per_s": int(orders[inside].max()), "at": beijing_iso(at * 1000),
            "at_ms": at * 1000}


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


_LOSSES: dict[tuple[Any, ...], int | None] = {}  # the same files, the same incident: the same loss
_LOSSES_KEPT = 1_000


def incidents(db: duckdb.DuckDBPyConnection, alerts: list[dict[str, Any]], span: Span,
              files: tuple[str, ...] = (), latest_ms: int | None = None) -> list[dict[str, Any]]:
    """The alerts raised inside the span (or open into it), oldest first; one still open lasts
    until `latest_ms` (the night so far; the span's end when not given). `files`: the committed
    files they are measured on (their losses are remembered while those are)."""
    found = []
    for alert in alerts:
        if alert.get("state") == "pending" or alert.get("start_ms") is None:
            continue
        start, end = int(alert["start_ms"]), alert.get("end_ms")
        if start >= span.end_ms or (end is not None and int(end) < span.start_ms):
            continue
        until = int(end) if end is not None else latest_ms or span.end_ms
        key = (files, alert["kind"], alert.get("dimension"), start, until)
        if key not in _LOSSES or not files:
            if len(_LOSSES) >= _LOSSES_KEPT:
                _LOSSES.clear()
            _LOSSES[key] = gmv_lost(db, alert, until)
        lost = _LOSSES[key]
        found.append({"kind": alert["kind"], "severity": alert.get("severity"),
                      "dimension": alert.get("dimension"), "state": alert.get("state"),
                      "start": alert.get("start"), "end": alert.get("end"), "start_ms": start,
                      "end_ms": end, "duration_s": round((until - start) / 1000, 1),
                      "message": alert.get("message"), "expected": alert.get("expected"),
                      "actual": alert.get("actual"),
                      "gmv_lost": format_cents(lost) if lost is not None else None,
                      "gmv_lost_cents": lost,
                      "acknowledged_ms": alert.get("acknowledged_ms"),
                      "acknowledged_by": alert.get("acknowledged_by"),
                      "key": alert.get("key"), "incident": alert.get("incident") or alert.get("key")})
    return _lost_once_per_incident(sorted(found, key=lambda a: (a["start_ms"], a["kind"])))


def _lost_once_per_incident(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The GMV an incident lost is its cause's (a dark path's, not also the site-wide drop it set
    off): the other alerts of the incident say which they are part of, and lose nothing more."""
    for group in by_incident(found):
        cause = group[0]
        for alert in group:
            alert["cause"] = alert is cause
            if alert is not cause and alert["gmv_lost_cents"] is not None:
                alert["gmv_lost"], alert["gmv_lost_cents"] = None, None
    return found


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
        now = totals_table(db, span)
        base = totals_table(base_db, baseline.span)
        orders, gmv = _whole(now)
        base_orders, base_gmv = _whole(base)
        # Every second from the night's start: its running total (milestones), the span's peak.
        first = min(bounds[0], span.start_ms) if bounds else span.start_ms
        seconds, orders_by_second, gmv_by_second = seconds_series(db, Span(first, span.end_ms))
        outside = outside_night(span.start_ms, span.end_ms, night_of(bounds))
        return {
            **span.as_dict(), **note_of(outside), "gmv": format_cents(gmv), "gmv_cents": gmv,
            "orders": orders, "compare": compare,
            "baseline": {"with": compare, **baseline.span.as_dict(),
                         "gmv": format_cents(base_gmv), "gmv_cents": base_gmv,
                         "orders": base_orders},
            "contributors": contributors(now, base, gmv, base_gmv),
            "incidents": incidents(db, alerts, span, tuple(tonight.rollups.parts()),
                                   bounds[1] + 1000 if bounds else None),
            "milestones": milestones(seconds, gmv_by_second, span),
            "peak": peak(seconds, orders_by_second, span),
            "device_split": device_split(db, span),
            "next_year": next_year(tonight.rollups.data_dir, span),
        }


def note_of(outside: RangeNote | None) -> dict[str, Any]:
    """The report's `note` when its range holds none of the night's orders (after the data,
    before it, no data yet): its `key`, its English `text`, the time it names (`at`, `at_ms`);
    null when the range meets the data."""
    if outside is None:
        return {"note": None}
    return {"note": {"key": outside.key, "text": outside.said("en"), "at_ms": outside.at_ms,
                     "at": beijing_iso(outside.at_ms) if outside.at_ms is not None else None}}


def next_year(data_dir: Path, span: Span) -> dict[str, Any] | None:
    """Tonight's peak as next year's baseline, against the capacity the pipeline measured (from
    the worker's summary): how much room there was, and how much a year's growth may take.
    Only in a report of a range that holds that peak: a 7-minute range's report showed the
    whole night's peak as if it were the range's."""
    try:
        summary = read_summary(data_dir)
    except (FileNotFoundError, ValueError):
        return None
    peak_ops, capacity = summary.get("peak_ops"), summary.get("capacity_eps")
    if not peak_ops or not _holds(span, summary.get("peak_second")):
        return None
    return {"peak_ops": int(peak_ops), "peak_second": summary.get("peak_second"),
            "capacity_eps": capacity, "capacity_basis": summary.get("capacity_basis"),
            "headroom": round(capacity / peak_ops, 2) if capacity else None}


def _holds(span: Span, iso: str | None) -> bool:
    if not iso:
        return False
    at_ms = int(datetime.fromisoformat(iso).timestamp() * 1000)
    return span.start_ms <= at_ms < span.end_ms
