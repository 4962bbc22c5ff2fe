"""Last year's orders per second at the same second of the night: the volume detector's
seasonal expectation when a previous night's history is loaded (GMV_LAST_YEAR_DATA_DIR)."""

from __future__ import annotations

import time
from pathlib import Path

from ingest.history import history_parts, orders_by_second_of_night

RELOAD_EVERY_S = 60.0  # last year's files may still be loading (the demo loads them alongside)


class LastYearCurve:
    def __init__(self, data_dir: Path, tonight_midnight_ms: int) -> None:
        self.data_dir = data_dir
        self.midnight_s = tonight_midnight_ms // 1000
        self._by_offset: dict[int, int] = {}
        self._parts: list[str] = []
        self._checked = -RELOAD_EVERY_S

    def refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < RELOAD_EVERY_S:
            return
        self._checked = now
        parts = history_parts(self.data_dir)
        if parts != self._parts:
            self._parts = parts
            self._by_offset = orders_by_second_of_night(self.data_dir)

    def __call__(self, second: int) -> int | None:
        """Last year's orders at the same second after midnight as tonight's `second`."""
        return self._by_offset.get(second - self.midnight_s)
