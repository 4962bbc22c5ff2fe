"""Issue #23, row 9: a name with a newline (or a bidi override) in a failed sign-in cannot forge
a line of `gmv audit`: each entry is one line, its fields escaped. And (finding B of the second
audit) a name with spaces cannot forge most of one: each field is one column of the table, as it
is when it is plain, else a JSON string."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from common.logs import log_event
from dashboard.accounts import Accounts

HOSTILE_NAMES = [
    "ana            sign_in          ok",  # a fake action column, and more
    "ana\tadmin\tuser_add\tname=mallory",
    "ana\n2026-11-11T00:00:00+08:00  admin            user_add         name=mallory",
    "\x1b[2K\x1b[1Gada  signed_in  (10.0.0.1)",  # ANSI: erase the line, back to its start
    "ana\u202e ko  deliaf_ni_ngis",  # a right-to-left override
    "ana\u3000\u00a0admin\u2028x",  # spaces and a line separator that are not ours
    'ana"  sign_in  (10.0.0.1)  "',
    "安娜 ok",
]
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


def gmv_audit(data: Path) -> str:
    return subprocess.run([sys.executable, "-m", "gmv.cli", "audit", "--data", str(data), "-q"],
                          capture_output=True, text=True, timeout=60, check=True,
                          env={**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"}).stdout


def column(rest: str) -> tuple[str, str]:
    """The first column of `rest` (after spaces) and what follows it: a plain word, or a JSON
    string read back."""
    rest = rest.lstrip(" ")
    if rest.startswith('"'):
        value, end = json.JSONDecoder().raw_decode(rest)
        return value, rest[end:]
    plain = re.match(r"[a-z0-9._@:-]+", rest)
    assert plain, rest
    return plain[0], rest[plain.end():]


def test_a_name_with_spaces_or_any_hostile_text_stays_one_column_of_its_line(
        tmp_path: Path) -> None:
    accounts = Accounts(tmp_path)
    for name in HOSTILE_NAMES:
        accounts.record(name, "sign_in_failed", "10.0.0.1", reason="wrong password  ok=yes")
    accounts.record("bo", "sign_in", "2001:db8::1")
    lines = gmv_audit(tmp_path).splitlines()
    assert len(lines) == len(HOSTILE_NAMES) + 1
    for line, name in zip(lines, [*HOSTILE_NAMES, "bo"], strict=True):
        assert line.isprintable(), line
        at, _, rest = line.partition("  ")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+08:00", at), line
        who, rest = column(rest)
        action, rest = column(rest)
        what = {}
        while not rest.lstrip(" ").startswith("("):
            key, rest = column(rest)
            assert rest.startswith("="), line
            what[key], rest = column(rest[1:])
        assert (who, action) == (name, "sign_in" if name == "bo" else "sign_in_failed")
        assert what == ({} if name == "bo" else {"reason": "wrong password  ok=yes"})
        assert rest.strip() in ("(10.0.0.1)", "(2001:db8::1)"), line
