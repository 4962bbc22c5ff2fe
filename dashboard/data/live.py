"""What the live views read: the snapshot, the night document and the alert feeds in Redis, the
summary and the stored alerts; the data source of the app serving a request."""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import flask
import redis

from common.redis_server import connect, get_many
from common.settings import Settings
from dashboard.data.history import History
from dashboard.guesses import Guess, GuessBoard, closing_ms
from ingest.contract import midnight_ms
from ingest.detect.alerts import awaits_acknowledgement
from ingest.detect.keeper import read_alerts
from ingest.history import last_year_dir, orders_dir, read_summary

# How long a process reuses what it read from Redis for the screens. A thousand screens each
# asking every second would otherwise be a thousand round trips a second per key (and the
# night document, hundreds of KB, two hundred times a second): on two cores that traffic, not
# the drawing, was what made the big screen's requests slow under load (BENCHMARKS.md, "Soak").
# The worker publishes the snapshot every 250-400 ms and the night once a second.
LIVE_REUSE_S = 0.1
NIGHT_REUSE_S = 0.5


class Reused:
    """Values read from Redis, reused for a moment by every thread of the process; one thread
    reads again when they are older, the others wait for it rather than all reading."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, ...], tuple[float, list[bytes | None]]] = {}

    def get(self, keys: tuple[str, ...], max_age_s: float,
            read: Any) -> list[bytes | None]:
        now = time.monotonic()
        found = self._values.get(keys)
        if found is not None and now - found[0] < max_age_s:
            return found[1]
        with self._lock:
            found = self._values.get(keys)
            if found is not None and time.monotonic() - found[0] < max_age_s:
                return found[1]
            try:
                values = [v if isinstance(v, bytes) else None for v in read(keys)]
            except redis.RedisError:  # Redis away: nothing kept, asked again next time
                return [None] * len(keys)
            self._values[keys] = (time.monotonic(), values)
            return values


@dataclass(frozen=True)
class DataSource:
    settings: Settings
    client: redis.Redis
    reused: Reused = field(default_factory=Reused, compare=False)

    @classmethod
    def connect(cls, settings: Settings) -> DataSource:
        url = settings.redis_url or "redis://127.0.0.1:6379/0"
        return cls(settings, connect(url, socket_timeout=2, socket_connect_timeout=2))

    def live(self) -> dict[str, Any] | None:
        """The live snapshot, with `age_ms`: how old its heartbeat is by this server's clock.
        None when there is none yet, or Redis cannot be reached."""
        raw = self.raw_live()
        if raw is None:
            return None
        return json.loads(raw) | {"age_ms": snapshot_age_ms(raw, int(time.time() * 1000))}

    def night(self) -> dict[str, Any] | None:
        """The night document, parsed once per change (callers must not modify it)."""
        raw = self.night_raw()
        return parsed_night(raw) if raw else None

    def night_raw(self) -> bytes | None:
        """The night document's bytes: what the night charts are drawn (and cached) from."""
        return self._raw(self.settings.night_key)

    def raw_live(self) -> bytes | None:
        """The snapshot's bytes as the worker wrote them, for /api/live (at most LIVE_REUSE_S
        old: read once for every screen asking meanwhile)."""
        return self.reused.get((self.settings.snapshot_key,), LIVE_REUSE_S,
                               lambda keys: get_many(self.client, list(keys)))[0]

    def _raw(self, key: str) -> bytes | None:
        try:
            value = self.client.get(key)
        except redis.RedisError:
            return None
        return value if isinstance(value, bytes) else None

    def _raws(self, *keys: str) -> list[bytes | None]:
        """Several keys in one round trip (None for each when Redis is away)."""
        try:
            values = get_many(self.client, list(keys))
        except redis.RedisError:
            return [None] * len(keys)
        return [v if isinstance(v, bytes) else None for v in values]

    def alerts_raw(self) -> tuple[bytes | None, ...]:
        """The worker's and the watchdog's alert feeds, as they wrote them."""
        return tuple(self._raws(self.settings.alerts_key, self.settings.pipeline_alerts_key))

    def drawing_raw(self) -> tuple[bytes | None, tuple[bytes | None, ...]]:
        """The night document and both alert feeds, in one round trip: what the night charts
        are drawn (and cached) from, on every screen's request."""
        keys = (self.settings.night_key, self.settings.alerts_key, self.settings.pipeline_alerts_key)
        night, *alerts = self.reused.get(keys, NIGHT_REUSE_S,
                                         lambda keys: get_many(self.client, list(keys)))
        return night, tuple(alerts)

    def alerts(self) -> list[dict[str, Any]]:
        """The alert feed of the night: open ones first (most severe, then newest), then the
        resolved ones, newest first."""
        return parsed_alerts(self.alerts_raw())

    def stored_alerts(self) -> list[dict[str, Any]]:
        """Every alert of the night from the files, oldest first: what the review draws."""
        return read_alerts(self.settings.data_dir)

    def acknowledge(self, key: str, by: str, at_ms: int) -> bool:
        """An operator has seen the alert: the worker (or the watchdog) records it in its feed.
        Only an alert of the feeds that awaits it (it fires, or resolved an oversell, and nobody
        has acknowledged it) can be (False, and nothing written, for any other key: the hash
        holds real alerts only)."""
        if not any(a.get("key") == key and awaits_acknowledgement(
                a.get("kind"), a.get("state"), a.get("acknowledged_ms")) for a in self.alerts()):
            return False
        mark = json.dumps({"at_ms": at_ms, "by": by}, ensure_ascii=False)
        self.client.hsetnx(self.settings.acks_key, key, mark)
        return True

    def summary(self) -> dict[str, Any]:
        return read_summary(self.settings.data_dir)

    def festival_midnight_ms(self) -> int:
        return midnight_ms(date.fromisoformat(self.settings.festival_date))

    def history(self) -> History:
        return History(self.settings.data_dir)

    def guess_board(self) -> GuessBoard:
        return _board(self.settings.data_dir, self.settings.guesses_close_at,
                      self.settings.festival_date)

    def guesses(self) -> tuple[Guess, ...]:
        """The guesses, read again only when the board's files changed (a page drawn right after
        a guess, by any process, shows it)."""
        board = self.guess_board()
        return _reused_guesses(board, board.version())

    def last_year(self) -> History | None:
        path = last_year_dir(self.settings.data_dir, self.settings.last_year_data_dir)
        return History(path, cache_root=self.settings.data_dir) \
            if path is not None and orders_dir(path).is_dir() else None



