"""The local key: what proves that a request comes from the war room's own machine while it has no
users. Loopback alone proves nothing (a proxy or a TCP forwarder on this machine that adds no
forwarding header carries anyone's browser from loopback, with a loopback Host), so the machine
proves itself with a secret only its owner can read: a random key kept in the data dir (mode
0600), printed by `gmv serve`/`gmv demo`/`gmv local-link` as a link. Opening the link once sets a
cookie (HttpOnly, SameSite=Strict) and sends the browser to the same address without the key."""

from __future__ import annotations

import hashlib
import hmac
import html as html_text
import secrets
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


def local_link(base_url: str, key: str) -> str:
    return f"{base_url.rstrip('/')}/?{KEY_PARAMETER}={key}"


def cookie_name(key: str) -> str:
    """One name per war room (a digest of its key): browsers keep cookies per host, not per port,
    so two war rooms on one machine would otherwise overwrite each other's."""
    return COOKIE_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:12]


def is_key(given: str, key: str) -> bool:
    return hmac.compare_digest(given.encode(), key.encode())


def holds_key(environ: dict[str, Any], key: str) -> bool:
    """Whether the request's cookies carry the key (read by hand: one odd cookie of another site
    on this host must not hide ours, as it would from http.cookies)."""
    wanted = cookie_name(key)
    for pair in environ.get("HTTP_COOKIE", "").split(";"):
        name, _, value = pair.strip().partition("=")
        if name == wanted and is_key(value.strip('"'), key):
            return True
    return False


def address_without_key() -> str:
    """The request's path and query, less the key."""
    request = flask.request
    rest = [(k, v) for k, v in request.args.items(multi=True) if k != KEY_PARAMETER]
    return request.path + (f"?{urlencode(rest)}" if rest else "")


def let_in(target: str, key: str | None, secure: bool) -> Any:
    """To `target` (the address without the key: kept out of the history and out of Referer
    headers) and, given the right `key`, the cookie that proves this browser from now on."""
    response = flask.redirect(target)
    if key is not None:
        response.set_cookie(cookie_name(key), key, max_age=COOKIE_DAYS * 86400, httponly=True,
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
