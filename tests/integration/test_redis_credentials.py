"""The war room against a Redis that wants credentials: a password (requirepass), and the
least-privilege ACL users of docs/redis-acl.conf, each part with its own user."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import redis

from common.redis_server import (
    EmbeddedRedis,
    connect,
    free_loopback_port,
    redis_server_major_version,
)
from common.settings import load_settings
from dashboard.data.live import DataSource
from dashboard.gate import RateLimits
from ingest.detect.keeper import read_alerts
from ingest.history import read_summary
from ingest.worker import run_worker
from rehearsal.replay import replay
from tests.acl_redis import acl_redis_server
from tests.conftest import wait_for
from tests.e2e.conftest import local_cookie
from tests.sample import SAMPLE, TRUTH

CLI = [sys.executable, "-m", "gmv.cli"]


def test_a_redis_with_a_password_counts_the_night_exactly(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis", port=free_loopback_port(),
                       extra_args=("--requirepass", "night:pass word"),
                       credentials=":night:pass word") as server:
        assert ":night%3Apass%20word@" in server.url  # the password is quoted in the URL
        settings = load_settings(env={}, redis_url=server.url, data_dir=tmp_path / "data")
        client = connect(server.url)
        replay(SAMPLE, client, settings, speed=None, retime=False)
        run_worker(client, settings, until_idle=True)
        assert read_summary(settings.data_dir)["gmv"] == TRUTH["gmv"]
        anonymous = server.url.replace(":night%3Apass%20word@", "")
        with pytest.raises(redis.AuthenticationError):
            connect(anonymous).get(settings.snapshot_key)


@pytest.mark.skipif(redis_server_major_version() < 7,
                    reason="docs/redis-acl.conf uses Redis 7 key selectors (%R~, %W~)")
def test_the_stack_runs_with_the_least_privilege_acl_users(tmp_path: Path) -> None:
    """Producer, worker and dashboard each with their own user of docs/redis-acl.conf, `gmv
    ingest` and `gmv serve` as processes: the night counts exactly, the dashboard serves it and
    takes an acknowledgement, and each user is refused what is not its job; a wrong password is
    one clear line. Every user's every key: tests/security/test_redis_acl_users.py."""
    with acl_redis_server(tmp_path) as acl:
        url = acl.url
        data = tmp_path / "data"
        settings = load_settings(env={}, redis_url=url("worker"), data_dir=data)
        replay(SAMPLE, connect(url("producer")), settings, speed=None, retime=False)
        ingest = subprocess.run([*CLI, "ingest", "--until-idle", "-q", "--redis", url("worker"),
                                 "--data", str(data)], capture_output=True, text=True, timeout=300)
        assert ingest.returncode == 0, ingest.stderr
        assert read_summary(data)["orders"] == TRUTH["accepted"]

        web_port = free_loopback_port()
        serve = subprocess.Popen([*CLI, "serve", "--port", str(web_port), "--workers", "1",
                                  "--redis", url("dashboard"), "--data", str(data)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{web_port}"
            wait_for(lambda: _get(base + "/api/live", data) is not None, 60,
                     "the dashboard never served")
            assert json.loads(_get(base + "/api/live", data) or b"{}")["orders"] == TRUTH["accepted"]
            assert json.loads(_get(base + "/api/summary", data) or b"{}")["gmv"] == TRUTH["gmv"]
            # Its rate limits count (with users; failing, they would let everything through).
            limits = RateLimits(connect(url("dashboard")), settings)
            assert limits.spend("summary", "mei", 1) is None and limits.spent("summary", "mei") == 1
            dashboard = DataSource(settings.replace(redis_url=url("dashboard")),
                                   connect(url("dashboard")))
            (oversell,) = [a for a in read_alerts(data) if a["kind"] == "oversell"]
            assert dashboard.acknowledge(oversell["key"], "mei", 1_794_330_000_000)
        finally:
            serve.terminate()
            serve.wait(timeout=30)
        run_worker(connect(url("worker")), settings, until_idle=True)
        (acked,) = [a for a in read_alerts(data) if a["kind"] == "oversell"]
        assert acked["acknowledged_by"] == "mei"

        with pytest.raises(redis.exceptions.NoPermissionError):
            connect(url("producer")).get(settings.snapshot_key)
        with pytest.raises(redis.exceptions.NoPermissionError):
            connect(url("dashboard")).xadd(settings.orders_stream, {"data": b"{}"})
        with pytest.raises(redis.exceptions.NoPermissionError):
            connect(url("dashboard")).xread({settings.orders_stream: "0-0"}, count=1)
        with pytest.raises(redis.exceptions.NoPermissionError):
            connect(url("watchdog")).set(settings.snapshot_key, b"{}")
        wrong = subprocess.run([*CLI, "ingest", "--until-idle", "-q", "--redis",
                                url("worker", "not-it"), "--data", str(data)],
                               capture_output=True, text=True, timeout=60)
        assert wrong.returncode == 1 and len(wrong.stderr.strip().splitlines()) == 1, wrong.stderr
        assert "password" in wrong.stderr


def _get(url: str, data: Path) -> bytes | None:
    """As this machine's browser, once it opened the local link (a war room without users)."""
    try:
        request = urllib.request.Request(url, headers={"Cookie": local_cookie(data)})
        with urllib.request.urlopen(request, timeout=10) as response:
            return bytes(response.read())
    except (OSError, AssertionError):  # not served yet, or no key made yet
        return None