@functools.lru_cache(maxsize=4)
def _board(data_dir: Path, close_at: str, festival_date: str) -> GuessBoard:
    """One board per data dir and closing time in each process (every screen's request asks)."""
    return GuessBoard(data_dir, closing_ms(close_at, festival_date))


@functools.lru_cache(maxsize=2)
def _reused_guesses(board: GuessBoard, _version: tuple[tuple[int, int, int], ...]
                    ) -> tuple[Guess, ...]:
    return tuple(board.guesses())


_HEARTBEAT = re.compile(rb'"heartbeat_ms":(\d+)')


def snapshot_age_ms(raw: bytes, now_ms: int) -> int:
    """How old a snapshot's heartbeat is by this server's clock (a browser's may be wrong)."""
    beat = _HEARTBEAT.search(raw)
    return max(now_ms - int(beat[1]), 0) if beat else 0


@functools.lru_cache(maxsize=2)
def parsed_night(raw: bytes) -> dict[str, Any]:
    return dict(json.loads(raw))


SEVERITY_ORDER = {"critical": 0, "major": 1, "warning": 2, "info": 3}


@functools.lru_cache(maxsize=4)
def parsed_alerts(raws: tuple[bytes | None, ...]) -> list[dict[str, Any]]:
    alerts = [a for raw in raws if raw for a in json.loads(raw).get("alerts", [])]
    return sorted(alerts, key=lambda a: (a.get("state") == "resolved",
                                         SEVERITY_ORDER.get(a.get("severity", ""), 9),
                                         -int(a.get("start_ms") or 0)))


def source() -> DataSource:
    """The data source of the app serving this request."""
    found: DataSource = flask.current_app.extensions["gmv"]
    return found
