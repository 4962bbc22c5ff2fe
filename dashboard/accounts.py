"""The war room's users, kiosk links, sessions and audit log: one SQLite file in the data dir
(`access.sqlite3`), shared by every dashboard process and the `gmv user`/`kiosk-link`/`audit`
commands. Passwords are stored as argon2id hashes (argon2-cffi); a kiosk link's token and a
session's id only as their SHA-256 (each is 256 random bits: a slow hash would add nothing but
latency)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dashboard.roles import ROLES, Identity

FILE_NAME = "access.sqlite3"
SECRET_FILE = "session-secret"
MIN_PASSWORD = 10
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")
RELOAD_EVERY_S = 1.0  # how soon an ended session stops working in every running server process
SESSION_HOURS = 12  # a person's session
KIOSK_DAYS = 7  # a wall's: it reads through /api/*, which never renews a cookie
SESSIONS_KEPT = 2_000  # live sessions per user or kiosk link; the oldest end first beyond it

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL,
    password_hash TEXT NOT NULL, epoch INTEGER NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kiosk_links (id TEXT PRIMARY KEY, token_sha256 TEXT UNIQUE NOT NULL,
    label TEXT NOT NULL, created_ms INTEGER NOT NULL, revoked_ms INTEGER);
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,
    who TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, what TEXT NOT NULL,
    source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id_sha256 TEXT PRIMARY KEY, kind TEXT NOT NULL,
    subject TEXT NOT NULL, epoch INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_of ON sessions (kind, subject, expires_ms);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('generation', 0);
"""
_HASHER = PasswordHasher()
# A hash to verify against when the name is unknown, so a failed sign-in takes as long either way.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A refused change (bad name, weak password, unknown user): one line for the person."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str
    # Set at each add or change from the access file's generation, which never goes back: a
    # session begun before a password or role change, or before the name was removed and added
    # again, names an epoch the user no longer has.
    epoch: int


@dataclass(frozen=True)
class Session:
    """A signed-in browser, as the access file keeps it (under its id's digest)."""

    kind: str  # "user" or "kiosk"
    subject: str  # the user's name or the kiosk link's id
    epoch: int  # the user's epoch when it began (0 for a kiosk link)
    expires_ms: int


@dataclass(frozen=True)
class Directory:
    """Who exists, as one process last read it."""

    users: dict[str, User]
    kiosk_links: dict[str, str]  # live link id -> token sha256
    sessions: dict[str, Session]  # live session id's sha256 -> session


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    if not name or len(name) > 64 or not set(name) <= NAME_CHARS:
        raise AccountError(f"{name!r} is not a user name: 1-64 of a-z 0-9 . _ - @")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"{role!r} is not a role: one of {', '.join(ROLES)}")
    return role


