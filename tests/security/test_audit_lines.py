"""Issue #23, row 9: a name with a newline (or a bidi override) in a failed sign-in cannot forge
a line of `gmv audit`: each entry is one line, its fields escaped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dashboard.accounts import Accounts

FORGED = "ana\n2026-11-11T00:00:00+08:00  admin            user_add         name=mallory"


def test_a_name_with_a_newline_or_a_bidi_control_stays_one_audit_line(tmp_path: Path) -> None:
    accounts = Accounts(tmp_path)
    accounts.record(FORGED, "sign_in_failed", "127.0.0.1\r\n", reason="no such user\u202e")
    accounts.record("bo", "signed_in", "127.0.0.1")
    done = subprocess.run([sys.executable, "-m", "gmv.cli", "audit", "--data", str(tmp_path),
                           "-q"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"}, check=True)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2, done.stdout
    assert "ana\\n2026-11-11" in done.stdout and "\\u202e" in done.stdout
    assert "\u202e" not in done.stdout and "\r" not in done.stdout
