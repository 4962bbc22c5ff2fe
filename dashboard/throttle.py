"""Sign-in throttling that nobody can turn against the person whose name is guessed.

Every attempt is counted *before* its password is checked, by one Redis function (library `gmv`,
common/redis_functions.py) that reads and counts every counter at once: however many processes
and threads the guesses arrive on, no more than a counter's limit are checked a minute (reading
the count, then checking, then counting let 12 of 24 parallel guesses through). A success gives
its places back, so the counters hold failures (and attempts in flight). A full counter refuses
for the rest of the minute that began with its first attempt; the refusal is the same whether the
name exists or not.

Who is counted where (OWASP's "Slow Down Online Guessing Attacks with Device Cookies"):

- A browser that signed in as the name before holds a signed *known-device* cookie naming it. It
  is counted only in its own counter (`sign_in_rate_per_min`): nothing done from any other
  browser, from another address or from behind the same proxy, ever refuses it.
- Any other browser is counted by its address whatever the names (`sign_in_address_rate_per_min`:
  password spraying), by the name at its address (`sign_in_rate_per_min`), and by the name from
  every such browser (`sign_in_name_rate_per_min`: guessing from many addresses). The name's
  limit is above the one of a name at an address, so one address alone cannot close a name to
  new browsers; many addresses can, for at most a minute at a time, and never to known ones.

The address is `perimeter.client_address`: REMOTE_ADDR, or behind a proxy listed in
GMV_TRUSTED_PROXIES the client it names in X-Forwarded-For (that header from anyone else is not
read: it would buy a fresh count per forged address). Behind a proxy that is not listed every
browser shares the proxy's address: a guesser can make new browsers wait a minute, and known
devices still sign in at once.

Redis away, sign-in is refused (503, "paused") rather than let through unlimited: these counters
are all that stands between a guesser and an unlimited, unlogged run at the passwords, with the
dashboard's few cores spent on argon2. Whoever is signed in stays signed in (a session does not
read these counters), and a war room whose Redis is away is already dark and being mended: a
few minutes without new sign-ins cost less. A Redis user not allowed the function, or a Redis
without it that this user may not load it into (`gmv redis-setup`), pauses sign-in too, loudly
(`event=sign_in_paused`), where a silent pass would leave the passwords unguarded unnoticed. The
per-person limits of the API and exports (`gate.RateLimits`) still let everything through then:
they guard load, not passwords."""

from __future__ import annotations

import ipaddress
import logging
import math
import secrets
from dataclasses import dataclass
from typing import NamedTuple, cast

import flask
import redis
import werkzeug
from itsdangerous import BadSignature, URLSafeTimedSerializer

from common.logs import log_event, log_line
from common.redis_functions import SIGN_IN_COUNT, SIGN_IN_GIVE_BACK, RedisFunction
from common.settings import Settings
from common.text import for_a_line
from dashboard.perimeter import client_address

log = logging.getLogger("gmv.throttle")
DEVICE_COOKIE = "gmv_device"
DEVICE_DAYS = 90
WINDOW_MS = 60_000
_DEVICE_SALT = "gmv-known-device"

class Counter(NamedTuple):
    kind: str  # "device", "address", "name_at_address" or "name": what the logs say refused
    key: str
    limit: int


class Refusal(NamedTuple):
    words: str  # the key of dashboard.format's text for the person
    status: int
    retry_after_s: int


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt, counted (or refused) before its password is checked."""

    name: str
    counted: tuple[str, ...]  # the counters it holds a place in
    refusal: Refusal | None = None


def address_counted(address: str) -> str:
    """An address as counted: an IPv6 address by its /64, which one client usually holds whole."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address[:64] or "?"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(getattr(ip, "ipv4_mapped", None) or ip)


class SignInThrottle:
    """The counters of sign-in attempts in Redis, shared by every dashboard process."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.settings = settings
        self.trusted_proxies = settings.trusted_proxy_networks
        self._count = RedisFunction(client, SIGN_IN_COUNT)
        self._give_back = RedisFunction(client, SIGN_IN_GIVE_BACK)

    def count(self, name: str, request: flask.Request) -> Attempt:
        """Counts an attempt at `name` from this request's browser, or says why it is refused
        (and logs it): a counter is full, or Redis cannot be reached."""
        counters = self.counters(name, request)
        try:
            full, left_ms = cast(list[int], self._count(
                [c.key for c in counters], [*(c.limit for c in counters), WINDOW_MS]))
        except redis.RedisError as err:
            log_line(log, logging.WARNING, "sign_in_paused", name=for_a_line(name),
                     source=self.source(request), error=type(err).__name__)
            return Attempt(name, (), Refusal("sign_in_unavailable", 503, 60))
        if not full:
            return Attempt(name, tuple(c.key for c in counters))
        retry_after_s = max(1, math.ceil(int(left_ms) / 1000))
        log_event(log, "sign_in_throttled", name=for_a_line(name), source=self.source(request),
                  counter=counters[int(full) - 1].kind, retry_after_s=retry_after_s)
        return Attempt(name, (), Refusal("sign_in_throttled", 429, retry_after_s))

    def counters(self, name: str, request: flask.Request) -> list[Counter]:
        """A known device's own counter; else its address's, the name's there, and the name's."""
        key, settings = self.settings.sign_in_key, self.settings
        device = known_device(request, name)
        if device is not None:
            return [Counter("device", key("device", device), settings.sign_in_rate_per_min)]
        address = address_counted(self.source(request))
        return [Counter("address", key("address", address), settings.sign_in_address_rate_per_min),
                Counter("name_at_address", key("name_at_address", f"{address} {name}"),
                        settings.sign_in_rate_per_min),
                Counter("name", key("name", name), settings.sign_in_name_rate_per_min)]

    def source(self, request: flask.Request) -> str:
        """Where a sign-in comes from (see the module's docstring for a proxy)."""
        return client_address(request.environ, self.trusted_proxies)

    def signed_in(self, attempt: Attempt, response: werkzeug.Response) -> werkzeug.Response:
        """After the right password: the attempt's places given back, and this browser known
        from now on as one that signs in as the name (a new cookie, with a new counter)."""
        try:
            if attempt.counted:
                self._give_back(attempt.counted)
        except redis.RedisError:
            pass  # its places empty within the minute anyway
        response.set_cookie(DEVICE_COOKIE, _devices().dumps({"name": attempt.name,
                                                             "device": secrets.token_urlsafe(16)}),
                            max_age=DEVICE_DAYS * 86400, path="/login", httponly=True,
                            samesite="Strict", secure=self.settings.cookie_secure)
        return response


def known_device(request: flask.Request, name: str) -> str | None:
    """The id of this browser's known-device cookie when it names `name`; None otherwise (no
    cookie, another name, too old, or not signed by this war room)."""
    raw = request.cookies.get(DEVICE_COOKIE, "")
    if not raw or len(raw) > 400:
        return None
    try:
        found = _devices().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(found, dict) or found.get("name") != name:
        return None
    device = found.get("device")
    return device if isinstance(device, str) else None


def _devices() -> URLSafeTimedSerializer:
    """Signs known-device cookies with the app's secret (salted apart from its sessions)."""
    secret = flask.current_app.secret_key
    if not secret:
        raise RuntimeError("the app has no secret key: Gate.install gives it one")
    return URLSafeTimedSerializer(secret, salt=_DEVICE_SALT)
