"""The door of the war room: sign-in and sign-out (Flask-Login; a signed cookie carries a random
session id, the session itself is kept and ended in the access file: dashboard/accounts.py), kiosk
links, CSRF protection (Flask-WTF; Dash's renderer sends the `_csrf_token` cookie back as a
header), who may open which page and run which callback, and per-person rate limits.

With no users configured nobody signs in: the war room answers its own machine only, a request
that is straight from loopback (a loopback address and Host name, no proxy's header:
dashboard/perimeter.py) AND carries the data dir's local key (dashboard/local_key.py: loopback
alone is what a same-host proxy or forwarder gives anyone). `gmv serve` refuses to listen beyond
loopback then (gmv/cli.py)."""

from __future__ import annotations

import functools
import hashlib
import html as html_text
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import flask
import flask_login
import redis
from flask_wtf.csrf import CSRFProtect, generate_csrf
from itsdangerous import BadSignature
from werkzeug.exceptions import Forbidden
from werkzeug.http import parse_cookie

from common.logs import log_event
from common.settings import Settings
from dashboard.accounts import KIOSK_DAYS, SESSION_HOURS, Accounts, session_secret
from dashboard.format import text
from dashboard.local_key import (
    KEY_PARAMETER,
    KeyOnDisk,
    address_without_key,
    holds_pass,
    is_key,
    let_in,
    no_users_page,
)
from dashboard.params import BadParameter, check_query, language
from dashboard.perimeter import is_local_request
from dashboard.roles import LOCAL, PAGES, VIEWS, Can, Identity
from dashboard.throttle import SignInThrottle

log = logging.getLogger("gmv.gate")
SESSION_COOKIE = "gmv_session"
CSRF_COOKIE = "_csrf_token"  # the name dash-renderer reads (Dash(csrf_token_name=...))
VERIFIED_FOR_S = 60
VERIFIED_KEPT = 20_000
PUBLIC = ("/login", "/logout", "/_favicon.ico")
KIOSK_ROUTE = "gmv_kiosk"  # `/kiosk/<token>` exactly: nothing else under /kiosk/ is public
F = TypeVar("F", bound=Callable[..., Any])


