"""A whole night's load on the dashboard: N big screens (kiosk sessions: `/api/live` and the night's
charts at the page's own intervals) against `gmv serve` for M minutes while the simulator publishes
~5,000 orders/s that `gmv ingest` counts; per slice of the run: requests, p50/p95/p99, errors,
the dashboard's memory (RSS of gunicorn and its workers) and the ingest rate. Beside them, a real
Chromium's big screen: from an order's XADD to the moment the screen draws it, p50/p99.

    python -m bench.soak [--viewers 1000] [--minutes 30] [--ops 5000] [--slice-minutes 5]

The end-to-end figure uses the stream ids: Redis stamps each entry with its XADD time (ms), the
snapshot says the worker's committed position, and the page records when it draws each snapshot
(and the count-up reaches it 950 ms later). An order added at t is on the screen at the first
drawing whose position is at or past t. Every clock is this machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from playwright.sync_api import sync_playwright

from bench.publish import machine
from bench.viewers import exchange, wait_until_up
from common.redis_server import EmbeddedRedis, connect, free_loopback_port
from common.settings import load_settings
from dashboard.accounts import Accounts
from dashboard.components import LIVE_INTERVAL_MS, NIGHT_INTERVAL_MS
from dashboard.gate import SESSION_COOKIE
from rehearsal.simulate import NightPlan

CLI = [sys.executable, "-m", "gmv.cli"]
WARM_UP_S = 10
START_S = 2 * 3600  # 02:00, past the surge: a steady stretch of the night
COUNT_UP_MS = 950  # dashboard/assets/live.js
NIGHT_EVERY = NIGHT_INTERVAL_MS // LIVE_INTERVAL_MS  # the night's charts with every n-th snapshot
RECORD_DRAWINGS = """
() => {
  window.__drawn = [];
  const gmv = window.dash_clientside.gmv;
  const render = gmv.render_live;
  gmv.render_live = function (live, ...rest) {
    if (live && live.position) window.__drawn.push([Date.now(), live.position]);
    return render.call(this, live, ...rest);
  };
}
"""


@dataclass
class Sample:
    at: float
    ms: float
    ok: bool
    night: bool  # /api/night-figures (else /api/live)


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    memory: list[tuple[float, int]] = field(default_factory=list)  # (at, RSS bytes)
    cpu: list[tuple[float, float]] = field(default_factory=list)  # (at, CPU seconds so far)
    orders: list[tuple[float, int]] = field(default_factory=list)  # (at, orders counted)


def peak_for(ops: int, minutes: float) -> int:
    """The simulator's midnight peak that makes the stretch from START_S average `ops`."""
    plan = NightPlan(peak_ops=1_000_000, start_s=START_S, duration_s=int(minutes * 60) + 120)
    return max(int(ops * plan.duration_s / plan.expected_orders() * 1_000_000), 1)


def tree_usage(pid: int) -> tuple[int, float]:
    """RSS (bytes) and CPU time (s) of a process and its children (gunicorn and its workers)."""
    rss, cpu, pids = 0, 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            stat = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        rss += next(int(line.split()[1]) * 1024 for line in status.splitlines()
                    if line.startswith("VmRSS:"))
        cpu += (int(stat[11]) + int(stat[12])) / tick  # utime, stime
        pids.extend(int(c) for c in children)
    return rss, cpu


def kiosk_cookie(base_url: str, data: Path) -> str:
    """A wall screen's session: the kiosk link opened once."""
    _, token = Accounts(data).add_kiosk_link("soak")

    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    try:
        urllib.request.build_opener(Keep).open(f"{base_url}/kiosk/{token}", timeout=30)
    except urllib.error.HTTPError as redirect:
        for cookie in redirect.headers.get_all("Set-Cookie") or []:
            if cookie.startswith(SESSION_COOKIE + "="):
                return str(cookie.split(";", 1)[0])
    raise RuntimeError("the kiosk link did not answer with a session")


