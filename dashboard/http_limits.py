"""The push server's HTTP protocol (uvicorn's httptools one) with a bound on a request's head:
httptools keeps whatever head a client sends (a 2 MB header was answered 200), where gunicorn
refused a header over 8,190 bytes or more than 100 of them. A head still unfinished past
MAX_HEAD_BYTES is answered 431 and the connection closed: a client cannot make a serving
process hold more than that (and one read) per connection. And a stopping server drops the
connections of peers that stopped reading instead of waiting on them."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
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
        self._in_head, self._head_bytes, self._tail = False, 0, b""
        self.scope.setdefault("extensions", {})[ABORT_EXTENSION] = {"abort": self.transport.abort}
        super().on_headers_complete()

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
