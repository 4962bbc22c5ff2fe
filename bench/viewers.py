"""Viewer load: N simulated big screens against `gmv serve`, each doing what the page's browser
does: polled (gthread workers, GMV_WEB_PUSH=no), the live snapshot once a second (GET /api/live)
and the night's charts every five seconds (GET /api/night-figures); pushed (uvicorn workers), one
`/api/stream` held open. Next to them, in the same run, the ceiling of a trivial Dash callback
under the same gunicorn settings. For each: latency or frames, errors, and the dashboard's CPU
per screen.

    python -m bench.viewers [--viewers 1000] [--seconds 30]

Each viewer is one keep-alive connection at a random phase within the second. The requests are
the ones a real Chromium sends from the big screen (checked at start). The snapshot is live:
`gmv ingest` runs and republishes it four times a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from playwright.sync_api import sync_playwright

from bench.publish import machine
from bench.streams import Pushed, pushed_screen, stream_request
from bench.trivial_dash import REQUEST as TRIVIAL_REQUEST
from bench.usage import tree_usage
from common.redis_server import EmbeddedRedis, connect, free_loopback_port
from common.settings import load_settings
from dashboard.local_key import cookie_name, local_key, local_link
from ingest.worker import run_worker
from rehearsal.replay import replay

SAMPLE = Path(__file__).parents[1] / "sample_data" / "night-2026-11-11.jsonl.gz"
CLI = [sys.executable, "-m", "gmv.cli"]
CEILING_CONNECTIONS = 64
CEILING_SECONDS = 10
T = TypeVar("T")


def wait_until_up(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} never answered")


def browser_requests(base_url: str, link: str) -> set[str]:
    """The paths the big screen fetches by itself in its first seconds, from a real Chromium
    that opened `link` (the war room has no users: its local link)."""
    paths: set[str] = set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.on("request", lambda r: paths.add(r.url.removeprefix(base_url).split("?")[0]))
        page.goto(link)
        page.wait_for_timeout(6500)
        browser.close()
    return paths


@dataclass
class Latencies:
    ms: list[float] = field(default_factory=list)
    errors: int = 0

    def figures(self, seconds: float) -> dict[str, float]:
        values = np.array(self.ms) if self.ms else np.array([np.nan])
        return {"requests_per_s": len(self.ms) / seconds, "p50_ms": float(np.percentile(values, 50)),
                "p95_ms": float(np.percentile(values, 95)), "p99_ms": float(np.percentile(values, 99)),
                "errors": self.errors}


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> bool:
    """One request on a keep-alive connection; True when it came back 200 with a JSON body."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    body = await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 200") and body.startswith(b"{")


def http_request(port: int, path: str, body: bytes | None = None, cookie: str = "") -> bytes:
    if body is None:
        return b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n" % (
            path.encode(), port, f"Cookie: {cookie}\r\n".encode() if cookie else b"")
    return (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (path.encode(), port, len(body), body))


