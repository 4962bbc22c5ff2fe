"""The staff guessing game on the day's final GMV: one guess per person (per name on a local war
room without users), changeable until the board closes, then frozen; the closest to the final
in absolute terms wins, an earlier guess before a later one at the same distance. Kept in the
data dir's `guesses.sqlite3` (WAL, every write synchronous: a restart loses none).

Who guesses is a `Guesser`: a signed-in account guesses under its own name, whatever a browser
sends; on the local war room a typed name, refused when it looks like another guess's name
(dashboard/lookalike.py)."""

from __future__ import annotations

import re
import sqlite3
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from dashboard.lookalike import mixed_scripts, skeleton
from dashboard.said import Said
from ingest.contract import BEIJING, beijing_iso, format_cents, midnight_ms

FILE_NAME = "guesses.sqlite3"
ACCOUNT_KEY = "user:"  # a signed-in person's guess: "user:<account name>"
MAX_NAME = 40
MAX_GUESS_CENTS = 100_000_000_000_000_00  # ¥100 万亿: far beyond any festival day
UNITS = {"": 1, "亿": 100_000_000, "万": 10_000, "bn": 1_000_000_000, "b": 1_000_000_000,
         "m": 1_000_000, "k": 1_000}
_AMOUNT = re.compile(r"^\s*¥?\s*([0-9][0-9,\s]*(?:\.[0-9]+)?)\s*(亿|万|bn|b|m|k)?\s*(元|yuan)?\s*$",
                     re.IGNORECASE)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS guesses (key TEXT PRIMARY KEY, name TEXT NOT NULL,
    amount_cents INTEGER NOT NULL, at_ms INTEGER NOT NULL, first_at_ms INTEGER NOT NULL,
    by TEXT NOT NULL);
"""


class GuessError(Said):
    """A refused guess: one line for the person; nothing was changed."""


@dataclass(frozen=True)
class Guesser:
    """Who a guess is for: `key` (one guess each), the `name` the board shows, `by` (who made
    it, for the audit log), and whether the name was typed (then checked for look-alikes)."""

    key: str
    name: str
    by: str
    typed: bool

    @classmethod
    def account(cls, name: str) -> Guesser:
        """A signed-in person: their account's name, the only one they can guess under."""
        return cls(ACCOUNT_KEY + name, name, name, False)

    @classmethod
    def by_name(cls, text: str, by: str = "local") -> Guesser:
        """A name typed on the local war room (no users): the same name is the same guess."""
        name = clean_name(text)
        if (scripts := mixed_scripts(name)) is not None:
            raise GuessError("guess_name_mixed", scripts=scripts)
        return cls(local_key(name), name, by, True)


@dataclass(frozen=True)
class Guess:
    key: str
    name: str
    amount_cents: int
    at_ms: int  # when it was last set: the tie-break
    by: str


@dataclass(frozen=True)
class Ranked:
    """A guess in the standings: its rank and distance, or None for both before there is a
    number to measure against."""

    rank: int | None
    guess: Guess
    distance_cents: int | None

    def to_json(self) -> dict[str, Any]:
        distance = self.distance_cents
        return {"rank": self.rank, "name": self.guess.name,
                "amount": format_cents(self.guess.amount_cents),
                "amount_cents": self.guess.amount_cents,
                "distance": format_cents(distance) if distance is not None else None,
                "distance_cents": distance, "at": beijing_iso(self.guess.at_ms)}


def parse_amount(text: str) -> int:
    """A guess as people type it: "3200亿", "320,000,000,000", "¥3 200.5 亿", "320bn"; in cents."""
    match = _AMOUNT.match(unicodedata.normalize("NFKC", text or "").replace("，", ","))
    if not match or not any(c.isdigit() for c in match.group(1)):
        raise GuessError("guess_not_a_number")
    digits = re.sub(r"[,\s]", "", match.group(1))
    try:
        yuan = Decimal(digits) * UNITS[(match.group(2) or "").lower()]
    except (InvalidOperation, KeyError):
        raise GuessError("guess_not_a_number") from None
    cents = yuan * 100
    if cents != cents.to_integral_value():
        raise GuessError("guess_decimals")
    if cents <= 0:
        raise GuessError("guess_not_positive")
    if cents > MAX_GUESS_CENTS:
        raise GuessError("guess_too_big")
    return int(cents)


def clean_name(text: str) -> str:
    name = " ".join(unicodedata.normalize("NFKC", text or "").split())
    if not name:
        raise GuessError("guess_no_name")
    if len(name) > MAX_NAME:
        raise GuessError("guess_name_too_long", limit=MAX_NAME)
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise GuessError("guess_name_unshowable")
    return name


