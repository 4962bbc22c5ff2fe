"""A browser without JavaScript against a running `gmv serve`: it keeps its cookies, signs in and
out through the forms (with their CSRF tokens), follows no redirect and sends a path as written
(`/kiosk/x/../ops` reaches the server so). On a running war room without users it opens the
local link first, as this machine's browsers do (tests/e2e/conftest.py)."""

from __future__ import annotations

import http.cookiejar
import re
import selectors
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, NamedTuple

from dashboard.gate import CSRF_COOKIE, SESSION_COOKIE
from tests.e2e.conftest import running_at


class Answer(NamedTuple):
    status: int
    location: str
    body: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


class Visitor:
    def __init__(self, base_url: str, local: bool = True) -> None:
        """`local`: open the local link first when the war room has no users."""
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                   _NoRedirect)
        stack = running_at(base_url + "/")
        if local and stack is not None and not stack.has_users():
            answer = self.get(stack.local_link[len(base_url):])
            assert answer.status == 302 and "key=" not in answer.location, answer

    @classmethod
    def holding(cls, base_url: str, session_cookie: str) -> Visitor:
        """Another browser with a copy of a session cookie (a stolen one, say)."""
        thief = cls(base_url)
        host = urllib.parse.urlsplit(base_url).hostname or ""
        thief.jar.set_cookie(http.cookiejar.Cookie(
            0, SESSION_COOKIE, session_cookie, None, False, host, False, False, "/", True, False,
            None, True, None, None, {}))
        return thief

    def get(self, path: str) -> Answer:
        return self._send(urllib.request.Request(self.base_url + path))

    def get_as(self, path: str, host: str, headers: dict[str, str] | None = None) -> Answer:
        """A GET with this Host header and these headers: what a forwarder or proxy delivers."""
        return self._send(urllib.request.Request(self.base_url + path,
                                                 headers={"Host": host, **(headers or {})}))

    def post(self, path: str, form: dict[str, str]) -> Answer:
        return self._send(urllib.request.Request(
            self.base_url + path, data=urllib.parse.urlencode(form).encode(), method="POST"))

    def post_json(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        return self._send(urllib.request.Request(
            self.base_url + path, data=body, method="POST",
            headers={"Content-Type": "application/json", **headers}))

    def cookie(self, name: str) -> str:
        return next((c.value or "" for c in self.jar if c.name == name), "")

    def sign_in(self, name: str, password: str) -> None:
        form = self.get("/login?lang=en").body
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None, form
        answer = self.post("/login?lang=en", {"name": name, "password": password,
                                              "csrf_token": token[1], "next": "/"})
        assert answer.status == 302, answer
        assert self.get("/?lang=en").status == 200  # a page: the CSRF cookie for what follows

    def sign_out(self) -> None:
        answer = self.post("/logout", {"csrf_token": self.cookie(CSRF_COOKIE)})
        assert answer.status == 302 and answer.location.endswith("/login"), answer

    def _send(self, request: urllib.request.Request) -> Answer:
        try:
            with self._opener.open(request, timeout=30) as response:
                return Answer(int(response.status), "", response.read().decode())
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.headers.get("Location") or "", err.read().decode())
        except urllib.error.URLError as err:
            # The server may answer a body it refuses (413) and close before the whole body is
            # sent: the send then breaks, and the answer is in the socket. Send it again while
            # reading, so the answer is read as it comes.
            if request.data is None or not isinstance(err.reason, BrokenPipeError |
                                                          ConnectionResetError):
                raise
            return self._send_while_reading(request)

    def _send_while_reading(self, request: urllib.request.Request) -> Answer:
        """The request on a raw socket, its answer read while its body is still going out (the
        status line and headers; the body as far as it came)."""
        assert isinstance(request.data, bytes)
        self.jar.add_cookie_header(request)
        url = urllib.parse.urlsplit(request.full_url)
        # One of each header whatever its case (urllib's own "Content-length" beside ours would
        # be two Content-Length headers: a malformed request, which the server refuses as such).
        given = {name.title(): value for name, value in request.header_items()}
        headers = {"Host": url.netloc, "Content-Type": "application/x-www-form-urlencoded",
                   **given, "Content-Length": str(len(request.data)), "Connection": "close"}
        target = url.path + (f"?{url.query}" if url.query else "")
        head = f"{request.get_method()} {target} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        outgoing, received = head.encode() + request.data, b""
        with socket.create_connection((url.hostname or "", url.port or 80), timeout=30) as sock, \
                selectors.DefaultSelector() as selector:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            deadline = time.monotonic() + 30
            while b"\r\n\r\n" not in received and time.monotonic() < deadline:
                for _, events in selector.select(timeout=1):
                    if events & selectors.EVENT_READ:
                        chunk = sock.recv(65536)
                        if not chunk:
                            deadline = 0  # closed: what came is all there is
                        received += chunk
                    if events & selectors.EVENT_WRITE and outgoing:
                        try:
                            outgoing = outgoing[sock.send(outgoing[:65536]):]
                        except (BrokenPipeError, ConnectionResetError):
                            outgoing = b""
                        if not outgoing:
                            selector.modify(sock, selectors.EVENT_READ)
        status_line, _, rest = received.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1."), received[:200]
        location = re.search(rb"(?im)^location: *(\S+)", rest)
        return Answer(int(status_line.split()[1]), location[1].decode() if location else "",
                      rest.partition(b"\r\n\r\n")[2].decode(errors="replace"))
