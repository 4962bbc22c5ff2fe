"""A TCP proxy in front of Redis that cuts a connection at the n-th time a named command passes
through it (before the command reaches Redis, or after it did and before its reply comes back):
a dropped connection landed on exactly the call a test means, on any machine."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections import Counter
from pathlib import Path

COMMAND = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")


class CuttingProxy:
    """Listens on 127.0.0.1 (`url`), forwards to the Redis at `unix_path`. `cut(command, n,
    after)`: the n-th `command` (counted over every connection) ends its connection, before it
    reaches Redis or (`after`) once Redis has it. `seen` counts every command passed."""

    def __init__(self, unix_path: Path) -> None:
        self.unix_path = str(unix_path)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.seen: Counter[str] = Counter()
        self.cuts = 0
        self._target: tuple[str, int, bool] | None = None
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self, command: str, n: int, after: bool = False) -> None:
        self._target = (command.upper(), n, after)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.unix_path)
            self._open += [client, server]
            threading.Thread(target=self._requests, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket) -> None:
        while chunk := self._recv(client):
            cut = after = False
            with self._lock:
                for name in COMMAND.findall(chunk):
                    self.seen[name.decode().upper()] += 1
                    target = self._target
                    if target and name.decode().upper() == target[0] \
                            and self.seen[target[0]] == target[1]:
                        cut, after = True, target[2]
                        self.cuts += 1
            if cut and not after:
                break
            try:
                server.sendall(chunk)
            except OSError:
                break
            if cut:
                break
        self._close(client, server)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while chunk := self._recv(source):
            try:
                sink.sendall(chunk)
            except OSError:
                break
        self._close(source, sink)

    @staticmethod
    def _recv(sock: socket.socket) -> bytes:
        try:
            return sock.recv(1 << 16)
        except OSError:
            return b""

    @staticmethod
    def _close(*sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self._close(*self._open)
