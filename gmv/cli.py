"""The `gmv` command: one entry point over the war room's parts (shared/contract.md names)."""

from __future__ import annotations

import argparse
import logging
import os
import select
import shlex
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import redis

from common.logs import log_line, setup_logging
from common.redis_server import (
    PUBLISHER_SOCKET_TIMEOUT_S,
    RedisUnavailable,
    connect,
    node_client,
    redis_url_for,
)
from common.settings import Settings, load_settings
from common.stopping import ServiceFailed, Stopped, enforce_deadline, stop_on_signals
from ingest.integrity import FileProblem, is_duckdb_error, problem_of
from rehearsal.incidents import every_kind, parse_duration_s, parse_incident, with_targets

if TYPE_CHECKING:
    from dashboard.data.report import Span

log = logging.getLogger("gmv")
ROLE_NAMES = ("viewer", "operator", "analyst", "admin")  # dashboard/roles.py (checked by a test)


class UsageError(Exception):
    """A bad argument or setting: one line for the person at the keyboard."""


def _stoppable(interrupt: bool = True) -> None:
    """A long-running command: SIGTERM and Ctrl-C stop it within STOP_WITHIN_S (common.stopping),
    whatever Redis is doing. `interrupt`: until its loop installs its own way of stopping, the
    main thread is interrupted where it stands (SIGTERM: exit 0; Ctrl-C: 130, as always)."""
    stop_on_signals(interrupt=interrupt)
    enforce_deadline()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive(kind: Callable[[str], float | int]) -> Callable[[str], float | int]:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
        return value
    parse.__name__ = kind.__name__
    return parse


def _non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def _duration(text: str) -> int:
    try:
        return parse_duration_s(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-11") from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis", metavar="URL",
                        help="Redis URL (default: env REDIS_URL, else an embedded redis-server)")
    parser.add_argument("--data", metavar="DIR", type=Path,
                        help="data dir (default: env GMV_DATA_DIR, else ./data)")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log the services' INFO lines too (a one-shot command such as "
                             "summary or report logs warnings and errors only without it)")


