"""`gmv demo`: the whole war room on one machine, on embedded defaults."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from common.logs import log_event, log_to_file
from common.redis_server import PUBLISHER_SOCKET_TIMEOUT_S, connect, redis_url_for, url_for_logs
from common.settings import Settings
from common.stopping import STOP_WITHIN_S, ServiceFailed, parent_death_signal, wait_or_stop
from dashboard.accounts import Accounts
from dashboard.guesses import GuessBoard, Guesser, closing_ms
from dashboard.local_key import cookie_name, local_key, local_link
from gmv.demo_night import NEW, OVER, DemoNight, tonight, write_record
from gmv.status import StatusLine
from ingest.history import LAST_YEAR_DIR, orders_dir
from rehearsal.days import amount_moments
from rehearsal.incidents import Incident, every_kind
from rehearsal.run import simulate_to_stream
from rehearsal.simulate import Batch, NightPlan

log = logging.getLogger("gmv.demo")
DEMO_START_S = -60
DEMO_DURATION_S = 24 * 3600 + 60
LAST_YEAR_SPAN = "20m"
DEMO_WORKERS = 2  # the comparison covers the demo's first twenty minutes
SERVICES_STOP_S = STOP_WITHIN_S - 1.5  # then Redis, and the demo itself, within STOP_WITHIN_S
DASHBOARD_START_S = 120  # a slow first start imports Dash, pandas, DuckDB in each worker


class Services:
    """The `gmv` subcommands running beside the demo, each logging to `logs/<name>.log`. Each in
    a session of its own: the terminal's Ctrl-C reaches the demo alone, which stops them all at
    once (Redis after them). Each dies with the demo, even a demo killed with SIGKILL (a
    parent-death signal), so that nothing of it runs on alone. The Redis URL reaches them in
    REDIS_URL, never on a command line (/proc/PID/cmdline is every local user's to read)."""

    def __init__(self, logs: Path, redis_url: str) -> None:
        self.logs, self.redis_url = logs, redis_url
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None,
              nice: int = 0) -> None:
        with (self.logs / f"{name}.log").open("ab") as out:
            process = subprocess.Popen([sys.executable, "-m", "gmv.cli", *args],
                                       env={**os.environ, "REDIS_URL": self.redis_url, **(env or {})},
                                       stdout=out, stderr=out,
                                       stdin=subprocess.DEVNULL, start_new_session=True,
                                       preexec_fn=_in_child(nice))
        self.running.append((name, process))
        log_event(log, "service_started", service=name, pid=process.pid)

    def process(self, name: str) -> subprocess.Popen[bytes]:
        return next(p for n, p in self.running if n == name)

    def stop(self) -> None:
        """SIGTERM to all at once (each stops within STOP_WITHIN_S); SIGKILL to any that has
        not by then."""
        for _, process in self.running:
            process.terminate()
        deadline = time.monotonic() + SERVICES_STOP_S
        for name, process in self.running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log_event(log, "service_stopped", service=name, code=process.returncode)
        self.running = []

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _in_child(nice: int) -> Callable[[], None]:
    die_with_demo = parent_death_signal()

    def in_child() -> None:
        die_with_demo()
        if nice:
            os.nice(nice)
    return in_child


