"""The push server's HTTP protocol (uvicorn's httptools one) with a bound on a request's head:
httptools keeps whatever head a client sends (a 2 MB header was answered 200), where gunicorn
refused a header over 8,190 bytes or more than 100 of them. A head still unfinished past
MAX_HEAD_BYTES is answered 431 and the connection closed: a client cannot make a serving
process hold more than that (and one read) per connection. A head must come whole within
HEAD_WITHIN_S of the connection (or of the response before it): uvicorn waits for one for ever,
so idle or trickling connections (slowloris) could hold every file a process may open. And a
stopping server drops the connections of peers that stopped reading instead of waiting on them."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
HEAD_WITHIN_S = 20.0
# The scope extension through which the app drops a connection (transport.abort) whose peer
# stopped reading: uvicorn's own close waits to hand over what is buffered.
ABORT_EXTENSION = "gmv.abort"
_REFUSAL = (f"the head of a request (its line and headers) may be at most {MAX_HEAD_BYTES // 1024} "
            "KiB\n").encode()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Counts a head's bytes before the parser sees them: the head's part of each read (up to
    the blank line that ends it, or all of it), from the first byte of a request to the end of
    its head."""

    _in_head = True
    _head_bytes = 0
    _tail = b""  # the end of the last read: a blank line may straddle two reads
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._stop_waiting()
        self._head_timer = self.loop.call_later(HEAD_WITHIN_S, self._head_too_slow)

    def _stop_waiting(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            end = (self._tail + data).find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else max(end + 4 - len(self._tail), 0)
            self._tail = data[-3:]
            if self._head_bytes > MAX_HEAD_BYTES:
                self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                     b"content-type: text/plain; charset=utf-8\r\n"
                                     b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                                     % (len(_REFUSAL), _REFUSAL))
                self.transport.close()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._stop_waiting()
        self._in_head, self._head_bytes, self._tail = False, 0, b""
        self.scope.setdefault("extensions", {})[ABORT_EXTENSION] = {"abort": self.transport.abort}
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._await_head()  # the next request's

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # what comes next on the connection is the next request's head

    def shutdown(self) -> None:
        """The server stops: a connection whose peer has stopped reading (its writes paused, a
        frozen screen) is dropped, not closed: closing waits to hand over what is buffered,
        which it never takes, and the server would wait for it until gunicorn's timeout."""
        super().shutdown()
        if self.flow.write_paused:
            self.transport.abort()