def closing_ms(setting: str, festival_date: str) -> int:
    """When the board closes: the setting (ISO, Beijing unless it has an offset), else midnight
    opening the festival day."""
    if not setting:
        return midnight_ms(date.fromisoformat(festival_date))
    try:
        moment = datetime.fromisoformat(setting)
    except ValueError:
        raise ValueError(f"GMV_GUESSES_CLOSE_AT={setting!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return int(moment.timestamp() * 1000)


class GuessBoard:
    def __init__(self, data_dir: Path, closes_at_ms: int) -> None:
        self.path = data_dir / FILE_NAME
        self.closes_at_ms = closes_at_ms
        data_dir.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    def is_open(self, now_ms: int) -> bool:
        return now_ms < self.closes_at_ms

    def submit(self, guesser: Guesser, amount: str, now_ms: int) -> Guess:
        """Sets the guesser's guess; refused with a GuessError after closing, for a bad amount, or
        for a typed name that another guess's name looks like."""
        if not self.is_open(now_ms):
            raise GuessError("guess_closed", time=beijing_iso(self.closes_at_ms)[:16])
        guess = Guess(guesser.key, guesser.name, parse_amount(amount), now_ms, guesser.by)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            taken = self._lookalike_of(db, guesser) if guesser.typed else None
            if taken is not None:
                db.execute("ROLLBACK")
                raise GuessError("guess_name_taken", taken=taken, name=guesser.name)
            db.execute("INSERT INTO guesses VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE "
                       "SET name = excluded.name, amount_cents = excluded.amount_cents, "
                       "at_ms = excluded.at_ms, by = excluded.by",
                       [guess.key, guess.name, guess.amount_cents, now_ms, now_ms, guess.by])
            db.execute("COMMIT")
        return guess

    @staticmethod
    def _lookalike_of(db: sqlite3.Connection, guesser: Guesser) -> str | None:
        """The name of another's guess that the typed name looks like, if any."""
        mine = skeleton(guesser.name)
        others = db.execute("SELECT name FROM guesses WHERE key != ?", [guesser.key]).fetchall()
        return next((str(n) for (n,) in others if skeleton(str(n)) == mine), None)

    def guesses(self) -> list[Guess]:
        with self._db() as db:
            rows = db.execute("SELECT key, name, amount_cents, at_ms, by FROM guesses "
                              "ORDER BY at_ms, key").fetchall()
        # A person's guess shows their account's name, whatever a row written before says.
        return [Guess(str(k), str(k).removeprefix(ACCOUNT_KEY) if str(k).startswith(ACCOUNT_KEY)
                      else str(n), int(a), int(t), str(b)) for k, n, a, t, b in rows]

    def version(self) -> tuple[tuple[int, int, int], ...]:
        """Changes whenever a guess is written, in any process: the database's and its
        write-ahead log's (inode, size, mtime). A stat costs microseconds; a read, a connection."""
        stamps = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                st = path.stat()
                stamps.append((st.st_ino, st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                stamps.append((0, 0, 0))
        return tuple(stamps)

    def mine(self, key: str) -> Guess | None:
        return next((g for g in self.guesses() if g.key == key), None)


def ranked(guesses: list[Guess], target_cents: int) -> list[Ranked]:
    """Closest first; at the same distance the earlier guess, then the name."""
    order = sorted(guesses, key=lambda g: (abs(g.amount_cents - target_cents), g.at_ms, g.name))
    return [Ranked(i + 1, g, abs(g.amount_cents - target_cents)) for i, g in enumerate(order)]


def local_key(name: str) -> str:
    """On a local war room without users a guess is a name's: the same name (NFKC, casefolded)
    changes it."""
    return "name:" + clean_name(name).casefold()


def now_ms() -> int:
    return int(time.time() * 1000)


def standings(guesses: list[Guess], closes_at_ms: int, forecast: dict[str, Any] | None,
              night_clock_ms: int | None) -> dict[str, Any]:
    """The board as `gmv guesses --json`, /ops and the big screen show it: open or closed (by the
    night's clock, or the wall clock before any order), and every guess ranked against the final
    GMV once the day is over, against the forecast's final before that (when there is one)."""
    clock = night_clock_ms if night_clock_ms is not None else now_ms()
    target, against = None, None
    if forecast and forecast.get("status") == "ok":
        target = int(forecast["final_gmv_cents"])
        against = "final" if forecast.get("method") == "final" else "forecast"
    rows = ranked(guesses, target) if target is not None else [Ranked(None, g, None)
                                                               for g in guesses]
    return {
        "closes_at": beijing_iso(closes_at_ms), "closes_at_ms": closes_at_ms,
        "open": clock < closes_at_ms, "count": len(guesses), "against": against,
        "target": format_cents(target) if target is not None else None,
        "guesses": [r.to_json() for r in rows],
        "winner": rows[0].to_json() if rows and against == "final" else None,
    }
