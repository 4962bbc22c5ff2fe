"""The demo's night record, `DATA/demo-night.json` (written by gmv/demo_night.py), as the
dashboard reads it: the last run, to tell the screens that the night was continued."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RECORD = "demo-night.json"
NEW, CONTINUED, OVER = "new", "continued", "over"  # which night a run publishes


class LastRun:
    """The record's last run ({"mode", "from_s", "wall_ms"}), read again only when the file
    changes (every screen's poll asks)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / RECORD
        self._seen: tuple[int, int] | None = None
        self._run: dict[str, Any] | None = None

    def __call__(self) -> dict[str, Any] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        if (stat.st_ino, stat.st_mtime_ns) != self._seen:
            self._seen, self._run = (stat.st_ino, stat.st_mtime_ns), _last_run(self.path)
        return self._run


def _last_run(path: Path) -> dict[str, Any] | None:
    try:
        runs = json.loads(path.read_text()).get("runs")
        run = runs[-1]
        if run["mode"] in (NEW, CONTINUED) and isinstance(run["from_s"], int) and \
                isinstance(run["wall_ms"], int):
            return {"mode": run["mode"], "from_s": run["from_s"], "wall_ms": run["wall_ms"]}
    except (OSError, ValueError, AttributeError, LookupError, TypeError):
        pass
    return None
