"""`gmv serve` with push: the Flask/Dash app as it is (pages, callbacks, the JSON API, sign-in),
served through an ASGI server (uvicorn's gunicorn worker, a2wsgi's thread pool), and beside it on
the same origin `/api/stream`: server-sent events of each snapshot as it is published and of the
night's charts (dashboard/hub.py), one open stream per screen, thousands per process.

Who may open a stream is decided by the app itself: the stream's request is first answered by
the WSGI app (the Host allow-list, the session or kiosk cookie, the role, the security headers,
exactly as for /api/live), and again every REAUTH_EVERY_S while it is open (a revoked session
or kiosk link ends it).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from a2wsgi import WSGIMiddleware
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from common.logs import log_event
from common.settings import Settings
from dashboard.api import PUSH_ENVIRON, STREAM_PATH
from dashboard.components import night_payload
from dashboard.frames import encode, sse
from dashboard.http_limits import ABORT_EXTENSION, BoundedHttpToolsProtocol
from dashboard.hub import Hub, Stream
from dashboard.params import BadParameter, language

log = logging.getLogger("gmv.serve")
REAUTH_EVERY_S = 10.0
RETRY_MS = 2000  # EventSource's own reconnect, should the page's not come first
NIGHT_VERSION_CHARS = 32
ORPHAN_CHECK_S = 1.0  # how often a serving process looks whether its gunicorn still lives

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PushApp:
    """The ASGI app of one serving process."""

    def __init__(self, wsgi_app: WsgiApp, hub: Hub, threads: int,
                 access_generation: Callable[[], int]) -> None:
        self.wsgi_app, self.hub, self.access_generation = wsgi_app, hub, access_generation
        self.wsgi = WSGIMiddleware(wsgi_app, workers=threads)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.hub)
            return
        scope = as_gunicorn_read(scope)
        if scope["type"] == "http" and scope["path"] == STREAM_PATH:
            await self.stream(scope, receive, send)
        else:
            await self.wsgi(scope, receive, send)  # type: ignore[arg-type]

    def close_streams(self) -> None:
        self.hub.close()

    async def authorize(self, scope: Scope) -> tuple[str, list[tuple[str, str]], bytes]:
        """The app's answer to the stream's request: '200 OK' when it may be opened."""
        return await asyncio.get_running_loop().run_in_executor(
            None, self._answer, wsgi_environ(scope))

    def _answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer.update(status=status, headers=headers)
            return lambda data: None

        chunks = self.wsgi_app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return answer["status"], answer["headers"], body

    async def stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "GET":  # a HEAD would hold a stream that never writes a byte
            await _send_whole(send, "405 Method Not Allowed", [
                ("Content-Type", "text/plain; charset=utf-8"), ("Allow", "GET")],
                b"the stream is read with GET\n")
            return
        if self.hub.stopping:  # a stream let in now would never be ended (the hub ended them)
            await _send_whole(send, "503 Service Unavailable", [
                ("Content-Type", "text/plain; charset=utf-8"), ("Retry-After", "1")],
                b"this server is stopping: open the stream again\n")
            return
        self.hub.start()
        status, headers, body = await self.authorize(scope)
        if not status.startswith("200"):
            await _send_whole(send, status, headers, body)
            return
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        try:
            lang = language(query.get("lang"))
        except BadParameter:  # the app refused it already; a guard
            lang = "en"
        stream = Stream(lang, query.get("night", "")[:NIGHT_VERSION_CHARS])
        kept = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers
                if k.lower() not in ("content-type", "content-length", "cache-control")]
        await send({"type": "http.response.start", "status": 200, "headers": [
            *kept, (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"), (b"x-accel-buffering", b"no")]})
        watcher = asyncio.create_task(_until_gone(receive, stream))
        stream.task = asyncio.current_task()
        self.hub.opened(stream)
        try:
            await self._serve(scope, send, stream)
        except asyncio.CancelledError:
            # Ended by the hub while a send waited on a screen that does not read (the server
            # stopping, or STALLED_S): the connection is dropped, not closed (closing waits to
            # hand over what is buffered, which the screen never takes).
            abort = scope.get("extensions", {}).get(ABORT_EXTENSION, {}).get("abort")
            if abort is not None:
                abort()
            return
        finally:
            self.hub.streams.discard(stream)
            watcher.cancel()
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _serve(self, scope: Scope, send: Send, stream: Stream) -> None:
        first = f"retry: {RETRY_MS}\n\n".encode() + self.hub.live_frame(stream) + \
            self.hub.night_frame(stream)
        await _send_more(send, first, stream)
        # Spread over the interval: a thousand screens opened at once are not checked at once.
        check_at = time.monotonic() + REAUTH_EVERY_S * random.uniform(0.5, 1.0)
        checked = self.access_generation()
        while True:
            await stream.wake.wait()
            stream.wake.clear()
            if stream.ended:
                return
            # Checked again every REAUTH_EVERY_S, and at once when anyone's access changed (a
            # revoked kiosk link, a removed user, a sign-out: within about a second).
            if time.monotonic() >= check_at or self.access_generation() != checked:
                checked = self.access_generation()
                status = (await self.authorize(scope))[0]
                if not status.startswith("200"):
                    await _send_more(send, sse("refused", encode({"status": status})), stream)
                    return
                check_at = time.monotonic() + REAUTH_EVERY_S
            data = self.hub.live_frame(stream) + self.hub.night_frame(stream)
            data = data or self.hub.beat_frame(stream)
            if data:
                await _send_more(send, data, stream)


async def _until_gone(receive: Receive, stream: Stream) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    stream.ended = True
    stream.wake.set()


async def _send_more(send: Send, data: bytes, stream: Stream) -> None:
    stream.sending_since = time.monotonic()
    await send({"type": "http.response.body", "body": data, "more_body": True})
    stream.sending_since = None
    stream.sent_at = time.monotonic()


async def _send_whole(send: Send, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": int(status.split(" ", 1)[0]),
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _lifespan(receive: Receive, send: Send, hub: Hub) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            hub.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


def as_gunicorn_read(scope: Scope) -> Scope:
    """The request as gunicorn handed it to the app under gthread, where a2wsgi differs: a
    header whose name holds an underscore is dropped (gunicorn's default: `X_Forwarded_User`
    would otherwise read as the trusted proxy's `X-Forwarded-User`, which the proxy strips only
    in its dashed spelling)."""
    headers = scope.get("headers", [])
    if not any(b"_" in name for name, _ in headers):
        return scope
    return {**scope, "headers": [(name, value) for name, value in headers if b"_" not in name]}


def wsgi_environ(scope: Scope) -> dict[str, Any]:
    """The WSGI environ of a body-less request (the stream's GET), marked as the push's."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.get("method", "GET"), "SCRIPT_NAME": "",
        "PATH_INFO": scope["path"], "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]), "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]), "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0), "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
        "wsgi.multiprocess": True, "wsgi.run_once": False, PUSH_ENVIRON: True,
    }
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").upper().replace("-", "_"), raw_value.decode("latin-1")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name
        if key in environ:
            value = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + value
        environ[key] = value
    return environ


