"""The whole war room for browser tests: its own redis-server, `gmv ingest` and `gmv serve` (two
gunicorn workers) as real processes, and Debian's Chromium driven by Playwright.

A war room without users answers only this machine's browsers that opened its local link (the
local key: dashboard/local_key.py). The helpers here do what such a browser does, once, for every
running war room: `let_in(context)` opens the link in a Playwright context (the `page` fixture's
included), `get_json`/`http_status`/`json_when_ready` send the cookie the link sets, and
tests/security/visitor.py's Visitor opens it first."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page

from common.redis_server import EmbeddedRedis, connect, free_loopback_port
from common.settings import Settings, load_settings
from dashboard.accounts import Accounts
from dashboard.local_key import browser_pass, cookie_name, local_link, read_local_key
from rehearsal.publish import StreamPublisher
from tests.conftest import wait_for
from tests.sample import STOCK, TRUTH, sample_payloads

ARTIFACTS = Path(os.environ.get("GMV_ARTIFACTS_DIR", Path(__file__).parents[2] / "test-artifacts"))
CLI = [sys.executable, "-m", "gmv.cli"]
# A live page's banner: down, or only saying that no order has arrived for a while (the stacks
# of many tests publish a sample and then fall silent: that banner tells the truth).
LIVE_BANNER = re.compile(r"^banner( banner-on banner-quiet)?$")


@dataclass
class Stack:
    settings: Settings
    client: redis.Redis
    base_url: str
    logs: Path
    worker: subprocess.Popen[bytes] | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # settings of its processes

    @property
    def where(self) -> list[str]:
        return ["--redis", str(self.settings.redis_url), "--data", str(self.settings.data_dir)]

    @property
    def local_key(self) -> str:
        key = read_local_key(self.settings.data_dir)
        assert key, "gmv serve made no local key"
        return key

    @property
    def local_link(self) -> str:
        """The link `gmv serve` printed: what this machine's browsers open first."""
        return local_link(self.base_url, self.local_key)

    @property
    def local_cookie(self) -> str:
        return local_cookie(self.settings.data_dir)

    def has_users(self) -> bool:
        return Accounts(self.settings.data_dir).has_users()

    @property
    def last_year_dir(self) -> Path:
        return self.logs / "last-year"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        env = {**os.environ, "GMV_LAST_YEAR_DATA_DIR": str(self.last_year_dir), **self.env}
        process = subprocess.Popen([*CLI, *args, *self.where], stdout=log, stderr=log, env=env)
        self.processes.append(process)
        return process

    def start_worker(self) -> None:
        self.worker = self._spawn("worker", ["ingest"])

    def stop_worker(self) -> None:
        assert self.worker is not None
        self.worker.terminate()
        self.worker.wait(timeout=30)
        self.worker = None

    def serve(self) -> None:
        port = self.base_url.rsplit(":", 1)[1].rstrip("/")
        self._spawn("serve", ["serve", "--port", port, "--workers", "2"])
        wait_for(lambda: http_status(self.base_url + "/login") == 200, 60,
                 "the dashboard never answered")

    def live(self) -> dict[str, Any]:
        raw = self.client.get(self.settings.snapshot_key)
        return json.loads(raw) if raw else {}

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def local_cookie(data_dir: Path) -> str:
    """The Cookie header of a browser that opened the local link of the war room on `data_dir`."""
    key = read_local_key(data_dir)
    assert key, f"no local key in {data_dir}"
    return f"{cookie_name(key)}={browser_pass(key)}"


RUNNING: dict[str, Stack] = {}  # base URL -> the war room serving it, while it runs


def running_at(url: str) -> Stack | None:
    return next((s for base, s in RUNNING.items() if url.startswith(base + "/")), None)


def local_request(url: str) -> urllib.request.Request:
    """A request to `url` from this machine's browser: with the local link's cookie when `url` is
    a running war room's."""
    stack = running_at(url)
    return urllib.request.Request(url, headers={"Cookie": stack.local_cookie} if stack else {})


def let_in(context: BrowserContext) -> BrowserContext:
    """A browser context that opened the local link of every running war room without users (each
    war room's cookie has a name of its own, so they all hold at once)."""
    for stack in RUNNING.values():
        if not stack.has_users():
            answer = context.request.get(stack.local_link, max_redirects=0)
            assert answer.status == 302 and "key=" not in answer.headers["location"], answer
    return context


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(local_request(url), timeout=5) as response:
            return int(response.status)
    except OSError as err:
        return int(getattr(err, "code", 0) or 0)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(local_request(url), timeout=30) as response:
        return json.loads(response.read())


def json_when_ready(url: str) -> Any:
    """The answer, or {} while the server says it has none yet (404, 503)."""
    try:
        return get_json(url)
    except urllib.error.HTTPError:
        return {}


@contextlib.contextmanager
def running_stack(home: Path, env: dict[str, str] | None = None,
                  worker: bool = True) -> Iterator[Stack]:
    """Redis, `gmv ingest` (unless not `worker`) and `gmv serve` of its own under `home` (`env`:
    settings for them)."""
    with EmbeddedRedis(home / "redis") as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=home / "data")
        running = Stack(settings, connect(server.url), f"http://127.0.0.1:{free_loopback_port()}",
                        home, env=env or {})
        try:
            if worker:
                running.start_worker()
            running.serve()
            RUNNING[running.base_url] = running
            yield running
        finally:
            RUNNING.pop(running.base_url, None)
            running.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One war room for the tests that only read what the sample night left (every module's:
    starting one and counting the sample takes half a minute)."""
    with running_stack(tmp_path_factory.mktemp("war-room")) as running:
        yield running


@pytest.fixture()
def fresh_stack(tmp_path: Path) -> Iterator[Stack]:
    """A war room of its own, for a test that watches it change or stops part of it."""
    with running_stack(tmp_path) as running:
        yield running


def publish_sample(stack: Stack, payloads: Sequence[bytes]) -> None:
    StreamPublisher(stack.client, stack.settings.orders_stream).publish(payloads)


@pytest.fixture(scope="session")
def counted_sample(stack: Stack) -> Stack:
    """The sample night (its stock first) counted by the stack's worker and in its history files,
    whichever test asks first."""
    StreamPublisher(stack.client, stack.settings.inventory_stream).publish(
        STOCK.read_bytes().splitlines())
    publish_sample(stack, sample_payloads())
    wait_for(lambda: stack.live().get("orders") == TRUTH["accepted"], 120,
             "the worker never counted the sample")
    wait_for(lambda: json_when_ready(stack.base_url + "/api/summary").get("orders") == TRUTH["accepted"],
             60, "the history files never caught up")
    return stack


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = let_in(browser.new_context(viewport={"width": 1920, "height": 1080},
                                         accept_downloads=True, locale="zh-CN",
                                         timezone_id="Europe/London"))
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


def screenshot(page: Page, name: str) -> Path:
    """A 1920x1080 picture of the view for the test artifacts (and for people to look at)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
