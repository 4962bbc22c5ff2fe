"""The demo's one status line: the night's clock, GMV, orders/s and the worker's lag, read from
the live snapshot each second and rewritten in place on a terminal (a plain line every
PLAIN_EVERY_S elsewhere, e.g. when the output goes to a file)."""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from typing import Any, TextIO

import redis

from common.settings import Settings
from dashboard.format import clock, format_count, format_headline

PLAIN_EVERY_S = 30.0


def status_text(live: dict[str, Any] | None, now_ms: int) -> str:
    """'00:03:12 · GMV ¥1,234.5678亿 · 3,210 orders/s · lag 0.1 s' (or why there is none)."""
    if not live:
        return "waiting for the worker's first snapshot…"
    age_s = max(now_ms - int(live.get("heartbeat_ms") or now_ms), 0) / 1000
    parts = [clock(live["latest_second_ms"]) if live.get("latest_second_ms") else "--:--:--",
             f"GMV {format_headline(int(live.get('gmv_cents', 0)), 'en')}",
             f"{format_count(live.get('ops_now'))} orders/s",
             f"peak {format_count(live.get('peak_ops'))}/s"]
    if live.get("lag_ms") is not None:
        parts.append(f"lag {int(live['lag_ms']) / 1000:.1f} s")
    if age_s > 3:
        parts.append(f"NO UPDATE FOR {age_s:.0f} s")
    return " · ".join(parts)


class StatusLine:
    def __init__(self, client: redis.Redis, settings: Settings, out: TextIO | None = None) -> None:
        self.client, self.key = client, settings.snapshot_key
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.tty:
            self.out.write("\n")
            self.out.flush()

    def live(self) -> dict[str, Any] | None:
        try:
            raw = self.client.get(self.key)
        except redis.RedisError:
            return None
        return json.loads(raw) if isinstance(raw, bytes) else None

    def _run(self) -> None:
        every = 1.0 if self.tty else PLAIN_EVERY_S
        while not self._stop.wait(every):
            line = "  " + status_text(self.live(), int(time.time() * 1000))
            if self.tty:
                width = shutil.get_terminal_size((100, 20)).columns
                self.out.write("\r\x1b[2K" + line[:width - 1])
            else:
                self.out.write(line + "\n")
            self.out.flush()