class RateLimits:
    """Counters per person, action and minute in Redis, shared by every dashboard process.
    Redis away: nothing is limited (the screens are failing louder than a limit could)."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client, self.settings = client, settings

    def _key(self, action: str, who: str) -> str:
        return self.settings.rate_key(action, who, int(time.time() // 60))

    def spend(self, action: str, who: str, per_minute: int) -> int | None:
        """Counts one `action` of `who`; the seconds until the next minute when over the limit."""
        key = self._key(action, who)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 120)
            count = int(pipe.execute()[0])
        except redis.RedisError:
            return None
        return 60 - int(time.time()) % 60 if count > per_minute else None

    def spent(self, action: str, who: str) -> int:
        try:
            return int(self.client.get(self._key(action, who)) or 0)
        except redis.RedisError:
            return 0


class Verified(NamedTuple):
    session_id: str | None  # None: the cookie's signature did not hold
    until_s: float  # monotonic


class VerifiedCookies:
    """Session cookies whose signature this process checked lately, keyed by the SHA-256 of the
    cookie's value alone (not the whole Cookie header: other cookies, which anyone can vary,
    must not make new entries), at most `kept` of them (~200 bytes each), each for `for_s`."""

    def __init__(self, kept: int = VERIFIED_KEPT, for_s: float = VERIFIED_FOR_S) -> None:
        self.kept, self.for_s = kept, for_s
        self._entries: dict[bytes, Verified] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, value: str) -> Verified | None:
        known = self._entries.get(_digest(value))
        return known if known is not None and known.until_s > time.monotonic() else None

    def put(self, value: str, session_id: str | None) -> None:
        if len(self._entries) >= self.kept:
            self._entries.clear()  # a minute's re-verification, once: simpler than an LRU
        self._entries[_digest(value)] = Verified(session_id, time.monotonic() + self.for_s)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


class Gate:
    """Installed on the Flask server of the Dash app; the JSON API asks it too (`identify`)."""

    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        self.settings = settings
        self.accounts = Accounts(settings.data_dir)
        self.local_key = KeyOnDisk(settings.data_dir)  # `gmv local-link --new` rotates it
        self.limits = RateLimits(client, settings)
        self.throttle = SignInThrottle(client, settings)
        self._serializer: Any = None
        self.verified = VerifiedCookies()

    # -- installing ----------------------------------------------------------------------------

    def install(self, server: flask.Flask) -> None:
        server.secret_key = session_secret(self.settings.data_dir, self.settings.session_secret)
        server.config.update(
            SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=self.settings.cookie_secure,
            PERMANENT_SESSION_LIFETIME=timedelta(days=KIOSK_DAYS),
            WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600)
        manager = flask_login.LoginManager(server)
        manager.user_loader(self.accounts.identity)
        manager.request_loader(self._request_identity)
        manager.session_protection = None  # a wall screen's address may change under a proxy
        CSRFProtect(server)
        server.extensions["gmv_gate"] = self
        server.add_url_rule("/login", "gmv_sign_in", self.sign_in, methods=["GET", "POST"])
        server.add_url_rule("/logout", "gmv_sign_out", self.sign_out, methods=["POST"])
        # Signing out changes state: a POST with its CSRF token (the nav's button). A GET (a
        # link, a prefetch, an <img> on another site) signs nobody out and gets no page shell.
        server.add_url_rule("/logout", "gmv_sign_out_get", _sign_out_is_a_post, methods=["GET"])
        server.add_url_rule("/kiosk/<token>", KIOSK_ROUTE, self.kiosk)
        server.before_request(self.check_request)
        server.after_request(self.hand_out_csrf_token)
        self._serializer = server.session_interface.get_signing_serializer(server)  # type: ignore[attr-defined]

    # -- who is asking -------------------------------------------------------------------------

    def _request_identity(self, request: flask.Request) -> Identity | None:
        """Without a session: the user the trusted proxy names, or the local war room."""
        return self._without_session(request.headers.get(self.settings.trusted_user_header)
                                     if self.settings.trusted_user_header else None,
                                     request.environ)

    def _without_session(self, proxied_name: str | None,
                         environ: dict[str, Any]) -> Identity | None:
        """The local war room (no users) is this machine's own browsers: a request straight from
        loopback that holds the local key's cookie. One that names another Host (DNS rebinding),
        passed a proxy, or holds no key (a forwarder on this machine that adds no header serves
        anyone who reaches it) is nobody. Every way in (pages, callbacks, exports, the JSON API)
        asks this."""
        if proxied_name:
            return self.accounts.user_identity(proxied_name)
        if not self.accounts.has_users() and is_local_request(environ) and \
                holds_pass(environ, self.local_key()):
            return LOCAL
        return None

    def identify(self, environ: dict[str, Any]) -> Identity | None:
        """Who a plain WSGI request (the JSON API, outside Flask) comes from: its signed session
        cookie, as Flask-Login reads it, else as `_request_identity`."""
        header = self.settings.trusted_user_header
        proxied = environ.get("HTTP_" + header.upper().replace("-", "_")) if header else None
        if not proxied:
            session_id = self._session_id(environ.get("HTTP_COOKIE", ""))
            if session_id and (who := self.accounts.identity(session_id)) is not None:
                return who
        return self._without_session(proxied, environ)

    def _session_id(self, cookies: str) -> str | None:
        """The session id a Cookie header carries (its session cookie as Flask reads it: the
        first). Verifying the signature costs ~0.1 ms, more than the snapshot a screen asks for
        each second: a verified cookie is remembered for a minute (whether its session still
        stands is looked up on every request)."""
        if SESSION_COOKIE not in cookies:
            return None
        value = parse_cookie(cookies).get(SESSION_COOKIE)
        if not value:
            return None
        known = self.verified.get(value)
        if known is not None:
            return known.session_id
        found = self._verify(value)
        self.verified.put(value, found)
        return found

    def _verify(self, value: str) -> str | None:
        try:
            data = self._serializer.loads(value, max_age=KIOSK_DAYS * 86400)
        except (BadSignature, ValueError):
            return None
        found = data.get("_user_id") if isinstance(data, dict) else None
        return found if isinstance(found, str) else None

    def refusal(self, environ: dict[str, Any], who: Identity | None) -> tuple[str, str] | None:
        """Why a request without the right identity is refused: (status, reason)."""
        if who is not None:
            return None
        if not self.accounts.has_users():
            return "403 Forbidden", ("no users are configured: the war room answers only its own "
                                     "machine, directly (not through a proxy), with its local key: "
                                     "open the link `gmv serve`/`gmv demo` printed (or run `gmv "
                                     "local-link`), or add users with `gmv user add`")
        return "401 Unauthorized", "sign in first: /login"

    # -- every request through Flask (pages, Dash's own routes, callbacks) ---------------------

    def check_request(self) -> Any:
        request = flask.request
        if KEY_PARAMETER in request.args:
            return self._take_key()
        if request.path in PUBLIC or request.endpoint == KIOSK_ROUTE:
            return None
        try:
            check_query(request.args)
        except BadParameter as err:
            return _plain(400, str(err))
        who = current_identity()
        held = flask.session.get("_user_id")
        if held is not None and (who is None or who.session_id != held):
            flask.session.clear()  # its session has ended: the cookie forgets it
        if who is None:
            status, reason = self.refusal(request.environ, None) or ("401", "")
            wants_page = request.method == "GET" and request.path in PAGES
            if status.startswith("401") and wants_page:
                return flask.redirect(f"/login?next={quote(request.full_path.rstrip('?'))}")
            if wants_page:
                return no_users_page(_PAGE_STYLE, wrong_key=False)
            return _plain(int(status[:3]), reason)
        needed = PAGES.get(request.path)
        if needed is not None and not who.can(needed):
            return _refused_page(who, request.args.get("lang"))
        return None

    def _take_key(self) -> Any:
        """A link with the local key (`/?key=…`): its cookie and the same address without the
        key, for a browser straight on this machine; a wrong key gets the page that says which
        link to open. With users the key means nothing: only dropped from the address."""
        request = flask.request
        target = _safe_next(address_without_key())  # `//evil.example/?key=…` goes to `/`
        if self.accounts.has_users(fresh=True):
            return let_in(target, None, self.settings.cookie_secure)
        if not is_local_request(request.environ):
            return _plain(403, "the local key works only on the war room's own machine, directly "
                               "(not through a proxy)")
        key = self.local_key()
        if not is_key(request.args.get(KEY_PARAMETER, ""), key):
            log_event(log, "local_key_refused", source=request.remote_addr)
            return no_users_page(_PAGE_STYLE, wrong_key=True)
        return let_in(target, key, self.settings.cookie_secure)

    def hand_out_csrf_token(self, response: flask.Response) -> flask.Response:
        """The token Dash's renderer sends back with every callback (as X-CSRFToken)."""
        if flask.request.path not in ("/_dash-update-component", "/login") and \
                response.mimetype != "text/html":
            return response
        response.set_cookie(CSRF_COOKIE, generate_csrf(), samesite="Strict", httponly=False,
                            secure=self.settings.cookie_secure)
        return response

    # -- signing in and out --------------------------------------------------------------------

    def sign_in(self) -> Any:
        request = flask.request
        target = _safe_next(request.values.get("next"))
        lang = lang_or_default(request.args.get("lang") or parse_qs(urlsplit(target).query)
                               .get("lang", [None])[-1])
        if request.method == "GET":
            return _sign_in_page(lang, target, "")
        typed = request.form.get("name", "")[:64]  # given back as typed when the sign-in fails
        name = typed.strip().lower()
        attempt = self.throttle.count(name, request)  # before the password is checked
        if (refusal := attempt.refusal) is not None:
            page = _sign_in_page(lang, target, text(lang, refusal.words), refusal.status, typed)
            page.headers["Retry-After"] = str(refusal.retry_after_s)
            return page
        user = self.accounts.sign_in(name, request.form.get("password", ""))
        if user is None:
            self.accounts.record(name or "?", "sign_in_failed", source_address())
            log_event(log, "sign_in_failed", name=name, source=source_address())
            return _sign_in_page(lang, target, text(lang, "sign_in_failed"), 401, typed)
        who = self.accounts.start_session(user)
        self._hold(who)  # a fresh session (and CSRF token) for the signed-in person
        self.accounts.record(who, "sign_in", source_address())
        log_event(log, "signed_in", user=who.name, role=who.role, source=source_address())
        return self.throttle.signed_in(attempt, flask.redirect(target))

    def sign_out(self) -> Any:
        who = current_identity()
        if who is not None and who.kind != "local":
            self.accounts.record(who, "sign_out", source_address())
            log_event(log, "signed_out", user=who.name)
        self._let_go()
        return flask.redirect("/login")

    def kiosk(self, token: str) -> Any:
        """A wall screen opens its link once: a read-only session for the big screen. A browser
        in which a person is signed in keeps them: the link is for a wall's own browser."""
        # This machine's own screens open the local link; a user added a moment ago counts (a
        # server process that had not re-read the access file yet refused a wall's new link).
        if not self.accounts.has_users(fresh=True):
            return no_users_page(_PAGE_STYLE, wrong_key=False)
        link = self.accounts.kiosk_link_of(token) if len(token) < 200 else None
        if link is None:
            log_event(log, "kiosk_link_refused", source=source_address())
            return _kiosk_refused_page(browser_language(flask.request))
        lang = lang_or_default(flask.request.args.get("lang"))
        person = current_identity()
        if person is not None and person.kind == "user":
            log_event(log, "kiosk_link_kept_person", user=person.name, link=link,
                      source=source_address())
            return _kiosk_for_a_wall_page(person, lang)
        who = self.accounts.start_kiosk_session(link)
        self._hold(who)
        flask.session.permanent = True  # the cookie outlives the browser: a wall restarts
        self.accounts.record(who, "kiosk_opened", source_address(), link=link)
        log_event(log, "kiosk_opened", link=link, source=source_address())
        return flask.redirect(f"/?lang={lang}")

    def _hold(self, who: Identity) -> None:
        """This browser's session becomes `who`'s new one; the one it held ends."""
        self._let_go()
        flask_login.login_user(who)

    def _let_go(self) -> None:
        """Ends the session this browser holds, in the access file (a copy of its cookie names no
        one after), and empties its cookie."""
        held = flask.session.get("_user_id")
        if isinstance(held, str):
            self.accounts.end_session(held)
        flask_login.logout_user()
        flask.session.clear()


