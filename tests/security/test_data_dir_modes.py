"""Issue #23, row 7: what gmv writes under the data dir is its owner's alone (the accounts'
WAL held the argon2id hashes with mode 0644): the command's umask is 077, so every file of its
own and of what it starts (the dashboard's SQLite WAL and SHM, the embedded Redis' AOF)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from common.redis_server import EmbeddedRedis


def assert_owner_only(folder: Path) -> None:
    written = [p for p in folder.rglob("*") if p.is_file()]
    assert written
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path}: {oct(path.stat().st_mode)}"


def test_the_accounts_and_the_worker_files_are_owner_only(redis_server: EmbeddedRedis,
                                                         tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "gmv.cli", "user", "add", "mei", "--role",
                           "viewer", "--data", str(tmp_path)], capture_output=True, text=True,
                          timeout=60, input="a long enough password\n")
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "gmv.cli", "ingest", "--until-idle", "-q",
                           "--redis", redis_server.url, "--data", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert_owner_only(tmp_path)
