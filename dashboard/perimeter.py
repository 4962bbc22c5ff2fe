"""The war room's edge, in front of everything else the dashboard answers: the Host names it
answers to (a page reached through a rebound DNS name, or a name nobody configured, is refused),
whether a request comes from this machine itself with no proxy between, and the security headers
on every answer (dashboard/security_headers.py).

Without users the war room trusts its own machine and nothing else, so then it answers only the
loopback names whatever GMV_ALLOWED_HOSTS says: a browser that a rebound name points at 127.0.0.1
sends that name as its Host, and a proxy on this machine adds its forwarding headers (or, at
least, cannot be told apart from the browsers it carries, so it is not this machine).

Whom a request comes from (`client_address`: sign-in limits, the audit) is the connection's
address, or, when that is a proxy the operator trusts (GMV_TRUSTED_PROXIES), the address that
proxy names in X-Forwarded-For. Local trust never reads it: a forwarded request is not local."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any

from common.settings import IPNetwork
from dashboard.accounts import Accounts

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
# What a proxy adds to say whom it carries: a request with any of them did not come from a
# browser on this machine, whatever its source address.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO",
                 "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_SERVER", "HTTP_FORWARDED",
                 "HTTP_X_REAL_IP", "HTTP_VIA", "HTTP_TRUE_CLIENT_IP", "HTTP_X_CLIENT_IP",
                 "HTTP_CF_CONNECTING_IP", "HTTP_X_ORIGINAL_FORWARDED_FOR", "HTTP_CLIENT_IP")
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
_IPV6 = re.compile(r"\[[0-9a-f:.]+\]")


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str | None:
    """The name a Host header (or an allowed host) names, lower case, without its port or a
    final dot: `LocalHost:8050` → `localhost`, `[::1]:8050` → `[::1]`; None when it is none."""
    host = host.strip().lower()
    name, port = host, ""
    if host.startswith("["):
        name, bracket, rest = host.partition("]")
        name += "]"
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:]
        valid = _IPV6.fullmatch(name) is not None
    else:
        if ":" in host:
            name, _, port = host.rpartition(":")
        name = name[:-1] if name.endswith(".") else name
        valid = len(name) <= 253 and _NAME.fullmatch(name) is not None
    if not valid or (port and not (port.isdigit() and len(port) <= 5)) or host.endswith(":"):
        return None
    return name


def parse_allowed_hosts(value: str) -> frozenset[str]:
    """GMV_ALLOWED_HOSTS as names (`warroom.example.com, 10.0.0.5:8050`; ports are not kept:
    a Host is allowed by its name). A ValueError names an entry that is not a host name."""
    names = set()
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        name = host_name(entry)
        if name is None:
            raise ValueError(f"GMV_ALLOWED_HOSTS: {entry!r} is not a host name (names or "
                             "addresses, comma-separated, e.g. warroom.example.com,10.0.0.5)")
        names.add(name)
    return frozenset(names)


def client_address(environ: dict[str, Any], trusted_proxies: tuple[IPNetwork, ...]) -> str:
    """The address a request comes from: REMOTE_ADDR; when that is a trusted proxy, the rightmost
    X-Forwarded-For address that is not one (each proxy appends whom it heard from, so what lies
    left of that was written by the client and is not believed). An entry that is no address
    where one is needed leaves the last trusted proxy's."""
    address = environ.get("REMOTE_ADDR") or "?"
    if not _is_trusted(address, trusted_proxies):
        return address
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")  # several headers arrive joined by ","
    for entry in reversed(forwarded.split(",")):
        hop = _forwarded_address(entry)
        if hop is None:
            return address
        address = hop
        if not _is_trusted(hop, trusted_proxies):
            break
    return address


def _is_trusted(address: str, trusted_proxies: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return any(ip in network for network in trusted_proxies)


def _forwarded_address(entry: str) -> str | None:
    """One X-Forwarded-For entry as an address (`1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:5678`,
    `2001:db8::1`), or None."""
    entry = entry.strip()
    if entry.startswith("["):
        entry = entry[1:].partition("]")[0]
    elif entry.count(":") == 1:
        entry = entry.partition(":")[0]
    try:
        return str(ipaddress.ip_address(entry))
    except ValueError:
        return None


def is_proxied(environ: dict[str, Any]) -> bool:
    return any(header in environ for header in PROXY_HEADERS)


def is_local_request(environ: dict[str, Any]) -> bool:
    """Whether a request comes from a browser on this machine, straight: a loopback source
    address, a loopback Host name and no proxy's forwarding header (a proxy on this machine
    connects from loopback too, for anyone who reaches it)."""
    return is_loopback(environ.get("REMOTE_ADDR")) and \
        host_name(environ.get("HTTP_HOST", "")) in LOOPBACK_NAMES and not is_proxied(environ)


class Perimeter:
    """WSGI middleware outermost on the dashboard's Flask server: refuses a Host that is not
    allowed (400, one line) and adds `headers` to every answer, refusals and errors included."""

    def __init__(self, app: WsgiApp, accounts: Accounts, allowed_hosts: frozenset[str],
                 headers: list[tuple[str, str]]) -> None:
        self.app, self.accounts, self.headers = app, accounts, headers
        self.with_users = LOOPBACK_NAMES | allowed_hosts

    def allowed_hosts(self) -> frozenset[str]:
        """The names answered now: the loopback names alone until there is a user."""
        return self.with_users if self.accounts.has_users() else LOOPBACK_NAMES

    def refusal(self, environ: dict[str, Any]) -> str | None:
        host = environ.get("HTTP_HOST")
        if not host:
            return "no Host header: the war room answers only the names it is configured for"
        name = host_name(host)
        if name in self.allowed_hosts():
            return None
        if name is not None and name in self.with_users:
            return (f"Host {name!r} is not answered while no users are configured: only "
                    "localhost, 127.0.0.1 and [::1] are (add users with `gmv user add`)")
        return (f"Host {host[:100]!r} is not an allowed host of this war room "
                "(GMV_ALLOWED_HOSTS; without users only localhost, 127.0.0.1 and [::1])")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = self.headers

        def start(status: str, response_headers: list[tuple[str, str]],
                  exc_info: Any = None) -> Any:
            return start_response(status, [*response_headers, *headers], exc_info)

        reason = self.refusal(environ)
        if reason is not None:
            body = (reason.encode("unicode_escape").decode("ascii") + "\n").encode()
            start("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start)
