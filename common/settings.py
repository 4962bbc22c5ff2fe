"""Every setting of the war room, declared once as data and read from the environment in one place."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("redis_url", "REDIS_URL", None,
            "Redis to use, e.g. redis://:password@host:6379/0, or redis+cluster://host:6379 (any "
            "node of a Redis Cluster); unset: an embedded redis-server that the command starts "
            "under the data dir and stops on exit"),
    Setting("data_dir", "GMV_DATA_DIR", "./data",
            "where the store, history files, labels and the embedded Redis live"),
    Setting("orders_stream", "GMV_ORDERS_STREAM", "gmv:orders",
            "Redis stream of order events; its dead letters go to '<name>:dead'"),
    Setting("partitions", "GMV_PARTITIONS", 1,
            "P: the order stream as P keys '<orders stream>:{p}' (orders routed by crc32 of "
            "order_id), each with its own worker store under '<data dir>/partitions/<p>'; 1: the "
            "one stream '<orders stream>'"),
    Setting("inventory_stream", "GMV_INVENTORY_STREAM", "gmv:inventory",
            "Redis stream of declared stock per item"),
    Setting("festival_date", "GMV_FESTIVAL_DATE", "2026-11-11",
            "the festival day (Beijing time) that the simulator generates"),
    Setting("publish_batch_size", "GMV_PUBLISH_BATCH_SIZE", 2000,
            "payloads per Redis round trip when publishing (simulate, replay)"),
    Setting("ingest_batch_size", "GMV_INGEST_BATCH_SIZE", 20_000,
            "most stream entries the worker reads and decodes as one batch (one XREAD)"),
    Setting("checkpoint_interval_ms", "GMV_CHECKPOINT_INTERVAL_MS", 300,
            "the worker commits what it has read this often (a trickle of under 2,000 events: "
            "twice as long), and when the stream goes quiet: the freshness of every screen"),
    Setting("checkpoint_events", "GMV_CHECKPOINT_EVENTS", 100_000,
            "...or once this many events are read, whichever comes first"),
    Setting("dedupe_orders", "GMV_DEDUPE_ORDERS", 4_000_000,
            "orders the worker expects to remember (within the horizon): sizes the dedupe "
            "table's generations (mapped files under '<data dir>/dedupe', each for half of "
            "these, ~10 bytes an order once filled); more orders open a new generation, no "
            "pause"),
    Setting("dedupe_horizon_h", "GMV_DEDUPE_HORIZON_H", 48,
            "how long an order id is remembered, in hours of event time: a re-send within it is "
            "a duplicate"),
    Setting("future_ts_margin_ms", "GMV_FUTURE_TS_MARGIN_MS", 300_000,
            "an order stamped further ahead of its arrival (its stream entry's time) is rejected "
            "as future_ts"),
    Setting("snapshot_interval_ms", "GMV_SNAPSHOT_INTERVAL_MS", 250,
            "the worker publishes the live snapshot after every commit and at least this often"),
    Setting("trim_stream", "GMV_TRIM_STREAM", True,
            "the worker trims the order stream below its committed position"),
    Setting("embedded_redis_aof", "GMV_EMBEDDED_REDIS_AOF", True,
            "the embedded redis-server keeps an append-only file (everysec), so a restart loses "
            "at most a second; off publishes ~30 % faster (BENCHMARKS.md)"),
    Setting("web_host", "GMV_WEB_HOST", "127.0.0.1",
            "address `gmv serve` listens on; 0.0.0.0 to serve the war room's screens"),
    Setting("web_port", "GMV_WEB_PORT", 8050, "port of the dashboard"),
    Setting("web_workers", "GMV_WEB_WORKERS", 4,
            "gunicorn worker processes of `gmv serve` (they share nothing but Redis and files); "
            "about two per core: screens' connections then spread evenly (BENCHMARKS.md)"),
    Setting("web_threads", "GMV_WEB_THREADS", 4, "threads per gunicorn worker"),
    Setting("web_push", "GMV_WEB_PUSH", True,
            "the screens are pushed each snapshot as it is published (server-sent events, "
            "uvicorn's gunicorn workers); off: gunicorn's gthread workers, and the pages poll"),
    Setting("session_secret", "GMV_SESSION_SECRET", "",
            "key that signs the dashboard's session cookies (every `gmv serve` of a war room "
            "needs the same); empty: one made once and kept in '<data dir>/session-secret'"),
    Setting("trusted_user_header", "GMV_TRUSTED_USER_HEADER", "",
            "single sign-on: the request header in which a reverse proxy names the signed-in "
            "user (e.g. X-Forwarded-User; the user must exist, with its role); only behind a "
            "proxy that sets it on every request and strips it from clients; empty: off"),
    Setting("cookie_secure", "GMV_COOKIE_SECURE", False,
            "session cookies only over HTTPS (set it when a TLS proxy fronts the dashboard)"),
    Setting("allowed_hosts", "GMV_ALLOWED_HOSTS", "",
            "host names the dashboard answers besides localhost, 127.0.0.1 and [::1], comma-"
            "separated (the name in the screens' URLs, e.g. warroom.example.com; any port); any "
            "other Host is a 400 (DNS rebinding); ignored while no users are configured: then "
            "only the loopback names are answered"),
    Setting("trusted_proxies", "GMV_TRUSTED_PROXIES", "",
            "addresses or networks of the reverse proxies in front of the dashboard, comma-"
            "separated (e.g. 127.0.0.1,10.0.0.0/24): only a request whose connection comes from "
            "one of them is taken to be from the rightmost X-Forwarded-For address that is not "
            "one of them (sign-in limits, the audit's source); empty: the connection's address, "
            "whatever the headers say"),
    Setting("export_rate_per_min", "GMV_EXPORT_RATE_PER_MIN", 12,
            "exports (files of /review) one person may ask for per minute"),
    Setting("summary_rate_per_min", "GMV_SUMMARY_RATE_PER_MIN", 120,
            "requests of /api/summary one person (or address, without users) may make per minute"),
    Setting("sign_in_rate_per_min", "GMV_SIGN_IN_RATE_PER_MIN", 10,
            "failed sign-ins a minute at one name from one address, or from one browser that "
            "signed in as that name before, before it is refused for the rest of the minute"),
    Setting("sign_in_address_rate_per_min", "GMV_SIGN_IN_ADDRESS_RATE_PER_MIN", 30,
            "failed sign-ins a minute from one address whatever the names (password spraying) "
            "before it is refused for the rest of the minute; browsers that signed in as the "
            "name before are not counted"),
    Setting("sign_in_name_rate_per_min", "GMV_SIGN_IN_NAME_RATE_PER_MIN", 30,
            "failed sign-ins a minute at one name from every browser that never signed in as it "
            "before they are refused for the rest of the minute; above GMV_SIGN_IN_RATE_PER_MIN, "
            "so that one address cannot reach it; a browser that signed in as it before is never "
            "refused by it"),
    Setting("last_year_data_dir", "GMV_LAST_YEAR_DATA_DIR", "",
            "data dir of a previous year's night (its history files), drawn beside tonight's "
            "curve at the same minute (and the volume alerts' seasonal expectation); empty: "
            "DATA/last-year where `gmv demo` keeps one, for the pages and gmv report/forecast"),
    Setting("past_nights", "GMV_PAST_NIGHTS", "",
            "recorded past festival nights (orders or per-minute GMV) the forecast leans on "
            "besides last year's data dir: files separated by the OS path separator (':'; ';' on "
            "Windows), each a night's orders (JSON Lines or Parquet) or its GMV per minute (JSON "
            "Lines, CSV or Parquet) (docs/operating.md, \"Recorded past nights\"); empty: none"),
    Setting("forecast_prior", "GMV_FORECAST_PRIOR", "",
            "the festival day's final GMV as expected before it begins, in yuan (e.g. the "
            "pre-sale deposits' total scaled by past years' conversion, or the plan): the "
            "forecast leans on it while the night has said little, less and less as it says "
            "more; empty: none"),
    Setting("forecast_prior_spread_pct", "GMV_FORECAST_PRIOR_SPREAD_PCT", 15,
            "how far GMV_FORECAST_PRIOR may be off: its standard error, in percent"),
    Setting("guesses_close_at", "GMV_GUESSES_CLOSE_AT", "",
            "when the staff guessing game on the final GMV closes, ISO 8601 (Beijing unless an "
            "offset is given); judged by the night's clock (the newest order counted), or the "
            "wall clock before any; empty: 00:00 of the festival day"),
    Setting("alert_webhook_url", "GMV_ALERT_WEBHOOK_URL", "",
            "URL that every change of an alert's state is POSTed to as JSON (the team's chat "
            "tool); empty: none"),
    Setting("alert_webhook_timeout_ms", "GMV_ALERT_WEBHOOK_TIMEOUT_MS", 2000,
            "how long one webhook POST may take"),
    Setting("alert_webhook_retries", "GMV_ALERT_WEBHOOK_RETRIES", 3,
            "retries of a failed webhook POST, with backoff, before it is given up (and logged)"),
    Setting("fault_at", "GMV_FAULT_AT", "",
            "for the fault tests only: '<step>:<n>' makes the worker kill itself (or lose Redis, "
            "at a redis_away step) the n-th time it reaches that step of its exactly-once path "
            "(ingest/faults.py); empty: never"),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    redis_url: str | None
    data_dir: Path
    orders_stream: str
    partitions: int
    inventory_stream: str
    festival_date: str
    publish_batch_size: int
    ingest_batch_size: int
    checkpoint_interval_ms: int
    checkpoint_events: int
    dedupe_orders: int
    dedupe_horizon_h: int
    future_ts_margin_ms: int
    snapshot_interval_ms: int
    trim_stream: bool
    embedded_redis_aof: bool
    web_host: str
    web_port: int
    web_workers: int
    web_threads: int
    web_push: bool
    session_secret: str
    trusted_user_header: str
    cookie_secure: bool
    allowed_hosts: str
    trusted_proxies: str
    export_rate_per_min: int
    summary_rate_per_min: int
    sign_in_rate_per_min: int
    sign_in_address_rate_per_min: int
    sign_in_name_rate_per_min: int
    last_year_data_dir: str
    past_nights: str
    forecast_prior: str
    forecast_prior_spread_pct: int
    guesses_close_at: str
    alert_webhook_url: str
    alert_webhook_timeout_ms: int
    alert_webhook_retries: int
    fault_at: str

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        """GMV_TRUSTED_PROXIES as networks (an address is a network of one)."""
        return parse_trusted_proxies(self.trusted_proxies)

    @property
    def dead_letter_stream(self) -> str:
        return f"{self.orders_stream}:dead"

    @property
    def snapshot_key(self) -> str:
        """The Redis key of the live snapshot that the dashboard reads."""
        return f"{self.orders_stream}:live"

    @property
    def snapshot_channel(self) -> str:
        """The Redis channel each new snapshot is also published on (its bytes): what the
        dashboard's push reads, once per process and publication."""
        return f"{self.snapshot_key}:published"

    @property
    def alerts_key(self) -> str:
        """The Redis key of the alert feed (newest first) that the operations view reads."""
        return f"{self.orders_stream}:alerts"

    @property
    def acks_key(self) -> str:
        """The Redis hash of acknowledged alerts (alert key -> epoch ms), written by /ops."""
        return f"{self.orders_stream}:alerts:acks"

    @property
    def pipeline_alerts_key(self) -> str:
        """The Redis key of the watchdog's alerts (lag, missing heartbeat), newest first."""
        return f"{self.orders_stream}:alerts:pipeline"

    @property
    def night_key(self) -> str:
        """The Redis key of the night per minute, for the dashboard's night charts."""
        return f"{self.orders_stream}:night"

    def rate_key(self, action: str, who: str, minute: int) -> str:
        """The Redis counter of `who`'s `action`s in one minute (the dashboard's rate limits)."""
        return f"{self.orders_stream}:rate:{action}:{minute}:{who}"

    def sign_in_key(self, counter: str, who: str) -> str:
        """A Redis counter of failed sign-ins (dashboard/throttle.py); the hash tag keeps them all
        on one node of a cluster, so that one script counts an attempt in several at once."""
        return f"{self.orders_stream}:rate:{{sign-in}}:{counter}:{who}"

    def partition_stream(self, partition: int) -> str:
        """`gmv:orders` for one partition; `gmv:orders:{p}` (a Redis Cluster hash tag) for several."""
        return self.orders_stream if self.partitions == 1 else \
            f"{self.orders_stream}:{{{partition}}}"

    def for_partition(self, partition: int) -> Settings:
        """What one partition's worker sees: its stream (and so its dead letters and snapshot
        keys) and its data dir (the data dir itself for one partition)."""
        if self.partitions == 1:
            return self
        return self.replace(orders_stream=self.partition_stream(partition),
                            data_dir=self.data_dir / "partitions" / str(partition), partitions=1)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def as_env(self) -> dict[str, str]:
        """These settings as the environment of a child process (`gmv ingest`, `gmv serve`)."""
        env = {}
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            if value is not None:
                env[setting.env] = ("yes" if value else "no") if isinstance(value, bool) \
                    else str(value)
        return env