async def _viewer(port: int, live: bytes, night: bytes, until: float, run: Run) -> None:
    """A big screen: the snapshot each second, the night's charts every fifth, one connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    next_at = time.monotonic() + np.random.random() * LIVE_INTERVAL_MS / 1000
    turn = int(np.random.randint(NIGHT_EVERY))
    try:
        while True:
            await asyncio.sleep(max(next_at - time.monotonic(), 0))
            next_at += LIVE_INTERVAL_MS / 1000
            for request in ([live, night] if turn % NIGHT_EVERY == 0 else [live]):
                if time.monotonic() >= until:
                    return
                started = time.perf_counter()
                try:
                    ok = await exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError, StopIteration):
                    ok = False
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                run.samples.append(Sample(time.monotonic(), (time.perf_counter() - started) * 1000,
                                          ok, request is night))
            turn += 1
    finally:
        writer.close()


async def _watch(web_pid: int, client: Any, snapshot_key: str, until: float, run: Run) -> None:
    while time.monotonic() < until:
        rss, cpu = tree_usage(web_pid)
        run.memory.append((time.monotonic(), rss))
        run.cpu.append((time.monotonic(), cpu))
        raw = client.get(snapshot_key)
        if raw:
            run.orders.append((time.monotonic(), int(json.loads(raw)["orders"])))
        await asyncio.sleep(10)


async def soak(port: int, cookie: str, viewers: int, seconds: float, web_pid: int, client: Any,
               snapshot_key: str) -> Run:
    run = Run()
    head = b"Host: 127.0.0.1:%d\r\nCookie: %s\r\n\r\n" % (port, cookie.encode())
    live = b"GET /api/live HTTP/1.1\r\n" + head
    night = b"GET /api/night-figures?lang=zh HTTP/1.1\r\n" + head
    until = time.monotonic() + seconds
    await asyncio.gather(_watch(web_pid, client, snapshot_key, until, run),
                         *(_viewer(port, live, night, until, run) for _ in range(viewers)))
    return run


def end_to_end(base_url: str, cookie: str, seconds: float) -> list[tuple[int, str]]:
    """A real Chromium's big screen for `seconds`: when it drew each snapshot, and its position."""
    name, value = cookie.split("=", 1)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        context.add_cookies([{"name": name, "value": value, "url": base_url}])
        page = context.new_page()
        page.goto(base_url + "/")
        page.wait_for_function("() => window.dash_clientside && window.dash_clientside.gmv")
        page.wait_for_timeout(WARM_UP_S * 1000)  # the first drawing of every chart
        page.evaluate(RECORD_DRAWINGS)
        page.wait_for_timeout(seconds * 1000)
        drawn = page.evaluate("() => window.__drawn")
        browser.close()
    return [(int(at), str(position)) for at, position in drawn]


def latencies(drawn: list[tuple[int, str]]) -> np.ndarray:
    """For each millisecond of XADD time covered, how long until a drawing included it."""
    points = [(at, int(position.split("-")[0])) for at, position in drawn]
    out = []
    for (_, before), (at, after) in zip(points, points[1:], strict=False):
        if after > before:
            out.extend(at - t for t in range(before + 1, after + 1))
    return np.array(out, dtype=float)