def _last_year(services: Services, settings: Settings, seed: int, peak_ops: int) -> None:
    """Last year's night for the comparison curve, at four fifths of tonight's peak: simulated
    into its own stream and data dir by niced processes that yield the CPU to tonight's. Kept
    between demos; an existing one is reused."""
    last_year = settings.data_dir / LAST_YEAR_DIR
    env = {"GMV_ORDERS_STREAM": f"{settings.orders_stream}:last-year"}
    where = ["--data", str(last_year), "-q"]
    if not orders_dir(last_year).is_dir():
        day = date.fromisoformat(settings.festival_date) - timedelta(days=365)
        services.start("last_year_simulator", [
            "simulate", "--day", day.isoformat(), "--seed", str(seed + 1),
            "--peak-ops", str(peak_ops * 4 // 5), "--start=-1m", "--duration", LAST_YEAR_SPAN,
            "--max", *where], env, nice=19)
    services.start("last_year_worker", ["ingest", *where], env, nice=19)


DEMO_GUESSERS = ("李伟", "王芳", "张敏", "陈杰", "刘洋", "赵静")
DEMO_GUESS_SHARES = (0.72, 0.86, 0.95, 1.03, 1.12, 1.31)  # of the night's expected GMV


def _sample_guesses(settings: Settings, plan: NightPlan) -> None:
    """Six colleagues' guesses made on the eve, so the demo's board has a game to show (marked
    "(demo)"); an empty board only: guesses already made are never touched."""
    board = GuessBoard(settings.data_dir, closing_ms(settings.guesses_close_at,
                                                     settings.festival_date))
    if board.guesses():
        return
    mean_cents, _ = amount_moments(plan.seed)
    expected = plan.expected_orders() * mean_cents
    for hour, (name, share) in enumerate(zip(DEMO_GUESSERS, DEMO_GUESS_SHARES, strict=True)):
        yuan = round(expected * share / 100 / 10**6) * 10**6  # to the ¥百万, as people guess
        board.submit(Guesser.by_name(f"{name} (demo)", "gmv demo"), str(yuan),
                     board.closes_at_ms - (6 - hour) * 3_600_000)
    log_event(log, "demo_guesses", count=len(DEMO_GUESSERS))


def _access_note(settings: Settings) -> str:
    if Accounts(settings.data_dir).has_users():
        return "Sign in with one of this data dir's users (gmv user list)."
    return ("Local only, no sign-in: this machine alone can open it, with the link above (its "
            "key proves this machine; gmv local-link prints it again; to show the war room to "
            "the room, add users: README, 'Who may see and do what').")


def _wait_for_dashboard(services: Services, base: str, key: str, logs: Path) -> None:
    """Until the dashboard answers as this war room's own; a ServiceFailed naming the port when
    its process dies first (the port in use, by another dashboard or by a squatter that may well
    answer HTTP itself)."""
    process, port = services.process("dashboard"), base.rsplit(":", 1)[1]
    deadline = time.monotonic() + DASHBOARD_START_S
    while not _answers_as_ours(base, key):
        if process.poll() is not None:
            said = _last_line(logs / "dashboard.log")
            raise ServiceFailed(f"the dashboard did not start on port {port}"
                                f"{f' ({said})' if said else ''}; its log: {logs}/dashboard.log")
        if time.monotonic() > deadline:
            raise ServiceFailed(f"the dashboard did not answer on port {port} within "
                                f"{DASHBOARD_START_S} s; its log: {logs}/dashboard.log")
        if wait_or_stop(0.1):
            return


def _answers_as_ours(base: str, key: str) -> bool:
    """The link with the key is answered by a redirect without it that sets the key's cookie
    (without users) or sets nothing (with users: the key means nothing then): without users,
    what only a dashboard that knows this data dir's key does."""
    request = urllib.request.Request(local_link(base, key))
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=5):
            return False
    except urllib.error.HTTPError as answer:
        cookies = " ".join(answer.headers.get_all("Set-Cookie") or [])
        return answer.code == 302 and (cookie_name(key) in cookies or
                                       "?key=" not in (answer.headers.get("Location") or "?key="))
    except OSError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object) -> None:
        return None


def _night_line(mode: str, plan: NightPlan, asked: NightPlan, settings: Settings) -> str:
    """What the terminal says of the night this run publishes."""
    at = night_clock(plan.first_s)
    if mode == NEW:
        return f"\n  A new night: the simulator starts at {at} night time, a minute before midnight."
    other = "" if (asked.seed, asked.peak_ops) == (plan.seed, plan.peak_ops) else (
        f" (its own seed {plan.seed} and peak {plan.peak_ops:,}/s, not the ones asked: they "
        "would pile another night onto its totals)")
    if mode == OVER:
        return (f"\n  The night in {settings.data_dir} is over{other}: nothing more to publish; "
                "the screens and /review show it. For a new night, use another data dir "
                "(GMV_DATA_DIR=...) or remove this one.")
    return (f"\n  Continuing the night where it stopped, at {at} night time{other}: what it "
            f"counted is kept. For a new night, use another data dir (GMV_DATA_DIR=...) or "
            f"remove {settings.data_dir}.")


