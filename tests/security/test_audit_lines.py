"""Issue #23, row 9: a name with a newline (or a bidi override) in a failed sign-in cannot forge
a line of `gmv audit`: each entry is one line, its fields escaped."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.logs import log_event
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


def test_a_typed_name_stays_one_field_of_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """The services' log lines (`event=… key=value`, grepped by operators) take a failed
    sign-in's name as typed: it may neither start a line nor add a field."""
    log = logging.getLogger("gmv.test_log_lines")
    with caplog.at_level(logging.INFO, logger=log.name):
        log_event(log, "sign_in_failed", name='x\nevent=user_added name=mallory',
                  source='1.2.3.4" role="admin', reason="\u202e")
    line = caplog.records[-1].getMessage()
    assert "\n" not in line and "\u202e" not in line
    assert 'name="x\\nevent=user_added name=mallory"' in line
    assert 'source="1.2.3.4\\" role=\\"admin"' in line
