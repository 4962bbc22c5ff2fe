"""A whole night's load on the dashboard, pushed and polled side by side in one run: N big screens
(kiosk sessions) against `gmv serve` for M minutes per phase while the simulator publishes ~5,000
orders/s that `gmv ingest` counts. Push: each screen holds `/api/stream` open (uvicorn's workers);
poll: each asks `/api/live` every second and the night's charts every fifth (gthread workers, the
page's fallback and the dashboard before push). Per slice of each phase: frames or requests,
latency, errors, the dashboard's memory (RSS of gunicorn and its workers) and CPU, the ingest
rate. Beside them, for the whole phase, a real Chromium's big screen: from an order's XADD to the
screen's next paint after it drew the snapshot that holds it, p50/p95/p99.

    python -m bench.soak [--viewers 1000] [--minutes 30] [--modes push,poll] [--ops 5000]

The end-to-end figure uses the stream ids: Redis stamps each entry with its XADD time (ms), the
snapshot says the worker's committed position, and the page records when it draws each snapshot
(then the GMV counts up to it within the time between two snapshots). An order added at t is on
the screen at the first drawing whose position is at or past t. Every clock is this machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from playwright.sync_api import sync_playwright

from bench.publish import machine
from bench.streams import Pushed, pushed_screen, stream_request
from bench.usage import tree_usage
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
NIGHT_EVERY = NIGHT_INTERVAL_MS // LIVE_INTERVAL_MS  # the night's charts with every n-th snapshot
# When the page drew each snapshot: the next animation frame after render_live ran (the paint
# that shows it), and the snapshot's position.
RECORD_DRAWINGS = """
() => {
  window.__drawn = [];
  const gmv = window.dash_clientside.gmv;
  const render = gmv.render_live;
  gmv.render_live = function (live, ...rest) {
    if (live && live.position) {
      const position = live.position;
      requestAnimationFrame(() => window.__drawn.push([Date.now(), position]));
    }
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


@dataclass
class PageCost:
    """The Chromium page's main thread: busy seconds per second of the phase (Chrome's
    TaskDuration), and script alone."""

    task: float = float("nan")
    script: float = float("nan")


def end_to_end(base_url: str, cookie: str, seconds: float,
               cost: PageCost | None = None) -> list[tuple[int, str]]:
    """A real Chromium's big screen for `seconds`: when it drew each snapshot, and its position;
    and what drawing them cost the page (`cost`)."""
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
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")

        def metrics() -> dict[str, float]:
            return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}

        before = metrics()
        page.wait_for_timeout(seconds * 1000)
        after = metrics()
        if cost is not None:
            cost.task = (after["TaskDuration"] - before["TaskDuration"]) / seconds
            cost.script = (after["ScriptDuration"] - before["ScriptDuration"]) / seconds
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


async def pushed(port: int, cookie: str, viewers: int, seconds: float, web_pid: int, client: Any,
                 snapshot_key: str, probes: int) -> tuple[Run, Pushed]:
    run, out = Run(), Pushed()
    request = stream_request(port, cookie)
    until = time.monotonic() + seconds

    async def screen(index: int) -> None:
        await asyncio.sleep(np.random.random() * 2)  # the walls come on over two seconds
        await pushed_screen(port, request, until, out, probe=index < probes)

    await asyncio.gather(_watch(web_pid, client, snapshot_key, until, run),
                         *(screen(i) for i in range(viewers)))
    return run, out


@dataclass
class Phase:
    mode: str
    viewers: int
    run: Run
    started: float
    pushed: Pushed | None
    drawn: list[tuple[int, str]]
    seconds: float
    page: PageCost


def run_phase(mode: str, viewers: int, seconds: float, where: list[str], data: Path,
              client: Any, snapshot_key: str, probes: int) -> Phase:
    port = free_loopback_port()
    env = {**os.environ, "GMV_WEB_PUSH": "yes" if mode == "push" else "no"}
    web = subprocess.Popen([*CLI, "serve", "--port", str(port), *where], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/login")
        cookie = kiosk_cookie(base, data)
        drawn: list[tuple[int, str]] = []
        cost = PageCost()
        browser_s = max(seconds - WARM_UP_S - 5, 10)
        watcher = threading.Thread(
            target=lambda: drawn.extend(end_to_end(base, cookie, browser_s, cost)))
        started = time.monotonic()
        watcher.start()
        out = None
        if mode == "push":
            run, out = asyncio.run(pushed(port, cookie, viewers, seconds, web.pid, client,
                                          snapshot_key, probes))
        else:
            run = asyncio.run(soak(port, cookie, viewers, seconds, web.pid, client, snapshot_key))
        watcher.join()
    finally:
        web.terminate()
        web.wait(timeout=60)
    return Phase(mode, viewers, run, started, out, drawn, seconds, cost)


def push_slices(phase: Phase, slice_s: float) -> list[str]:
    assert phase.pushed is not None
    rows = []
    for index, end in enumerate(np.arange(phase.started + slice_s, phase.started + phase.seconds
                                          + 1, slice_s)):
        reads = [b for at, b in phase.pushed.frames if end - slice_s <= at < end]
        rss = [m for at, m in phase.run.memory if at < end]
        used = [(at, c) for at, c in phase.run.cpu if end - slice_s <= at < end]
        cores = (used[-1][1] - used[0][1]) / (used[-1][0] - used[0][0]) if len(used) > 1 \
            else float("nan")
        counted = [n for at, n in phase.run.orders if end - slice_s <= at < end]
        rate = (counted[-1] - counted[0]) / (slice_s * (len(counted) - 1) / len(counted)) \
            if len(counted) > 1 else float("nan")
        rows.append(f"| {index * slice_s / 60:.0f}-{(index + 1) * slice_s / 60:.0f} min | "
                    f"{len(reads) / slice_s:,.0f} | {sum(reads) / slice_s / 2**20:,.2f} | "
                    f"{rss[-1] / 2**20 if rss else float('nan'):,.0f} | {cores:.2f} | {rate:,.0f} |")
    return rows


def summary(phase: Phase) -> str:
    """One row of the side-by-side table."""
    run = phase.run
    used = run.cpu
    cores = (used[-1][1] - used[0][1]) / (used[-1][0] - used[0][0]) if len(used) > 1 else float("nan")
    waits = latencies(phase.drawn)
    pixel = " / ".join(f"{np.percentile(waits, q):,.0f}" for q in (50, 95, 99)) if len(waits) \
        else "none drawn"
    if phase.pushed is not None:
        errors = phase.pushed.errors
        frame_waits = latencies(phase.pushed.arrivals)
        frame = f"{np.percentile(frame_waits, 99):,.0f}" if len(frame_waits) else "—"
    else:
        errors = sum(not s.ok for s in run.samples)
        frame = "—"
    counted = run.orders
    rate = (counted[-1][1] - counted[0][1]) / (counted[-1][0] - counted[0][0]) \
        if len(counted) > 1 else float("nan")
    rss = f"{run.memory[0][1] / 2**20:,.0f} -> {run.memory[-1][1] / 2**20:,.0f}" if run.memory else "—"
    return (f"| {phase.mode} | {phase.viewers:,} | {phase.seconds / 60:g} | {pixel} | {frame} | "
            f"{errors:,} | {rss} | {cores:.2f} | {1000 * cores / phase.viewers:.3f} | "
            f"{1000 * phase.page.task:.0f} / {1000 * phase.page.script:.0f} | {rate:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", default="1000", help="screens per phase, e.g. 100,1000")
    parser.add_argument("--minutes", type=float, default=30, help="of each phase")
    parser.add_argument("--modes", default="push,poll", help="push, poll or both, in this order")
    parser.add_argument("--ops", type=int, default=5000, help="orders per second published")
    parser.add_argument("--slice-minutes", type=float, default=5)
    parser.add_argument("--probes", type=int, default=10,
                        help="pushed screens that rebuild each snapshot to time its orders")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",")]
    counts = [int(v) for v in args.viewers.split(",")]
    if not set(modes) <= {"push", "poll"} or not counts or min(counts) < 1:
        parser.error("--modes is push and/or poll; --viewers whole numbers")
    print(machine())
    defaults = load_settings(env={})
    phases_s = len(modes) * len(counts) * (args.minutes * 60 + 60)
    print(f"gunicorn: {defaults.web_workers} workers (push: uvicorn; poll: gthread x "
          f"{defaults.web_threads} threads); phases {modes} x {counts} screens, "
          f"{args.minutes:g} min each; ~{args.ops:,} orders/s", flush=True)
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory() as home, EmbeddedRedis(Path(home) / "redis") as server:
        data = Path(home) / "data"
        settings = load_settings(env={}, redis_url=server.url, data_dir=data)
        Accounts(data).add_user("admin", "admin", os.urandom(16).hex())  # sign-in is on
        where = ["--redis", server.url, "--data", str(data), "-q"]
        processes = [
            subprocess.Popen([*CLI, "ingest", *where]),
            subprocess.Popen([*CLI, "simulate", "--speed", "1", "--start", f"{START_S}s",
                              "--duration", f"{int(phases_s) + 300}s", "--peak-ops",
                              str(peak_for(args.ops, phases_s / 60)), *where])]
        try:
            client = connect(server.url)
            while not client.get(settings.snapshot_key):
                time.sleep(0.2)
            for viewers in counts:
                for mode in modes:
                    print(f"phase: {mode}, {viewers:,} screens, {args.minutes:g} min", flush=True)
                    phases.append(run_phase(mode, viewers, args.minutes * 60, where, data, client,
                                            settings.snapshot_key, args.probes))
                    print(summary(phases[-1]), flush=True)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=60)
    for phase in phases:
        print(f"\n### {phase.mode}, {phase.viewers:,} screens")
        if phase.mode == "push":
            print("| slice | reads/s | MiB/s sent | dashboard RSS MiB | dashboard CPU (cores) | "
                  "ingest orders/s |\n|---|---|---|---|---|---|")
            print("\n".join(push_slices(phase, args.slice_minutes * 60)))
        else:
            print("| slice | requests/s | p50 ms | p95 ms | p99 ms | errors | dashboard RSS MiB | "
                  "dashboard CPU (cores) | ingest orders/s |\n|---|---|---|---|---|---|---|---|---|")
            print("\n".join(slices(phase.run, phase.started, args.slice_minutes * 60)))
    print("\n| mode | screens | min | order -> pixel p50 / p95 / p99 ms (Chromium) | order -> frame "
          "p99 ms (probes) | errors | dashboard RSS MiB | dashboard CPU (cores) | CPU ms per "
          "screen-second | page main thread ms/s (all / script) | ingest orders/s |"
          "\n|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(summary(phase) for phase in phases))


if __name__ == "__main__":
    main()
