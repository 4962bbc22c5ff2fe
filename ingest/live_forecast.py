"""The forecast the live snapshot carries: recomputed from the night so far when a minute
completes, and at most once a second when late orders change the minutes before, against the
past festival days loaded (last year's data dir, GMV_LAST_YEAR_DATA_DIR, when it holds a whole
day, and the recorded nights of GMV_PAST_NIGHTS; read by a thread of its own) and leaning on
GMV_FORECAST_PRIOR when set."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from common.logs import log_event, log_line
from common.settings import Settings
from ingest.contract import midnight_ms
from ingest.forecast import (
    DAY_MINUTES,
    NotYet,
    PastDay,
    forecast,
    left_out_because,
    prior_of,
    whole_day,
)
from ingest.history import history_parts, last_year_dir, night_minutes
from ingest.live_state import LiveState
from ingest.past_nights import configured_past_nights

log = logging.getLogger("gmv.forecast")
REFRESH_S = 1.0  # 3-8 ms a time with two past days, ~4 ms more for each further one
LAST_YEAR_EVERY_S = 60.0  # last year's files may still be loading (the demo loads them alongside)
SETTLE_S = 60.0  # the longest a run that ends waits for last year's first reading


def last_years_day(data_dir: Path) -> PastDay | None:
    """Last year's GMV per minute of its festival day and its eve's, when its history holds a
    whole day (else None)."""
    night = night_minutes(data_dir)
    if night is None:
        return None
    minutes = np.array(night.day, dtype=np.int64)
    return PastDay(minutes, night.before_cents) if whole_day(minutes) else None


class Recording(NamedTuple):
    label: str  # the file's name, for the log
    day: PastDay


def recorded_days(settings: Settings) -> list[Recording]:
    """The recorded nights of GMV_PAST_NIGHTS, newest first (a file that cannot be read raises
    ingest.past_nights.PastNightUnreadable). One the forecast cannot lean on (not a whole day)
    is logged, never dropped in silence; one of tonight's festival day or later is left out,
    and logged."""
    recorded = []
    tonight = date.fromisoformat(settings.festival_date)
    for night in configured_past_nights(settings):
        day = PastDay(night.minutes, night.before_cents)
        if night.festival_date >= tonight:  # a rehearsal replaying the file it leans on
            log_line(log, logging.WARNING, "past_night_left_out", file=night.label,
                     day=str(night.festival_date), reason="it is tonight's festival day or later")
            continue
        reason = left_out_because(day)
        if reason is not None:
            log_line(log, logging.WARNING, "past_night_left_out", file=night.label,
                     day=str(night.festival_date), reason=reason)
        recorded.append(Recording(night.label, day))
    return recorded


def _same_day(one: PastDay, other: PastDay) -> bool:
    return one.before_cents == other.before_cents and \
        np.array_equal(one.minutes[:DAY_MINUTES], other.minutes[:DAY_MINUTES])


def joined(last_year: PastDay | None, recorded: list[Recording]) -> list[PastDay]:
    """Last year's day, then the recorded nights, each day once: a night listed twice (or the
    data dir's own night recorded) would weigh twice; it is logged and counted once."""
    days = [last_year] if last_year is not None else []
    for label, day in recorded:
        if any(_same_day(day, seen) for seen in days):
            log_line(log, logging.WARNING, "past_night_repeated", file=label)
            continue
        days.append(day)
    return days


def past_days(settings: Settings, last_year: PastDay | None) -> list[PastDay]:
    """The past festival days the forecast reads tonight against, newest first: last year's
    data dir's, then the recorded nights (GMV_PAST_NIGHTS: `recorded_days`), each once."""
    return joined(last_year, recorded_days(settings))


def stored_forecast(settings: Settings, until_ms: int | None = None) -> tuple[dict[str, Any],
                                                                            int | None]:
    """The forecast from the committed history (and last year's, when set), as of `until_ms`
    (default: the newest order), and the night's clock it stands at: `gmv forecast`,
    `gmv guesses`."""
    midnight = midnight_ms(date.fromisoformat(settings.festival_date))
    tonight = night_minutes(settings.data_dir, midnight, until_ms)
    if tonight is None:
        return NotYet(None, f"no orders of the festival day {settings.festival_date} in the "
                            "store yet").to_json(), until_ms
    path = last_year_dir(settings.data_dir, settings.last_year_data_dir)
    past = past_days(settings, last_years_day(path) if path is not None else None)
    result = forecast(np.array(tonight.complete_minutes(), dtype=np.int64), tonight.before_cents,
                      midnight, past, prior_of(settings))
    return result.to_json(), tonight.clock_ms