def night_clock(second: int) -> str:
    """A second of the night (from midnight) as the night's clock reads it: -60 is 23:59:00."""
    second %= 86400
    return f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"


def _keep_progress(settings: Settings, night: DemoNight) -> Callable[[Batch], None]:
    """After each published batch, how far the night is drawn: where a next run continues."""
    def published(batch: Batch) -> None:
        if batch.through_s is not None:
            night.published_to_s, night.published_ms = batch.through_s, None
            write_record(settings.data_dir, night)
    return published


def _keep_slices(night: DemoNight) -> Callable[[int], None]:
    """After each published slice of a batch, how far within it (written when the run stops:
    a next run must not send that part of the chunk again under new order ids)."""
    def sent_to(ms: int) -> None:
        night.published_ms = ms
    return sent_to


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    return next((line for line in reversed(lines) if line), "")[:300]


def run_demo(settings: Settings, seed: int, peak_ops: int, speed: float,
             incidents: tuple[Incident, ...] = ()) -> None:
    """Redis, the ingest worker, the watchdog, the dashboard and the simulator at festival pace,
    from a minute before midnight, with `incidents` (default: one of every kind in the first
    half hour); last year's night loads beside it for the comparison. The terminal keeps the
    war room's address and one status line; every process logs to `DATA/logs/`. Ctrl-C stops
    everything and returns."""
    asked = NightPlan(seed=seed, peak_ops=peak_ops, start_s=DEMO_START_S,
                      duration_s=DEMO_DURATION_S,
                      incidents=incidents or tuple(every_kind(120, 1800, seed)))
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_to_file(logs / "demo.log")
    mode, night, plan = tonight(settings.data_dir, asked, int(time.time() * 1000))
    log_event(log, "demo_night", mode=mode, from_s=plan.first_s, seed=plan.seed,
              peak_ops=plan.peak_ops)
    print(_night_line(mode, plan, asked, settings), flush=True)
    _sample_guesses(settings, plan)
    try:
        with redis_url_for(settings) as url:
            where = ["--data", str(settings.data_dir)]
            log_event(log, "demo_started", redis=url_for_logs(url), data=settings.data_dir)
            base = f"http://{settings.web_host}:{settings.web_port}"
            url_shown, key = base + "/", local_key(settings.data_dir)
            compare = {"GMV_LAST_YEAR_DATA_DIR": str(settings.data_dir / LAST_YEAR_DIR)}
            # Partitioned (GMV_PARTITIONS > 1): two worker processes and the combiner.
            workers = [] if settings.partitions == 1 else ["--workers", str(DEMO_WORKERS)]
            with Services(logs, url) as services:
                services.start("worker", ["ingest", *workers, *where], compare)
                services.start("watchdog", ["watchdog", *where])
                services.start("dashboard", ["serve", "--no-link", *where], compare)
                _last_year(services, settings, seed, peak_ops)
                _wait_for_dashboard(services, base, key, logs)
                print(f"\n  The war room: {local_link(base, key)}\n  (then operations: "
                      f"{url_shown}ops, review: {url_shown}review, the guessing game: "
                      f"{url_shown}guess; English: ?lang=en)\n  {_access_note(settings)}\n"
                      f"  Logs: {logs}/   Ctrl-C stops everything.\n", flush=True)
                status = StatusLine(connect(url), settings)
                status.start()
                try:
                    if mode == OVER:
                        while not wait_or_stop(3600):  # the war room stays up, for the review
                            pass
                    else:
                        publishing = connect(url, socket_timeout=PUBLISHER_SOCKET_TIMEOUT_S)
                        try:
                            simulate_to_stream(plan, publishing, settings, speed,
                                               settings.data_dir / "labels.json", "gmv demo",
                                               _keep_progress(settings, night),
                                               _keep_slices(night))
                        finally:  # stopped mid-chunk: how far in it
                            if night.published_ms is not None:
                                write_record(settings.data_dir, night)
                finally:
                    status.stop()
    except KeyboardInterrupt:
        log_event(log, "demo_interrupted")
    print(f"  Stopped: the simulator, the worker, the watchdog, the dashboard and Redis. The "
          f"night so far is kept in {settings.data_dir}/.", flush=True)
