"""A stream of server-sent events read the way the page reads it (assets/live.js): each event as
(name, data), in order, by a thread of its own; the snapshots they carry rebuilt with
dashboard/frames.py's rules."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

from dashboard.frames import apply_live_delta, encode


class EventReader:
    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                                     timeout=60)
        self.connection.request("GET", f"{parts.path}?{parts.query}", headers=headers or {})
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.events: list[tuple[str, str]] = []
        self.ended = threading.Event()
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.body = self.response.read()
            self.ended.set()

    def _read(self) -> None:
        event, data = "message", ""
        try:
            while raw := self.response.readline():
                line = raw.decode("utf-8").rstrip("\n")
                if not line:
                    if data:
                        self.events.append((event, data))
                    event, data = "message", ""
                elif line.startswith("event: "):
                    event = line[len("event: "):]
                elif line.startswith("data: "):
                    data += line[len("data: "):]
        except Exception:  # closed under its feet (close()): the stream ended
            pass
        finally:
            self.ended.set()

    def named(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(data) for event, data in list(self.events) if event == name]

    def snapshots(self) -> list[dict[str, Any]]:
        """Every snapshot the stream carried, rebuilt from its first and the changes after it."""
        docs: list[dict[str, Any]] = []
        n = None
        for event, data in list(self.events):
            frame = json.loads(data)
            if event == "live":
                docs.append(frame["live"])
            elif event == "delta":
                assert docs and frame["base"] == n, ("a delta that follows another snapshot", frame)
                docs.append(apply_live_delta(docs[-1], frame["delta"]))
            else:
                continue
            n = frame["n"]
        return docs

    def close(self) -> None:
        sock = self.connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()


def publish_snapshot(client: Any, settings: Any, doc: dict[str, Any]) -> None:
    """A snapshot published by hand as the worker does it (ingest/snapshot.py): the key set, its
    bytes on the channel the push listens to."""
    raw = encode(doc)
    client.set(settings.snapshot_key, raw)
    client.publish(settings.snapshot_channel, raw)