class LiveForecast:
    def __init__(self, settings: Settings) -> None:
        self.midnight_ms = midnight_ms(date.fromisoformat(settings.festival_date))
        self.current: dict[str, Any] = NotYet(None, "the festival day has not begun").to_json()
        self._computed_at = -REFRESH_S
        self._counted: tuple[int, int] | None = None  # (minute under way, GMV) when computed
        self.settings = settings
        self._prior = prior_of(settings)
        self._past: list[PastDay] = []  # last year's day (when whole), then the recorded nights
        self._last_year_dir = last_year_dir(settings.data_dir, settings.last_year_data_dir)
        self._stop = threading.Event()
        self._loaded = threading.Event()  # last year read once (or there is none)
        self._thread = threading.Thread(target=self._load_last_year, name="last-year",
                                        daemon=True)

    def start(self) -> None:
        if self._last_year_dir is not None or self.settings.past_nights.strip():
            self._thread.start()
        else:
            self._loaded.set()

    def settle(self, timeout_s: float = SETTLE_S) -> None:
        """Waits (a while at most) for last year's first reading: a run that ends (--until-idle)
        leaves the forecast that a long one would show."""
        self._loaded.wait(timeout_s)
        self._counted = None  # computed again at the next update

    def stop(self) -> None:
        self._stop.set()

    def update(self, state: LiveState) -> dict[str, Any]:
        """The forecast as of the state's clock (the caller holds the state's lock)."""
        latest = state.latest_second()
        if latest is None:
            return self.current
        minute = latest // 60  # under way: not counted
        counted = (minute, state.gmv_cents)
        if counted == self._counted or (minute == self._minute_computed()
                                        and time.monotonic() - self._computed_at < REFRESH_S):
            return self.current
        first = self.midnight_ms // 60_000
        day = np.array([state.minutes[m][1] if m in state.minutes else 0
                        for m in range(first, min(minute, first + DAY_MINUTES))], dtype=np.int64)
        before = state.before[1] + sum(pair[1] for m, pair in state.minutes.items() if m < first)
        try:
            result = forecast(day, before, self.midnight_ms, self._past, self._prior)
        except Exception as err:  # noqa: BLE001 - never the snapshot's end: the last one stands
            if self._counted is None or minute != self._minute_computed():
                log_line(log, logging.ERROR, "forecast_failed", error=repr(err)[:200])
            self._counted, self._computed_at = counted, time.monotonic()
            return self.current
        self.current = result.to_json()
        if minute != self._minute_computed() and not isinstance(result, NotYet):
            log_event(log, "forecast", as_of=self.current["as_of"], final=self.current["final_gmv"],
                      low=self.current["low"], high=self.current["high"],
                      method=self.current["method"])
        self._counted, self._computed_at = counted, time.monotonic()
        return self.current

    def _minute_computed(self) -> int | None:
        return self._counted[0] if self._counted else None

    def _load_last_year(self) -> None:
        recorded: list[Recording] = []
        try:
            recorded = recorded_days(self.settings)
            if recorded:
                log_event(log, "past_nights_loaded", nights=len(recorded))
        except Exception as err:  # noqa: BLE001 - past nights are optional: the forecast goes on
            log_line(log, logging.ERROR, "past_nights_unreadable", error=str(err)[:300])
        last_year: PastDay | None = None
        self._past = joined(None, recorded)
        seen: list[str] = []
        while not self._stop.is_set():
            try:
                if self._last_year_dir is not None:
                    parts = history_parts(self._last_year_dir)
                    if parts and parts != seen:
                        seen = parts
                        last_year = last_years_day(self._last_year_dir)
                        self._past = joined(last_year, recorded)
                        log_event(log, "last_year_loaded", whole_day=last_year is not None)
            except Exception as err:  # noqa: BLE001 - last year is optional: the forecast goes on
                log_event(log, "last_year_unreadable", error=str(err)[:200])
            self._loaded.set()
            self._stop.wait(LAST_YEAR_EVERY_S)