async def _viewer(port: int, seconds_of: list[list[bytes]], until: float, out: Latencies,
                  paced: bool) -> None:
    """Each second (or back to back when not paced) the next group of requests, in turn."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    next_at = time.monotonic() + (random.random() if paced else 0)
    turn = random.randrange(len(seconds_of))
    try:
        while True:
            if paced:
                await asyncio.sleep(max(next_at - time.monotonic(), 0))
                next_at += 1.0
            for request in seconds_of[turn % len(seconds_of)]:
                if time.monotonic() >= until:
                    return
                started = time.perf_counter()
                try:
                    ok = await exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError, StopIteration):
                    ok = False
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                if ok:
                    out.ms.append((time.perf_counter() - started) * 1000)
                else:
                    out.errors += 1
            turn += 1
    finally:
        writer.close()


async def load(port: int, seconds_of: list[list[bytes]], connections: int, seconds: float,
               paced: bool) -> Latencies:
    """`connections` keep-alive clients for `seconds`."""
    out = Latencies()
    until = time.monotonic() + seconds + (1 if paced else 0)
    await asyncio.gather(*(_viewer(port, seconds_of, until, out, paced)
                           for _ in range(connections)))
    return out


def serve(module: str | None, port: int, redis_url: str, data: Path,
          push: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GMV_WEB_PORT": str(port), "REDIS_URL": redis_url, "GMV_DATA_DIR": str(data),
           "GMV_WEB_PUSH": "yes" if push else "no"}
    if module is None:
        return subprocess.Popen([*CLI, "serve", "-q"], env=env)
    code = ("from dashboard.serve import DashboardServer; from common.settings import load_settings; "
            f"DashboardServer(load_settings(), {module!r}).run()")
    return subprocess.Popen([sys.executable, "-c", code], env=env)


def row(name: str, figures: dict[str, float], cpu_ms: float | None = None) -> str:
    return (f"| {name} | {figures['requests_per_s']:,.0f} | {figures['p50_ms']:.1f} | "
            f"{figures['p95_ms']:.1f} | {figures['p99_ms']:.1f} | {figures['errors']:,} | "
            f"{'—' if cpu_ms is None else f'{cpu_ms:.3f}'} |")


def measured(pid: int, load: Coroutine[Any, Any, T]) -> tuple[T, float]:
    """`load`'s result and the dashboard's CPU seconds meanwhile."""
    before = tree_usage(pid)[1]
    result = asyncio.run(load)
    return result, tree_usage(pid)[1] - before


async def pushed_screens(port: int, cookie: str, viewers: int, seconds: float) -> Pushed:
    out = Pushed()
    request = stream_request(port, cookie)
    until = time.monotonic() + seconds
    await asyncio.gather(*(pushed_screen(port, request, until, out, probe=False)
                           for _ in range(viewers)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    print(machine())
    settings_workers = load_settings()
    print(f"gunicorn: {settings_workers.web_workers} workers x {settings_workers.web_threads} "
          f"threads (gthread); {args.viewers} viewers for {args.seconds:.0f} s")
    with tempfile.TemporaryDirectory() as home, EmbeddedRedis(Path(home) / "redis") as server:
        settings = load_settings(env={}, redis_url=server.url, data_dir=Path(home) / "data")
        replay(SAMPLE, connect(server.url), settings, speed=None, retime=False)
        run_worker(connect(server.url), settings, until_idle=True)
        worker = subprocess.Popen([*CLI, "ingest", "-q", "--redis", server.url, "--data",
                                   str(settings.data_dir)])
        results: list[str] = []
        try:
            for name, module, push in (
                    ("trivial Dash callback (ceiling)", "bench.trivial_dash", False),
                    ("big screen polled (/api/live; night charts every 5 s)", None, False),
                    ("big screen pushed (/api/stream)", None, True)):
                port = free_loopback_port()
                web = serve(module, port, server.url, settings.data_dir, push)
                try:
                    wait_until_up(f"http://127.0.0.1:{port}/")
                    if module:
                        flat_out = [[http_request(port, "/_dash-update-component",
                                                  json.dumps(TRIVIAL_REQUEST).encode())]]
                        screen: list[list[bytes]] = []
                    else:
                        key = local_key(settings.data_dir)  # what this machine's screens hold
                        seen = browser_requests(f"http://127.0.0.1:{port}",
                                                local_link(f"http://127.0.0.1:{port}", key))
                        assert ({"/api/stream"} if push else {"/api/live", "/api/night-figures"}) \
                            <= seen, seen
                        cookie = f"{cookie_name(key)}={key}"
                        live = http_request(port, "/api/live", cookie=cookie)
                        night = http_request(port, "/api/night-figures?lang=zh", cookie=cookie)
                        flat_out, screen = [[live]], [[live]] * 4 + [[live, night]]
                    if push:
                        out, cpu_s = measured(web.pid, pushed_screens(
                            port, cookie, args.viewers, args.seconds))
                        results.append(
                            f"| {name}, {args.viewers} viewers | {len(out.frames) / args.seconds:,.0f}"
                            f" reads/s | — | — | — | {out.errors:,} | "
                            f"{1000 * cpu_s / args.seconds / args.viewers:.3f} |")
                        print(results[-1], flush=True)
                        continue
                    closed = asyncio.run(load(port, flat_out, CEILING_CONNECTIONS, CEILING_SECONDS,
                                              paced=False))
                    results.append(row(f"{name}, {CEILING_CONNECTIONS} connections flat out",
                                       closed.figures(CEILING_SECONDS)))
                    print(results[-1], flush=True)
                    if screen:
                        viewers, cpu_s = measured(web.pid, load(
                            port, screen, args.viewers, args.seconds, paced=True))
                        results.append(row(f"{name}, {args.viewers} viewers", viewers.figures(
                            args.seconds), 1000 * cpu_s / args.seconds / args.viewers))
                        print(results[-1], flush=True)
                finally:
                    web.terminate()
                    web.wait(timeout=30)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    print("\n| what | requests/s | p50 ms | p95 ms | p99 ms | errors | dashboard CPU ms per "
          "screen-second |\n|---|---|---|---|---|---|---|")
    print("\n".join(results))


if __name__ == "__main__":
    main()