class Accounts:
    """The access file of a data dir. Thread-safe; each thread has its own connection."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILE_NAME
        self._local = threading.local()
        self._directory: Directory | None = None
        self._checked_at = 0.0
        self._generation = -1
        self._lock = threading.Lock()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # the audit is durable at each record
            conn.executescript(_SCHEMA)
            os.chmod(self.path, 0o600)
            self._local.conn, self._local.pid = conn, os.getpid()
        yield conn

    @contextmanager
    def _change(self) -> Iterator[sqlite3.Connection]:
        """One write to users, kiosk links or sessions, in a transaction that also moves the
        generation when it changed anything (every process re-reads the directory when it has
        moved)."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                changes = db.total_changes
                yield db
                if db.total_changes != changes:
                    db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # -- users ---------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str) -> None:
        check_name(name), check_role(role)
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
        hashed = _HASHER.hash(password)  # slow on purpose: outside the transaction
        with self._change() as db:
            # The generation this change moves to: above every epoch ever given, to any name.
            epoch = db.execute("SELECT value + 1 FROM meta WHERE key = 'generation'").fetchone()[0]
            db.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?, ?)",
                       (name, role, hashed, epoch, _now_ms()))
            _end_sessions_of(db, "user", name)  # a new password or role: sign in again

    def remove_user(self, name: str) -> None:
        with self._change() as db:
            gone = db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
            _end_sessions_of(db, "user", name)
        if not gone:
            raise AccountError(f"no user {name!r}")

    def users(self) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT name, role, created_ms FROM users ORDER BY name").fetchall()
        return [{"name": n, "role": r, "created_ms": c} for n, r, c in rows]

    def has_users(self, fresh: bool = False) -> bool:
        """`fresh` for a link a person opens by hand: a user added a moment ago counts."""
        return bool(self.directory(fresh=fresh).users)

    def sign_in(self, name: str, password: str) -> User | None:
        """The user when the password is theirs; None otherwise (as slowly either way)."""
        user = self.directory(fresh=True).users.get(name)  # a user added a moment ago signs in
        try:
            _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    # -- kiosk links ---------------------------------------------------------------------------

    def add_kiosk_link(self, label: str) -> tuple[str, str]:
        """A new read-only link for a wall screen: (its id, its token). Only the token's digest
        is kept: a lost link is revoked and made again, never shown twice."""
        link_id, token = secrets.token_hex(4), secrets.token_urlsafe(32)
        with self._change() as db:
            db.execute("INSERT INTO kiosk_links VALUES (?, ?, ?, ?, NULL)",
                       (link_id, token_digest(token), label[:80], _now_ms()))
        return link_id, token

    def revoke_kiosk_link(self, link_id: str) -> None:
        with self._change() as db:
            gone = db.execute("UPDATE kiosk_links SET revoked_ms = ? WHERE id = ? AND revoked_ms "
                              "IS NULL", (_now_ms(), link_id)).rowcount
            _end_sessions_of(db, "kiosk", link_id)
        if not gone:
            raise AccountError(f"no live kiosk link {link_id!r}")

    def kiosk_links(self) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT id, label, created_ms, revoked_ms FROM kiosk_links "
                              "ORDER BY created_ms").fetchall()
        return [{"id": i, "label": la, "created_ms": c, "revoked_ms": r} for i, la, c, r in rows]

    def kiosk_link_of(self, token: str) -> str | None:
        digest = token_digest(token)
        return next((i for i, d in self.directory(fresh=True).kiosk_links.items()
                     if secrets.compare_digest(d, digest)), None)

    # -- sessions ------------------------------------------------------------------------------

    def start_session(self, user: User, started_ms: int | None = None) -> Identity:
        """A new session for a person who just proved who they are; it lasts SESSION_HOURS, or
        until they sign out, are removed, or their password or role changes."""
        session_id = self._start("user", user.name, user.epoch, SESSION_HOURS * 3600, started_ms)
        return Identity(user.name, user.role, "user", session_id)

    def start_kiosk_session(self, link_id: str, started_ms: int | None = None) -> Identity:
        """A new session for a wall that opened its kiosk link; it lasts KIOSK_DAYS, or until
        the link is revoked."""
        session_id = self._start("kiosk", link_id, 0, KIOSK_DAYS * 86400, started_ms)
        return _kiosk_identity(link_id, session_id)

    def _start(self, kind: str, subject: str, epoch: int, lasts_s: int,
               started_ms: int | None) -> str:
        session_id, now_ms = secrets.token_urlsafe(32), _now_ms()
        expires_ms = (now_ms if started_ms is None else started_ms) + lasts_s * 1000
        with self._change() as db:
            db.execute("DELETE FROM sessions WHERE expires_ms <= ?", (now_ms,))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                       (token_digest(session_id), kind, subject, epoch, expires_ms))
            db.execute("DELETE FROM sessions WHERE kind = ? AND subject = ? AND id_sha256 NOT IN "
                       "(SELECT id_sha256 FROM sessions WHERE kind = ? AND subject = ? "
                       "ORDER BY expires_ms DESC LIMIT ?)",
                       (kind, subject, kind, subject, SESSIONS_KEPT))
        return session_id

    def end_session(self, session_id: str) -> None:
        """Signing out: the session's id, wherever a copy of it is kept, names no one now."""
        with self._change() as db:
            db.execute("DELETE FROM sessions WHERE id_sha256 = ?", (token_digest(session_id),))

    # -- who a session is ----------------------------------------------------------------------

    def directory(self, fresh: bool = False) -> Directory:
        """Users, live kiosk links and sessions, re-read when another process changed them
        (checked at most every RELOAD_EVERY_S: one tiny query; `fresh`: checked now)."""
        now = time.monotonic()
        if not fresh and self._directory is not None and now - self._checked_at < RELOAD_EVERY_S:
            return self._directory
        with self._lock, self._db() as db:
            self._checked_at = now
            generation = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
            if self._directory is None or generation != self._generation:
                self._directory, self._generation = _read_directory(db), generation
        return self._directory

    def generation(self) -> int:
        """The access file's generation as this process last read it (at most RELOAD_EVERY_S
        old): it moves with every change to users, kiosk links and sessions."""
        self.directory()
        return self._generation

    def identity(self, session_id: str) -> Identity | None:
        """Who a session cookie's id names, while its session stands: begun here, not ended (by
        signing out, a removal, a password or role change, a revoked link), not too old."""
        digest = token_digest(session_id)
        found = _session_identity(session_id, digest, self.directory())
        if found is None:  # begun a moment ago in another process? (re-read now, only on a miss)
            found = _session_identity(session_id, digest, self.directory(fresh=True))
        return found

    def user_identity(self, name: str) -> Identity | None:
        """The user a trusted proxy names (each request, no session here)."""
        user = self.directory().users.get(name) or self.directory(fresh=True).users.get(name)
        return Identity(user.name, user.role, "user") if user else None

    # -- the audit log -------------------------------------------------------------------------

    def record(self, who: Identity | str, action: str, source: str, **what: Any) -> None:
        """One line of the audit log, on disk before this returns."""
        name, role = (who.name, who.role) if isinstance(who, Identity) else (who, "")
        with self._db() as db:
            db.execute("INSERT INTO audit (at_ms, who, role, action, what, source) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (_now_ms(), name, role, action, json.dumps(what, ensure_ascii=False,
                                                                  sort_keys=True), source))

    def audit(self, limit: int | None = None, since_ms: int = 0) -> list[dict[str, Any]]:
        """The audit log, oldest first (the newest `limit` when given)."""
        with self._db() as db:
            rows = db.execute("SELECT seq, at_ms, who, role, action, what, source FROM audit "
                              "WHERE at_ms >= ? ORDER BY seq DESC LIMIT ?",
                              (since_ms, -1 if limit is None else limit)).fetchall()
        return [{"seq": s, "at_ms": at, "who": w, "role": r, "action": a, "what": json.loads(t),
                 "source": src} for s, at, w, r, a, t, src in reversed(rows)]


