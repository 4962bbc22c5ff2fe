"""The local key: what proves that a request comes from the war room's own machine while it has no
users. Loopback alone proves nothing (a proxy or a TCP forwarder on this machine that adds no
forwarding header carries anyone's browser from loopback, with a loopback Host), so the machine
proves itself with a secret only its owner can read: a random key kept in the data dir (mode
0600), printed by `gmv serve`/`gmv demo`/`gmv local-link` as a link. Opening the link once sets a
cookie (HttpOnly, SameSite=Strict) and sends the browser to the same address without the key.

The cookie never carries the key. Browsers send the cookies of 127.0.0.1 to every port of it, so
any other server on this machine sees them: it gets a browser pass (a time, a random nonce and
their HMAC under the key), which expires, and which `gmv local-link --new` (a new key) ends for
every browser at once; the key itself, shown as a cookie, is refused."""

from __future__ import annotations

import hashlib
import hmac
import html as html_text
import os
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import flask

from dashboard.accounts import kept_secret

KEY_FILE = "local-key"
KEY_PARAMETER = "key"
COOKIE_PREFIX = "gmv_local_"
COOKIE_DAYS = 30  # the key itself never changes unless its file is removed
NO_USERS = ("This war room has no users yet: open the link `gmv demo` / `gmv serve` printed on "
            "this machine (or run `gmv local-link`), or add users with `gmv user add`")


def local_key(data_dir: Path) -> str:
    """This data dir's local key, made once (every dashboard process on it reads the same)."""
    return kept_secret(Path(data_dir) / KEY_FILE, lambda: secrets.token_urlsafe(32))


def read_local_key(data_dir: Path) -> str | None:
    try:
        return (Path(data_dir) / KEY_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def new_local_key(data_dir: Path) -> str:
    """A new key in place of the old one (atomically: a dashboard reading it sees one or the
    other): every browser pass and link made with the old one stops working."""
    path = Path(data_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{KEY_FILE}.{os.getpid()}")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(32))
        file.flush()
        os.fsync(file.fileno())
    os.replace(fresh, path)
    return path.read_text().strip()


class KeyOnDisk:
    """The data dir's local key as it is now: read again when its file changes (a new key from
    `gmv local-link --new` ends the browser passes of a running dashboard without a restart)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / KEY_FILE
        self._key = local_key(data_dir)
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def __call__(self) -> str:
        stamp = self._stamp()
        if stamp != self._seen:
            self._key, self._seen = local_key(self.path.parent), self._stamp()
        return self._key


def local_link(base_url: str, key: str) -> str:
    return f"{base_url.rstrip('/')}/?{KEY_PARAMETER}={key}"


def cookie_name(key: str) -> str:
    """One name per war room (a digest of its key): browsers keep cookies per host, not per port,
    so two war rooms on one machine would otherwise overwrite each other's."""
    return COOKIE_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:12]


def is_key(given: str, key: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), key.encode())


def _seal(key: str, body: str) -> str:
    return hmac.new(key.encode(), b"gmv local browser pass:" + body.encode(),
                    hashlib.sha256).hexdigest()


def browser_pass(key: str, now_s: int | None = None) -> str:
    """What the cookie holds: `<issued unix s>.<nonce>.<HMAC of both under the key>`."""
    body = f"{int(time.time()) if now_s is None else now_s}.{secrets.token_urlsafe(16)}"
    return f"{body}.{_seal(key, body)}"


def is_browser_pass(value: str, key: str, now_s: float | None = None) -> bool:
    """A pass this key made, less than COOKIE_DAYS old (and not from the future)."""
    issued, _, rest = value.partition(".")
    nonce, _, seal = rest.partition(".")
    if not (issued.isascii() and issued.isdigit() and len(issued) <= 12 and nonce and seal):
        return False
    age = (time.time() if now_s is None else now_s) - int(issued)
    if not -300 <= age <= COOKIE_DAYS * 86400:
        return False
    return hmac.compare_digest(seal.encode("utf-8", "surrogateescape"),
                               _seal(key, f"{issued}.{nonce}").encode())


def holds_pass(environ: dict[str, Any], key: str) -> bool:
    """Whether the request's cookies carry a browser pass of the key (read by hand: one odd
    cookie of another site on this host must not hide ours, as it would from http.cookies)."""
    wanted = cookie_name(key)
    for pair in environ.get("HTTP_COOKIE", "").split(";"):
        name, _, value = pair.strip().partition("=")
        if name == wanted and is_browser_pass(value.strip('"'), key):
            return True
    return False


def address_without_key() -> str:
    """The request's path and query, less the key."""
    request = flask.request
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != KEY_PARAMETER]
    return request.path + (f"?{urlencode(rest)}" if rest else "")


def let_in(target: str, key: str | None, secure: bool) -> Any:
    """To `target` (the address without the key: kept out of the address bar and out of Referer
    headers; the browser's history keeps the link it opened) and, given the right `key`, the
    cookie with a new browser pass that proves this browser from now on."""
    response = flask.redirect(target)
    if key is not None:
        response.set_cookie(cookie_name(key), browser_pass(key), max_age=COOKIE_DAYS * 86400, httponly=True,
                            samesite="Strict", secure=secure)
    response.headers["Cache-Control"] = "no-store"
    return response


def no_users_page(style: str, wrong_key: bool) -> flask.Response:
    """What a browser without the key sees on a war room without users (403)."""
    lead = "This key is not this war room's." if wrong_key else ""
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>GMV 11.11</title>
<style>{style}</style></head><body><main><h1>GMV 11.11</h1>
<p id="no-users">{html_text.escape(f"{lead} {NO_USERS}".strip())}.</p>
<p>It lets in only this machine's own browsers, never through a proxy.</p>
<p lang="zh-CN">此作战室尚未添加用户：请在本机打开 `gmv demo` / `gmv serve` 打印的链接（或运行
`gmv local-link`），或用 `gmv user add` 添加用户。</p></main></body></html>"""
    return flask.Response(body, status=403, mimetype="text/html")
