"""The push server's HTTP parser (uvicorn's httptools protocol) with a bound on a request's head:
httptools keeps whatever head a client sends (a 2 MB header was answered 200), where gunicorn
refused a header over 8,190 bytes or more than 100 of them. A head still unfinished past
MAX_HEAD_BYTES is answered 431 and the connection closed: a client cannot make a serving
process hold more than that (and one read) per connection."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
_REFUSAL = (f"the head of a request (its line and headers) may be at most {MAX_HEAD_BYTES // 1024} "
            "KiB\n").encode()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    _in_head = True
    _head_bytes = 0

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                 b"content-type: text/plain; charset=utf-8\r\n"
                                 b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                                 % (len(_REFUSAL), _REFUSAL))
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()