def push_app(app: Any, settings: Settings) -> PushApp:
    """The ASGI app of `create_app(settings)`'s Dash app: its Flask server, and the push."""
    source = app.server.extensions["gmv"]
    hub = Hub(source, lambda lang: night_payload(source, lang), app.server.extensions["gmv_api"].continued)
    return PushApp(app.server, hub, settings.web_threads,
                   app.server.extensions["gmv_gate"].accounts.generation)


class _Server(Server):
    """uvicorn's server, which ends the open streams first when it stops: a stream never ends by
    itself, and the server would wait for it until gunicorn's graceful timeout."""

    async def shutdown(self, sockets: Any = None) -> None:
        app = getattr(self.config, "loaded_app", None)
        for layer in (app, getattr(app, "app", None)):
            if isinstance(layer, PushApp):
                layer.close_streams()
        await super().shutdown(sockets)


class PushWorker(UvicornWorker):
    """The gunicorn worker of `gmv serve`: uvloop where installed, httptools with a bound on a
    request's head (dashboard/http_limits.py); the peer's address as it is
    (dashboard/perimeter.py judges proxies itself, as under gthread)."""

    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", "http": BoundedHttpToolsProtocol,
                                     "proxy_headers": False, "server_header": False,
                                     "lifespan": "on", "timeout_notify": ORPHAN_CHECK_S}
    _server: Server | None = None

    async def callback_notify(self) -> None:
        """Each ORPHAN_CHECK_S: alive to gunicorn, and gone with it. gthread's workers leave when
        their arbiter does (killed -9, say); uvicorn's served on, holding the port, so a new
        `gmv serve` could not start."""
        if os.getppid() != self.ppid and self._server is not None and not self._server.should_exit:
            log_event(log, "serve_worker_orphaned", pid=os.getpid(), parent_was=self.ppid)
            self._server.should_exit = True
        self.notify()

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = self._server = _Server(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            from gunicorn.arbiter import Arbiter

            sys.exit(Arbiter.WORKER_BOOT_ERROR)
