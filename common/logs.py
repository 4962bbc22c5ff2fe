"""One log line per event that matters: `event=name key=value ...`, easy to grep."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from common.text import for_a_line


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(stream=sys.stderr, level=level, force=True,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


def log_to_file(path: Path) -> None:
    """This process's log lines into `path` instead of the terminal (the demo keeps the
    terminal for the war room's address and its status line)."""
    root = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)


def _value(value: object) -> str:
    """One field of one line, whatever the value holds (a name typed at sign-in, a stream's
    text): control characters as escapes, and quoted with its quotes escaped when it has a
    space, a quote, an equals sign or a control, so no value can forge another field or line."""
    text = f"{value:.1f}" if isinstance(value, float) else str(value)
    if not text or any(c in text for c in ' "=') or text != for_a_line(text):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return for_a_line(text)


def log_event(logger: logging.Logger, event: str, **fields: object) -> None:
    log_line(logger, logging.INFO, event, **fields)


def log_line(logger: logging.Logger, level: int, event: str, **fields: object) -> None:
    logger.log(level, " ".join([f"event={event}", *(f"{k}={_value(v)}" for k, v in fields.items())]))


class Progress:
    """Logs `event=progress` at most every `every_s` seconds while a long job advances."""

    def __init__(self, logger: logging.Logger, what: str, every_s: float = 2.0) -> None:
        self.logger, self.what, self.every_s = logger, what, every_s
        self.count = 0
        self.started = self._last = time.monotonic()

    def advance(self, count: int, **fields: object) -> None:
        self.count += count
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            log_event(self.logger, "progress", **{self.what: self.count}, rate_per_s=self.rate,
                      **fields)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> int:
        return int(self.count / max(self.elapsed_s, 1e-9))