def gate() -> Gate:
    found: Gate = flask.current_app.extensions["gmv_gate"]
    return found


def current_identity() -> Identity | None:
    user = flask_login.current_user
    return user if isinstance(user, Identity) else None


def allowed(what: Can) -> bool:
    who = current_identity()
    return who is not None and who.can(what)


def requires(what: Can) -> Callable[[F], F]:
    """A Dash callback only for those who may `what`: anyone else's request is a 403, whatever
    the browser sends (a page's layout is not the only way to reach its callbacks)."""
    def wrap(func: F) -> F:
        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not allowed(what):
                raise Forbidden(f"not for your role: {what}")
            return func(*args, **kwargs)
        guarded.requires = what  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]
    return wrap


def source_address() -> str:
    """Where the request at hand comes from, for the audit and the logs: its connection's
    address, or the client a trusted proxy names (dashboard/perimeter.py)."""
    return gate().throttle.source(flask.request)



def lang_or_default(value: str | None) -> str:
    try:
        return language(value)
    except BadParameter:
        return "zh"


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only. Browsers drop tabs and newlines
    from a URL before reading it ('/', a tab, '/evil.example' is '//evil.example') and
    read a backslash as a slash: a target with either, or with any control character, space,
    scheme or host, goes to the big screen instead."""
    if not value or any(ord(c) <= 0x20 or c in "\\\x7f" for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def _sign_out_is_a_post() -> flask.Response:
    refused = _plain(405, "sign out with the sign-out button of any page (a POST): "
                          "nothing was changed")
    refused.headers["Allow"] = "POST"
    return refused


def _plain(status: int, message: str) -> flask.Response:
    return flask.Response(message + "\n", status=status, mimetype="text/plain")


_PAGE_STYLE = """
body{margin:0;min-height:100vh;display:grid;place-items:center;background:#070b14;color:#e8ecf3;
font-family:"Noto Sans CJK SC","Noto Sans SC",sans-serif}
main{background:#0f1626;border:1px solid #1d2740;border-radius:.8rem;padding:2.2rem 2.6rem;
width:min(26rem,90vw)}
h1{margin:0 0 1.4rem;font-size:1.6rem}.brand{color:#ff6a00;font-weight:900;margin-right:.6rem}
label{display:block;color:#8a94a6;margin:.8rem 0 .3rem}
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1.1rem;background:#070b14;
color:#e8ecf3;border:1px solid #1d2740;border-radius:.4rem}
button{margin-top:1.4rem;width:100%;padding:.7rem;font-size:1.1rem;font-weight:700;border:0;
border-radius:.4rem;background:#ff6a00;color:#fff;cursor:pointer}
.error{color:#ff4d4f;margin-top:1rem}a{color:#ffc53d}
"""


def browser_language(request: flask.Request) -> str:
    """The page's language: ?lang=, else the browser's first of ours (Accept-Language), else zh."""
    if request.args.get("lang"):
        return lang_or_default(request.args.get("lang"))
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"])
    return "en" if best and best.startswith("en") else "zh"


def _sign_in_page(lang: str, target: str, error: str, status: int = 200,
                  name: str = "") -> flask.Response:
    esc = html_text.escape
    # A wrong password keeps the name typed: the cursor waits in the password field.
    name_focus, password_focus = ("", "autofocus") if name else (" autofocus", "")
    body = f"""<!doctype html><html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>GMV 11.11 · {esc(text(lang, 'sign_in'))}</title><style>{_PAGE_STYLE}</style></head><body>
<main><h1><span class="brand">11.11</span>{esc(text(lang, 'sign_in'))}</h1>
<form method="post" action="/login?lang={lang}">
<input type="hidden" name="csrf_token" value="{esc(generate_csrf())}">
<input type="hidden" name="next" value="{esc(target)}">
<label for="name">{esc(text(lang, 'user_name'))}</label>
<input id="name" name="name" autocomplete="username" value="{esc(name)}"{name_focus} required>
<label for="password">{esc(text(lang, 'password'))}</label>
<input id="password" name="password" type="password" autocomplete="current-password"
{password_focus} required>
<button type="submit" id="sign-in">{esc(text(lang, 'sign_in'))}</button>
{f'<div class="error" role="alert">{esc(error)}</div>' if error else ''}
</form></main></body></html>"""
    return flask.Response(body, status=status, mimetype="text/html")


def _refused_page(who: Identity, lang_value: str | None) -> flask.Response:
    lang = lang_or_default(lang_value)
    return _signed_in_page(who, lang, text(lang, "not_for_role"), "", 403)


def _kiosk_for_a_wall_page(who: Identity, lang: str) -> flask.Response:
    return _signed_in_page(who, lang, text(lang, "kiosk_for_a_wall"),
                           text(lang, "kiosk_for_a_wall_hint"), 409)


def _links_open_to(who: Identity, lang: str) -> str:
    """A link to every page `who` may open, in the nav's order."""
    return " · ".join(f'<a href="{path}?lang={lang}">{html_text.escape(text(lang, key))}</a>'
                      for path, key in VIEWS if who.can(PAGES[path]))


def _kiosk_refused_page(lang: str) -> flask.Response:
    """A kiosk link that opens nothing (revoked, mistyped): said on the war room's own page, in
    the browser's language, with the ways on: a new link from an admin, or signing in."""
    esc = html_text.escape
    body = f"""<!doctype html><html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>GMV 11.11</title><style>{_PAGE_STYLE}</style></head><body><main>
<h1><span class="brand">11.11</span>{esc(text(lang, 'kiosk_link_invalid'))}</h1>
<p id="hint">{esc(text(lang, 'kiosk_link_invalid_hint'))}</p>
<p><a href="/login?lang={lang}" id="sign-in-link">{esc(text(lang, 'sign_in'))}</a></p>
</main></body></html>"""
    return flask.Response(body, status=403, mimetype="text/html")


def _signed_in_page(who: Identity, lang: str, title: str, hint: str,
                    status: int) -> flask.Response:
    """A page for a signed-in person who cannot have what they asked for: why, who they are, the
    way to the big screen and the sign-out button."""
    esc = html_text.escape
    body = f"""<!doctype html><html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>GMV 11.11</title><style>{_PAGE_STYLE}</style></head><body><main><h1>{esc(title)}</h1>
{f'<p id="hint">{esc(hint)}</p>' if hint else ''}
<p>{esc(text(lang, 'signed_in_as', name=who.name, role=text(lang, 'role_' + who.role)))}</p>
<p class="open-pages">{_links_open_to(who, lang)}</p>
<form method="post" action="/logout"><input type="hidden" name="csrf_token"
value="{esc(generate_csrf())}"><button type="submit">{esc(text(lang, 'sign_out'))}</button>
</form></main></body></html>"""
    return flask.Response(body, status=status, mimetype="text/html")