_PLAIN_YUAN = re.compile(r"[0-9]{1,16}(\.[0-9]{1,2})?")


def yuan_total_cents(value: str, name: str = "GMV_FORECAST_PRIOR") -> int | None:
    """A total in yuan ('12345678901.50', at most two decimals, > 0) as integer cents; '' is
    None; a ValueError says what is wrong in one line."""
    if not value.strip():
        return None
    # ASCII digits only, as the contract's amounts: Decimal alone would take '1_000', '1e3'
    # and full-width digits.
    text = value.strip()
    amount = Decimal(text) if _PLAIN_YUAN.fullmatch(text) else Decimal("NaN")
    if not amount.is_finite() or not 0 < amount <= Decimal(10) ** 15:
        raise ValueError(f"{name}={value[:100]!r} is not an amount in yuan (e.g. 98000000000 "
                         "or 98000000000.00: above 0, at most two decimals)")
    return int(amount * 100)


def parse_trusted_proxies(value: str) -> tuple[IPNetwork, ...]:
    """`127.0.0.1, 10.0.0.0/24, ::1` as networks; a ValueError names an entry that is none."""
    networks = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"GMV_TRUSTED_PROXIES: {entry[:100]!r} is not an address or network "
                             "(comma-separated, e.g. 127.0.0.1,10.0.0.0/24)") from None
    return tuple(networks)


_BOOLEANS = {"1": True, "yes": True, "true": True, "on": True,
             "0": False, "no": False, "false": False, "off": False}


def _coerce(setting: Setting, raw: str) -> Any:
    if isinstance(setting.default, bool):
        if raw.lower() not in _BOOLEANS:
            raise ValueError(f"{setting.env}={raw!r} is not one of yes/no/1/0/true/false")
        return _BOOLEANS[raw.lower()]
    if isinstance(setting.default, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{setting.env}={raw!r} is not an integer") from None
    return raw


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then the environment, then explicit overrides (command-line flags) that are not None."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.env)
        values[setting.name] = setting.default if raw in (None, "") else _coerce(setting, raw)
    for name, value in overrides.items():
        if name not in _BY_NAME:
            raise KeyError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = value
    values["data_dir"] = Path(values["data_dir"])
    parse_trusted_proxies(values["trusted_proxies"])  # a bad entry is said when settings are read
    yuan_total_cents(values["forecast_prior"])
    if not 1 <= values["forecast_prior_spread_pct"] <= 200:
        raise ValueError(f"GMV_FORECAST_PRIOR_SPREAD_PCT={values['forecast_prior_spread_pct']} "
                         "is not a percent from 1 to 200")
    return Settings(**values)
