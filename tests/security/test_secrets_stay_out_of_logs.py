"""A Redis password never reaches a log line: logs are read and shipped by more people than the
password is meant for."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from common.redis_server import EmbeddedRedis, free_loopback_port, url_for_logs
from tests.conftest import wait_for

CLI = [sys.executable, "-m", "gmv.cli"]
SECRET = "s3cret:pass word"


def test_url_for_logs_hides_the_password_and_keeps_the_rest() -> None:
    assert url_for_logs("redis://:pw@10.0.0.1:6379/0") == "redis://:***@10.0.0.1:6379/0"
    assert url_for_logs("redis://ana:p%40ss@host:1/2") == "redis://ana:***@host:1/2"
    assert url_for_logs("rediss://host:6380/0") == "rediss://host:6380/0"
    assert url_for_logs("redis+cluster://u:x@h:7000") == "redis+cluster://u:***@h:7000"


def test_the_dashboard_logs_where_its_redis_is_but_not_the_password(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis", port=free_loopback_port(),
                       extra_args=("--requirepass", SECRET), credentials=":" + SECRET) as server:
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            serve = subprocess.Popen([*CLI, "serve", "--port", str(free_loopback_port()),
                                      "--workers", "1", "--redis", server.url,
                                      "--data", str(tmp_path / "data")],
                                     stdout=out, stderr=subprocess.STDOUT)
            try:
                wait_for(lambda: b"event=dashboard_serving" in log.read_bytes(), 60,
                         "the dashboard never logged that it serves")
            finally:
                serve.send_signal(signal.SIGTERM)
                serve.wait(30)
        text = log.read_text()
        assert "s3cret" not in text and "pass%20word" not in text, text
        assert f"redis=redis://:***@127.0.0.1:{server.url.rsplit(':', 1)[1]}" in text