def _read_directory(db: sqlite3.Connection) -> Directory:
    users = {n: User(n, r, h, e) for n, r, h, e in
             db.execute("SELECT name, role, password_hash, epoch FROM users")}
    links = dict(db.execute("SELECT id, token_sha256 FROM kiosk_links WHERE revoked_ms IS NULL")
                 .fetchall())
    sessions = {d: Session(k, s, e, x) for d, k, s, e, x in
                db.execute("SELECT id_sha256, kind, subject, epoch, expires_ms FROM sessions "
                           "WHERE expires_ms > ?", (_now_ms(),))}
    return Directory(users, links, sessions)


def _session_identity(session_id: str, digest: str, directory: Directory) -> Identity | None:
    session = directory.sessions.get(digest)
    if session is None or session.expires_ms <= _now_ms():
        return None
    if session.kind == "kiosk":
        live = session.subject in directory.kiosk_links
        return _kiosk_identity(session.subject, session_id) if live else None
    user = directory.users.get(session.subject)
    if user is None or user.epoch != session.epoch:
        return None
    return Identity(user.name, user.role, "user", session_id)


def _kiosk_identity(link_id: str, session_id: str) -> Identity:
    return Identity(f"kiosk {link_id}", "viewer", "kiosk", session_id)


def _end_sessions_of(db: sqlite3.Connection, kind: str, subject: str) -> None:
    db.execute("DELETE FROM sessions WHERE kind = ? AND subject = ?", (kind, subject))


def session_secret(data_dir: Path, configured: str) -> str:
    """The key that signs session cookies: the setting when given, else one made once and kept
    in the data dir (every dashboard process on it signs alike, and a restart signs no one out)."""
    if configured:
        return configured
    return kept_secret(Path(data_dir) / SECRET_FILE, lambda: secrets.token_hex(32))


def kept_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret in `path`, made by `make` the first time (owner-only, whatever the umask; the
    first of several processes starting at once writes it, the others read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(100):  # another process is writing it this instant
            secret = path.read_text().strip()
            if secret:
                return secret
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty: remove it and start again") from None
    with os.fdopen(fd, "w") as file:
        file.write(make())
        file.flush()
        os.fsync(file.fileno())
    return path.read_text().strip()


def _now_ms() -> int:
    return int(time.time() * 1000)