def slices(run: Run, started: float, slice_s: float) -> list[str]:
    rows: list[str] = []
    if not run.samples:
        return rows
    ends = np.arange(started + slice_s, max(s.at for s in run.samples) + slice_s, slice_s)
    for index, end in enumerate(ends):
        chosen = [s for s in run.samples if end - slice_s <= s.at < end]
        if not chosen:
            continue
        ms = np.array([s.ms for s in chosen if s.ok])
        errors = sum(not s.ok for s in chosen)
        rss = [m for at, m in run.memory if at < end]
        counted = [n for at, n in run.orders if end - slice_s <= at < end]
        rate = (counted[-1] - counted[0]) / (slice_s * (len(counted) - 1) / len(counted)) \
            if len(counted) > 1 else float("nan")
        used = [(at, c) for at, c in run.cpu if end - slice_s <= at < end]
        cores = (used[-1][1] - used[0][1]) / (used[-1][0] - used[0][0]) if len(used) > 1 \
            else float("nan")
        rows.append(f"| {index * slice_s / 60:.0f}-{(index + 1) * slice_s / 60:.0f} min | "
                    f"{len(chosen) / slice_s:,.0f} | {np.percentile(ms, 50):.1f} | "
                    f"{np.percentile(ms, 95):.1f} | {np.percentile(ms, 99):.1f} | "
                    f"{errors:,} ({100 * errors / len(chosen):.3f} %) | "
                    f"{rss[-1] / 2**20:,.0f} | {cores:.2f} | {rate:,.0f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--ops", type=int, default=5000, help="orders per second published")
    parser.add_argument("--slice-minutes", type=float, default=5)
    parser.add_argument("--browser-seconds", type=float, default=120,
                        help="how long the real Chromium watches, at the end of the run")
    args = parser.parse_args()
    print(machine())
    defaults = load_settings(env={})
    print(f"gunicorn: {defaults.web_workers} workers x {defaults.web_threads} threads; "
          f"{args.viewers} kiosk viewers for {args.minutes:g} min; ~{args.ops:,} orders/s", flush=True)
    with tempfile.TemporaryDirectory() as home, EmbeddedRedis(Path(home) / "redis") as server:
        data = Path(home) / "data"
        settings = load_settings(env={}, redis_url=server.url, data_dir=data)
        Accounts(data).add_user("admin", "admin", os.urandom(16).hex())  # sign-in is on
        where = ["--redis", server.url, "--data", str(data), "-q"]
        port = free_loopback_port()
        processes = [
            subprocess.Popen([*CLI, "ingest", *where]),
            subprocess.Popen([*CLI, "simulate", "--speed", "1", "--start", f"{START_S}s",
                              "--duration", f"{int(args.minutes * 60) + 300}s", "--peak-ops",
                              str(peak_for(args.ops, args.minutes)), *where]),
            subprocess.Popen([*CLI, "serve", "--port", str(port), *where])]
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base + "/login")
            cookie = kiosk_cookie(base, data)
            client = connect(server.url)
            while not client.get(settings.snapshot_key):
                time.sleep(0.2)
            started = time.monotonic()
            load_s = args.minutes * 60
            browser_at = max(load_s - args.browser_seconds - WARM_UP_S - 5, 0)
            drawn: list[tuple[int, str]] = []

            def watch_in_browser() -> None:
                time.sleep(browser_at)
                drawn.extend(end_to_end(base, cookie, args.browser_seconds))

            import threading

            watcher = threading.Thread(target=watch_in_browser)
            watcher.start()
            run = asyncio.run(soak(port, cookie, args.viewers, load_s, processes[2].pid, client,
                                   settings.snapshot_key))
            watcher.join()
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=60)
    total = len(run.samples)
    errors = sum(not s.ok for s in run.samples)
    print("\n| slice | requests/s | p50 ms | p95 ms | p99 ms | errors | dashboard RSS MiB | "
          "dashboard CPU (cores) | ingest orders/s |\n|---|---|---|---|---|---|---|---|---|")
    print("\n".join(slices(run, started, args.slice_minutes * 60)))
    if total:
        for name, night in (("/api/live", False), ("/api/night-figures", True)):
            ms = np.array([s.ms for s in run.samples if s.ok and s.night == night])
            print(f"{name}: p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} "
                  f"ms, p99 {np.percentile(ms, 99):.1f} ms")
        ms = np.array([s.ms for s in run.samples if s.ok])
        print(f"\nall: {total:,} requests, p95 {np.percentile(ms, 95):.1f} ms, p99 "
              f"{np.percentile(ms, 99):.1f} ms, errors {errors:,} ({100 * errors / total:.3f} %); "
              f"RSS {run.memory[0][1] / 2**20:,.0f} -> {run.memory[-1][1] / 2**20:,.0f} MiB")
    waits = latencies(drawn)
    if len(waits):
        print(f"end to end (XADD -> a real Chromium draws it), {len(drawn)} drawings over "
              f"{args.browser_seconds:g} s: p50 {np.percentile(waits, 50):,.0f} ms, p99 "
              f"{np.percentile(waits, 99):,.0f} ms, max {waits.max():,.0f} ms; with the "
              f"{COUNT_UP_MS} ms count-up: p99 {np.percentile(waits, 99) + COUNT_UP_MS:,.0f} ms")
    else:
        print("end to end: the browser drew no snapshot with a position")


if __name__ == "__main__":
    main()