def _simulate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=_non_negative_int, default=1, help="same seed, same night")
    parser.add_argument("--peak-ops", type=_positive(int), default=4000,
                        help="orders per second at the midnight peak (default 4000)")
    parser.add_argument("--day", type=_day, help="festival day (default: GMV_FESTIVAL_DATE)")
    parser.add_argument("--start", type=_duration, default=-120,
                        help="first second, relative to midnight (default -2m)")
    parser.add_argument("--duration", type=_positive(_duration), default=600,
                        help="length of the night to simulate (default 10m; 24h: the whole day)")
    parser.add_argument("--incident", action="append", default=[], metavar="SPEC",
                        help="inject KIND[@START][/DURATION][:DIM=VALUE][*MAGNITUDE], "
                             "e.g. device_dark@3m/60s:device=pad (repeatable)")
    parser.add_argument("--incidents", choices=["all"],
                        help="'all': one incident of every kind, spread over the night")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=_positive(float), default=1.0,
                      help="time compression when publishing (default 1: real time)")
    pace.add_argument("--max", action="store_true", help="publish as fast as possible")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="write .jsonl, .jsonl.gz or .parquet instead of publishing")
    parser.add_argument("--labels", type=Path, metavar="FILE",
                        help="labels file when publishing (default: DATA/labels.json)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gmv", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=_Parser)
    simulate = commands.add_parser("simulate", help="a simulated festival night, published or "
                                                    "written to a file")
    _simulate_args(simulate)
    replay = commands.add_parser("replay", help="publish a recorded file")
    replay.add_argument("file", type=Path, metavar="FILE", help=".jsonl, .jsonl.gz or .parquet")
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=_positive(float), default=1.0,
                      help="keep relative timing, compressed X times (default 1)")
    pace.add_argument("--max", action="store_true", help="publish as fast as possible")
    replay.add_argument("--retime", action="store_true", help="shift event times to now")
    ingest = commands.add_parser("ingest", help="the ingest worker")
    ingest.add_argument("--until-idle", action="store_true",
                        help="exit once the stream is drained and committed")
    owner = ingest.add_mutually_exclusive_group()
    owner.add_argument("--partitions", metavar="LIST",
                       help="with GMV_PARTITIONS > 1: the partitions this worker owns, e.g. 0,2,4 "
                            "(default: all of them, and the combiner beside them)")
    owner.add_argument("--worker", metavar="I/N",
                       help="with GMV_PARTITIONS > 1: worker I of N, owning every N-th partition "
                            "from I")
    owner.add_argument("--workers", type=_positive(int), metavar="N",
                       help="with GMV_PARTITIONS > 1: start N worker processes (--worker i/N) "
                            "and the combiner, and stop them together")
    combine = commands.add_parser("combine", help="with GMV_PARTITIONS > 1: the war room over "
                                                  "every partition (snapshots, summary, alerts)")
    combine.add_argument("--until-idle", action="store_true",
                         help="exit once every partition is drained and combined")
    summary = commands.add_parser("summary", help="the night's totals, from the store")
    summary.add_argument("--json", action="store_true", help="print JSON (the contract's keys)")
    alerts = commands.add_parser("alerts", help="the alerts of the night, from the store")
    alerts.add_argument("--json", action="store_true", help="print JSON (the contract's keys)")
    report = commands.add_parser("report", help="what changed in a range against a baseline: "
                                                "contributors, incidents, milestones, peak")
    report.add_argument("--from", dest="start", metavar="ISO",
                        help="start, e.g. 2026-11-11T00:00 (Beijing unless an offset is given; "
                             "default: the night's first second)")
    report.add_argument("--to", dest="end", metavar="ISO",
                        help="end (excluded; default: just after the night's last committed "
                             "second). Neither given: the night so far")
    report.add_argument("--compare", choices=("previous", "last-year"), default="previous",
                        help="the baseline: the range just before (default) or last year's "
                             "same clock range (GMV_LAST_YEAR_DATA_DIR)")
    report.add_argument("--json", action="store_true", help="print JSON")
    report.add_argument("--html", type=Path, metavar="FILE", help="write a one-page report")
    forecast = commands.add_parser("forecast", help="the festival day's final GMV forecast (80 %% "
                                                    "interval), from the store")
    forecast.add_argument("--json", action="store_true", help="print JSON (the contract's keys)")
    forecast.add_argument("--at", metavar="ISO",
                          help="as it stood then: only the orders stamped before it (Beijing "
                               "unless an offset is given)")
    guesses = commands.add_parser("guesses", help="the staff guessing game: every guess and its "
                                                  "distance to the final (or the forecast)")
    guesses.add_argument("--json", action="store_true", help="print JSON")
    commands.add_parser("watchdog", help="alerts on the pipeline from outside the worker: a "
                                         "missing heartbeat, stream lag")
    commands.add_parser("redis-setup", help="load the war room's Redis functions (library gmv) "
                                            "into Redis: once, with an admin's URL, where the "
                                            "services run as docs/redis-acl.conf's users",
                        description="Needs a Redis user allowed FUNCTION LOAD: with "
                                    "docs/redis-acl.conf, the ops user's URL, e.g. --redis "
                                    "redis://ops:PASSWORD@host:6379/0 (the embedded Redis of "
                                    "the demo needs none: the dashboard loads it there).")
    serve = commands.add_parser("serve", help="the dashboard, under gunicorn")
    serve.add_argument("--host", help="address to listen on (default: GMV_WEB_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=_positive(int), help="port (default: GMV_WEB_PORT, 8050)")
    serve.add_argument("--workers", type=_positive(int),
                       help="gunicorn worker processes (default: GMV_WEB_WORKERS, 4)")
    serve.add_argument("--no-link", action="store_true",
                       help="without users: do not print the local link (gmv local-link does)")
    local = commands.add_parser("local-link", help="without users: the link that lets this "
                                                   "machine's browsers in (its local key)")
    local.add_argument("--url", metavar="BASE",
                       help="the dashboard's address (default: http://GMV_WEB_HOST:GMV_WEB_PORT)")
    local.add_argument("--new", action="store_true",
                       help="make a new local key: every browser let in so far is let out (a "
                            "running dashboard too) and must open the new link")
    user = commands.add_parser("user", help="the dashboard's users: add (or change), remove, list")
    user_commands = user.add_subparsers(dest="action", required=True, parser_class=_Parser)
    user_add = user_commands.add_parser("add", help="add a user, or change one's role and password "
                                                    "(the password is asked for, or read from stdin; "
                                                    "a change ends that user's sessions)")
    user_add.add_argument("name")
    user_add.add_argument("--role", required=True, choices=ROLE_NAMES)
    user_remove = user_commands.add_parser("remove", help="remove a user (their sessions end)")
    user_remove.add_argument("name")
    user_list = user_commands.add_parser("list", help="the users and their roles")
    user_list.add_argument("--json", action="store_true", help="print JSON")
    for sub in user_commands.choices.values():
        _common(sub)
    kiosk = commands.add_parser("kiosk-link", help="a read-only link to the big screen for a wall "
                                                   "(a long random token; revocable)")
    kiosk.add_argument("--label", default="wall", help="what the link is for (default: wall)")
    kiosk.add_argument("--url", metavar="BASE",
                       help="the dashboard's address as the wall reaches it (default: "
                            "http://GMV_WEB_HOST:GMV_WEB_PORT)")
    kiosk.add_argument("--revoke", metavar="ID", help="end the link with this id")
    kiosk.add_argument("--list", action="store_true", help="the links made, live and revoked")
    audit = commands.add_parser("audit", help="who acknowledged, exported, signed in, changed users")
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.add_argument("--limit", type=_positive(int), help="the newest N entries only")
    demo = commands.add_parser("demo", help="the whole war room on embedded defaults")
    demo.add_argument("--seed", type=_non_negative_int, default=1)
    demo.add_argument("--peak-ops", type=_positive(int), default=4000)
    demo.add_argument("--speed", type=_positive(float), default=1.0)
    demo.add_argument("--incident", action="append", default=[], metavar="SPEC",
                      help="inject this incident instead of one of every kind, e.g. "
                           "device_dark@2m/60s:device=pad (repeatable)")
    for name, sub in commands.choices.items():
        if name != "user":  # its own subcommands take them
            _common(sub)
    return parser


def incidents_from(args: argparse.Namespace) -> tuple:
    incidents = [parse_incident(spec) for spec in args.incident]
    if args.incidents == "all":
        incidents += every_kind(args.start, args.duration, args.seed)
    return tuple(with_targets(incidents, args.seed))


def _run_simulate(args: argparse.Namespace, settings: Settings) -> None:
    from rehearsal.run import simulate_to_file, simulate_to_stream
    from rehearsal.simulate import NightPlan

    try:
        incidents = incidents_from(args)
    except ValueError as err:
        raise UsageError(str(err)) from None
    day = args.day or _day(settings.festival_date)
    plan = NightPlan(seed=args.seed, peak_ops=args.peak_ops, festival_day=day,
                     start_s=args.start, duration_s=args.duration, incidents=incidents)
    command = args.command_line
    _stoppable()
    if args.out:
        simulate_to_file(plan, args.out, command)
        return
    with redis_url_for(settings) as url:
        simulate_to_stream(plan, connect(url, socket_timeout=PUBLISHER_SOCKET_TIMEOUT_S),
                           settings, None if args.max else args.speed,
                           args.labels or settings.data_dir / "labels.json", command)


def _run_replay(args: argparse.Namespace, settings: Settings) -> None:
    from rehearsal.replay import replay

    if not args.file.is_file():
        raise UsageError(f"no such file: {args.file}")
    _stoppable()
    with redis_url_for(settings) as url:
        try:
            replay(args.file, connect(url, socket_timeout=PUBLISHER_SOCKET_TIMEOUT_S), settings,
                   None if args.max else args.speed, args.retime)
        except EOFError:  # what was read before is published; its lines say how far it got
            raise FileProblem(args.file, "ends before its end (a copy cut short?)",
                              "replay a whole copy of the recording") from None


def _run_ingest(args: argparse.Namespace, settings: Settings) -> None:
    from ingest.combine import Combiner
    from ingest.partitions import parse_owned
    from ingest.worker import run_partitions

    chosen = args.partitions or args.worker
    if (chosen or args.workers) and settings.partitions == 1:
        raise UsageError("--partitions, --worker and --workers need GMV_PARTITIONS > 1")
    try:
        owned = parse_owned(chosen, settings.partitions) if chosen else \
            list(range(settings.partitions))
    except ValueError as err:
        raise UsageError(str(err)) from None
    _stoppable()  # the workers (and the supervisor of --workers) then stop between two batches
    if args.workers:
        from gmv.workers import run_worker_processes

        with redis_url_for(settings) as url:  # one Redis for them all (embedded: this one's)
            run_worker_processes(settings.replace(redis_url=url), args.workers,
                                 args.until_idle, args.quiet)
        return
    with redis_url_for(settings) as url:
        client = connect(url)
        run_partitions(lambda p: node_client(client, settings.partition_stream(p)), settings,
                       owned, args.until_idle,
                       None if chosen else lambda: Combiner(client, settings))


def _run_combine(args: argparse.Namespace, settings: Settings) -> None:
    from ingest.combine import run_combiner

    if settings.partitions == 1:
        raise UsageError("gmv combine needs GMV_PARTITIONS > 1 (one worker is its own war room)")
    _stoppable()  # it then stops between two looks
    with redis_url_for(settings) as url:
        run_combiner(connect(url), settings, args.until_idle)


def _run_summary(args: argparse.Namespace, settings: Settings) -> None:
    import json

    from ingest.history import read_summary

    totals = read_summary(settings.data_dir)
    if args.json:
        print(json.dumps(totals, ensure_ascii=False))
    else:
        from gmv.readable import summary_lines

        print("\n".join(summary_lines(totals)))


def _run_alerts(args: argparse.Namespace, settings: Settings) -> None:
    import json

    from ingest.detect.keeper import read_alerts

    alerts = read_alerts(settings.data_dir)
    if args.json:
        print(json.dumps(alerts, ensure_ascii=False))
        return
    from common.text import for_a_line
    from ingest.detect.incidents import by_incident

    for cause, *evidence in by_incident(alerts):  # what one cause set off, beneath it
        for alert in (cause, *evidence):
            also = "  also: " if alert is not cause else ""
            print(f"{alert['start']}  {alert['severity']:<8} {alert['state']:<8} {also}"
                  f"{alert['kind']:<14} {for_a_line(alert['dimension'] or '-'):<20} "
                  f"{for_a_line(alert['message'])}")


def _run_report(args: argparse.Namespace, settings: Settings) -> None:
    import json

    from dashboard.data.report import build_report, nights
    from dashboard.report_text import report_html, report_lines
    from ingest.detect.keeper import read_alerts

    try:
        span = _report_span(args.start, args.end, settings.data_dir)
    except ValueError as err:
        raise UsageError(str(err)) from None
    tonight, last_year = nights(settings)
    report = build_report(span, args.compare, tonight, last_year, read_alerts(settings.data_dir))
    if args.html:
        args.html.write_text(report_html(report), encoding="utf-8")
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    elif not args.html:
        print("\n".join(report_lines(report)))


def _report_span(start: str | None, end: str | None, data_dir: Path) -> Span:
    """The range asked for; an end not given is the night's (the night so far: from its first
    second to just after its last committed one). A lone end beyond the night keeps a second of
    range, which the report then says holds no orders."""
    from dashboard.data.report import asked_span, night_so_far, parse_instant

    if start is not None and end is not None:
        return asked_span(parse_instant(start), parse_instant(end))
    night = night_so_far(data_dir)
    if start is not None:
        start_ms = parse_instant(start)
        return asked_span(start_ms, max(night.end_ms, start_ms + 1000))
    if end is not None:
        end_ms = parse_instant(end)
        return asked_span(min(night.start_ms, end_ms - 1000), end_ms)
    return asked_span(night.start_ms, night.end_ms)


def _forecast_now(settings: Settings, at: str | None = None) -> tuple[dict[str, Any], int | None]:
    from dashboard.data.report import parse_instant
    from ingest.live_forecast import stored_forecast
    from ingest.past_nights import PastNightUnreadable

    try:
        until = parse_instant(at) if at else None
    except ValueError as err:
        raise UsageError(str(err)) from None
    try:
        return stored_forecast(settings, until)
    except PastNightUnreadable as err:
        raise UsageError(f"GMV_PAST_NIGHTS: {err}") from None


def _closing(settings: Settings) -> int:
    """When the guessing game closes (GMV_GUESSES_CLOSE_AT), or a one-line usage error."""
    from dashboard.guesses import closing_ms

    try:
        return closing_ms(settings.guesses_close_at, settings.festival_date)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _run_forecast(args: argparse.Namespace, settings: Settings) -> None:
    import json

    document, _ = _forecast_now(settings, args.at)
    if args.json:
        print(json.dumps(document, ensure_ascii=False))
    else:
        from gmv.readable import forecast_line

        print(forecast_line(document))


def _run_guesses(args: argparse.Namespace, settings: Settings) -> None:
    import json

    from dashboard.guesses import GuessBoard, standings

    board = GuessBoard(settings.data_dir, _closing(settings))
    document, clock = _forecast_now(settings)
    table = standings(board.guesses(), board.closes_at_ms, document, clock)
    if args.json:
        print(json.dumps(table, ensure_ascii=False))
        return
    from common.text import for_a_line
    from gmv.readable import short_money, when

    state = "open" if table["open"] else "closed"
    print(f"{table['count']:,} guesses; {state} (closes {when(table['closes_at'])}); "
          f"against the {table['against'] or 'final (not known yet)'}"
          + (f" {short_money(table['target'])}" if table["target"] else ""))
    for row in table["guesses"]:
        distance = f"off by {short_money(row['distance'])}" if row["distance"] is not None else ""
        print(f"{row['rank'] or '-':>4}  {for_a_line(row['name']):<24} "
              f"{short_money(row['amount']):>16}  {distance}")


def _run_watchdog(args: argparse.Namespace, settings: Settings) -> None:
    from ingest.detect.watchdog import run_watchdog

    _stoppable(interrupt=False)  # its waits end; its alerts are kept, then it returns
    with redis_url_for(settings) as url:
        run_watchdog(connect(url), settings)


def _run_redis_setup(args: argparse.Namespace, settings: Settings) -> None:
    from common.redis_functions import LIBRARY, has_functions, load_functions

    with redis_url_for(settings) as url:
        client = connect(url)
        if not has_functions(client):
            print("this Redis has no functions (older than 7): nothing to load; the war room runs "
                  "the same Lua as scripts there, and docs/redis-acl.conf's users need Redis 7")
            return
        names = load_functions(client)
    print(f"loaded library {LIBRARY}: {' '.join(names)}")


def _run_serve(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.accounts import Accounts
    from dashboard.perimeter import is_loopback, parse_allowed_hosts
    from dashboard.serve import serve

    _closing(settings)  # a bad one: one line now, not a broken page later
    settings = settings.replace(**{k: v for k, v in (("web_host", args.host), ("web_port", args.port),
                                                     ("web_workers", args.workers)) if v})
    try:
        allowed = parse_allowed_hosts(settings.allowed_hosts)
    except ValueError as err:
        raise UsageError(str(err)) from None
    host = settings.web_host
    beyond_loopback = not (is_loopback(host) or host == "localhost")
    if beyond_loopback and not Accounts(settings.data_dir).has_users():
        raise UsageError(f"--host {host} without users would open the war room to anyone who "
                         f"reaches the port: add one first (gmv user add NAME --role admin), or "
                         f"serve on 127.0.0.1")
    if beyond_loopback and not allowed:
        log_line(log, logging.WARNING, "allowed_hosts_loopback_only", host=host,
                 hint="set GMV_ALLOWED_HOSTS to the name in the screens' URLs: any other Host "
                      "is answered with a 400")
    _say_if_port_taken(host, settings.web_port)
    if not args.no_link and not Accounts(settings.data_dir).has_users():
        from dashboard.local_key import local_key, local_link

        print(f"Open the war room on this machine: "
              f"{local_link(web_base_url(settings), local_key(settings.data_dir))}", flush=True)
    with redis_url_for(settings) as url:
        serve(settings.replace(redis_url=url))


def web_base_url(settings: Settings) -> str:
    host = settings.web_host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.web_port}"


def _say_if_port_taken(host: str, port: int) -> None:
    """A port in use is one line at once (gunicorn would retry for five seconds, then say less)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # gunicorn says what is wrong with the address
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(address)
        except OSError as err:
            raise UsageError(f"port {port} on {host} is not free ({err.strerror}): another "
                             f"dashboard or program holds it; choose another with --port") from None


def _run_local_link(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.accounts import Accounts
    from dashboard.local_key import local_link, new_local_key, read_local_key

    key = new_local_key(settings.data_dir) if args.new else read_local_key(settings.data_dir)
    if key is None:
        raise UsageError(f"no local key in {settings.data_dir}: `gmv serve` or `gmv demo` makes "
                         f"one at its first start")
    print(local_link(args.url or web_base_url(settings), key))
    if args.new:
        print("(a new local key: browsers let in before are let out; they open this link)",
              file=sys.stderr)
    if Accounts(settings.data_dir).has_users():
        print("(note: this war room has users: the local key lets no one in; sign in instead)",
              file=sys.stderr)


def _cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _read_password(name: str) -> str:
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ")
    return first


def _run_user(args: argparse.Namespace, settings: Settings) -> None:
    import json

    from dashboard.accounts import AccountError, Accounts

    accounts = Accounts(settings.data_dir)
    try:
        if args.action == "add":
            accounts.add_user(args.name, args.role, _read_password(args.name))
            accounts.record(_cli_actor(), "user_set", "cli", user=args.name, role=args.role)
            print(f"{args.name}: {args.role}")
        elif args.action == "remove":
            accounts.remove_user(args.name)
            accounts.record(_cli_actor(), "user_removed", "cli", user=args.name)
            print(f"{args.name}: removed")
        elif args.json:
            print(json.dumps(accounts.users(), ensure_ascii=False))
        else:
            for user in accounts.users():
                print(f"{user['name']:<24} {user['role']}")
    except AccountError as err:
        raise UsageError(str(err)) from None


def _run_kiosk_link(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.accounts import AccountError, Accounts

    accounts = Accounts(settings.data_dir)
    try:
        if args.revoke:
            accounts.revoke_kiosk_link(args.revoke)
            accounts.record(_cli_actor(), "kiosk_link_revoked", "cli", link=args.revoke)
            print(f"kiosk link {args.revoke}: revoked")
            return
    except AccountError as err:
        raise UsageError(str(err)) from None
    if args.list:
        from common.text import for_a_line

        for link in accounts.kiosk_links():
            state = "revoked" if link["revoked_ms"] else "live"
            print(f"{link['id']}  {state:<8} {for_a_line(link['label'])}")
        return
    base = (args.url or web_base_url(settings)).rstrip("/")
    _say_if_not_answered(base, settings)
    if not accounts.has_users():
        print("(note: no users yet: a kiosk link opens nothing until there are; a screen on this "
              "machine opens the local link, gmv local-link)", file=sys.stderr)
    link_id, token = accounts.add_kiosk_link(args.label)
    accounts.record(_cli_actor(), "kiosk_link_made", "cli", link=link_id, label=args.label)
    print(f"{base}/kiosk/{token}")
    print(f"(kiosk link {link_id}: the big screen only; end it with gmv kiosk-link --revoke "
          f"{link_id})", file=sys.stderr)


def _say_if_not_answered(url: str, settings: Settings) -> None:
    """A kiosk link whose host the dashboard will refuse (the Host allow-list) is said at once,
    not found out on the wall."""
    from urllib.parse import urlsplit

    from dashboard.perimeter import LOOPBACK_NAMES, host_name, parse_allowed_hosts

    try:
        allowed = LOOPBACK_NAMES | parse_allowed_hosts(settings.allowed_hosts)
    except ValueError as err:
        raise UsageError(str(err)) from None
    name = host_name(urlsplit(url).netloc.rpartition("@")[2])
    if name not in allowed:
        print(f"(note: {name or url} is not in GMV_ALLOWED_HOSTS: the dashboard answers this "
              f"link with a 400 until it is)", file=sys.stderr)


def _run_audit(args: argparse.Namespace, settings: Settings) -> None:
    import json

    from common.text import for_a_column
    from dashboard.accounts import Accounts
    from ingest.contract import beijing_iso

    entries = Accounts(settings.data_dir).audit(limit=args.limit)
    for entry in entries:
        entry["at"] = beijing_iso(entry["at_ms"])
    if args.json:
        print(json.dumps(entries, ensure_ascii=False))
        return
    for entry in entries:  # who, what and where came from people and requests: one column each
        what = " ".join(f"{for_a_column(k)}={for_a_column(v)}" for k, v in entry["what"].items())
        print(f"{entry['at']}  {for_a_column(entry['who']):<16} "
              f"{for_a_column(entry['action']):<18} {what}  ({for_a_column(entry['source'])})")


def _run_demo(args: argparse.Namespace, settings: Settings) -> None:
    from gmv.demo import run_demo

    try:
        incidents = tuple(with_targets([parse_incident(spec) for spec in args.incident],
                                       args.seed))
    except ValueError as err:
        raise UsageError(str(err)) from None
    _stoppable()  # a process manager's stop ends the demo's services too, all at once
    run_demo(settings, seed=args.seed, peak_ops=args.peak_ops, speed=args.speed,
             incidents=incidents)  # Ctrl-C: it stops everything and says so, no error


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], None]] = {
    "simulate": _run_simulate, "replay": _run_replay, "ingest": _run_ingest,
    "combine": _run_combine,
    "summary": _run_summary, "alerts": _run_alerts, "report": _run_report,
    "forecast": _run_forecast, "guesses": _run_guesses,
    "watchdog": _run_watchdog, "redis-setup": _run_redis_setup,
    "serve": _run_serve, "demo": _run_demo,
    "user": _run_user, "kiosk-link": _run_kiosk_link, "audit": _run_audit,
    "local-link": _run_local_link,
}


# Commands that answer and end: what they print is the answer, the services' INFO lines
# (rollups built, files checked) are noise before it unless asked for with -v.
ONE_SHOT = {"summary", "alerts", "report", "forecast", "guesses", "redis-setup", "local-link",
            "user", "kiosk-link", "audit"}


def log_level(args: argparse.Namespace) -> int:
    if args.quiet:
        return logging.WARNING
    if args.verbose or args.command not in ONE_SHOT:
        return logging.INFO
    return logging.WARNING


def _negative_values_attached(argv: Sequence[str]) -> list[str]:
    """`--start -5m` -> `--start=-5m`: argparse would take `-5m` for an option."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] in NEGATIVE_VALUE_OPTIONS and arg.startswith("-"):
            joined[-1] = f"{joined[-1]}={arg}"
        else:
            joined.append(arg)
    return joined


NEGATIVE_VALUE_OPTIONS = {"--start"}


def main(argv: Sequence[str] | None = None) -> int:
    # Everything a command writes under the data dir (the accounts and their WAL, the store,
    # the history, Redis' AOF) is its owner's alone: password hashes sat in a 0644 WAL.
    os.umask(0o077)
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_negative_values_attached(argv))
    args.command_line = "gmv " + shlex.join(a for a in argv if a not in ("-q", "--quiet"))
    setup_logging(log_level(args))
    prog = f"gmv {args.command}"
    try:
        try:
            settings = load_settings(redis_url=args.redis, data_dir=args.data)
        except ValueError as err:
            raise UsageError(str(err)) from None
        COMMANDS[args.command](args, settings)
        sys.stdout.flush()  # a reader gone is found out here, not in the interpreter's exit
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Stopped as why:
        print(f"{prog}: stopped ({why})", file=sys.stderr)
        return 0
    except UsageError as err:
        print(f"{prog}: error: {err} (see {prog} --help)", file=sys.stderr)
        return 2
    except Exception as err:
        if isinstance(err, BrokenPipeError) and _reader_gone():  # not a socket's
            return _quiet_without_reader()
        if not isinstance(err, FOR_PEOPLE) and not is_duckdb_error(err):
            raise  # a bug: its traceback
        print(f"{prog}: {one_line(err)}", file=sys.stderr)
        return 1
    return 0


def _reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (a broken pipe may be a socket's)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def _quiet_without_reader() -> int:
    """`gmv audit | head -1`: the reader has what it wanted. Quiet, as a command killed by SIGPIPE
    would be, with its status (128 + 13); what is left in stdout's buffer goes nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


FOR_PEOPLE = (FileProblem, ValueError, OSError, RedisUnavailable, redis.RedisError, ServiceFailed)


def one_line(err: BaseException) -> str:
    """An error for the person at the keyboard: a file's problem names the file and what to do
    (ingest/integrity.py); anything else, its first line."""
    problem = problem_of(err)
    if problem is not None:
        return str(problem)
    lines = str(err).strip().splitlines() or [type(err).__name__]
    return f"error: {lines[0]}"


if __name__ == "__main__":
    sys.exit(main())
