"""Every component id of the dashboard, defined once."""

from __future__ import annotations

from enum import StrEnum


class Ids(StrEnum):
    PAGE = "page"
    LANG = "lang"
    WORDS = "words"  # the banner's phrases in the page's language, for the browser
    LIVE = "live"  # the snapshot the page last received (a dcc.Store)
    FEED = "feed"  # when it was received, by the browser's clock
    TICK = "tick"  # the one-second live interval
    SLOW_TICK = "slow-tick"  # the night charts' interval
    CLOCK_TICK = "clock-tick"
    CLOCK = "clock"
    STALE_BANNER = "stale-banner"
    GMV = "gmv"
    GMV_EXACT = "gmv-exact"
    SCALES = "scales"  # how the headline is scaled (亿/万, B/M), for the browser
    ORDERS = "orders"
    OPS_NOW = "ops-now"
    PEAK = "peak"
    PEAK_AT = "peak-at"
    DEVICE_SHARES = "device-shares"
    OPS_CHART = "ops-chart"
    OPS_DRAWN = "ops-drawn"  # the last second already drawn on the ops chart
    NIGHT_CHART = "night-chart"
    DEVICE_TREND = "device-trend"
    CATEGORIES = "categories"
    REGIONS = "regions"
    MILESTONES = "milestones"
    OUTLOOK = "outlook"
    OPS_OUTLOOK = "ops-outlook"
    LAG = "lag"
    INGEST_RATE = "ingest-rate"
    CAPACITY = "capacity"
    LOAD = "load"
    REJECTED = "rejected"
    DUPLICATES = "duplicates"
    HEARTBEAT = "heartbeat"
    WORKER = "worker"
    ALERTS = "alerts"
    ACK_NOTE = "ack-note"
    ACK_BUTTON = "ack"  # the type of the pattern-matching id {"type": "ack", "key": alert key}
    MERCHANTS = "merchants"
    DRILL_DIMENSION = "drill-dimension"
    DRILL_VALUE = "drill-value"
    DRILL_CHART = "drill-chart"
    DRILL_TITLE = "drill-title"
    LANG_SWITCH = "lang-switch"
    MORE = "more"  # on a phone: the big screen's other charts
    WHO = "who"  # who is signed in
    SIGN_OUT = "sign-out"
    AUDIT = "audit"  # the audit log on /ops, for admins
    REVIEW_OVERVIEW = "review-overview"
    REVIEW_START = "review-start"
    REVIEW_END = "review-end"
    REVIEW_RESOLUTION = "review-resolution"
    REVIEW_DIMENSION = "review-dimension"
    REVIEW_COMPARE = "review-compare"
    REVIEW_CHART = "review-chart"
    REVIEW_TOTALS = "review-totals"
    REVIEW_ERROR = "review-error"
    REVIEW_ALERTS = "review-alerts"
    REVIEW_CONTRIBUTORS = "review-contributors"
    REVIEW_CONTRIBUTOR = "review-contributor"  # a row of the contributors table (pattern id)
    REVIEW_CONTRIBUTOR_CHART = "review-contributor-chart"
    REVIEW_CONTRIBUTOR_TITLE = "review-contributor-title"
    REVIEW_DIMENSION_TABS = "review-dimension-tabs"
    REVIEW_DIMENSION_TABLE = "review-dimension-table"
    REVIEW_REPORT = "review-report"  # the range's report, for the tables and the click
    EXPORT_REPORT = "export-report"
    EXPORT_ORDERS = "export-orders"
    EXPORT_NOTE = "export-note"
    REPLAY_DATA = "replay-data"
    EXPORT_CSV = "export-csv"
    EXPORT_PARQUET = "export-parquet"
    DOWNLOAD = "download"
    REPLAY_PLAY = "replay-play"
    REPLAY_SPEED = "replay-speed"
    REPLAY_TICK = "replay-tick"
    REPLAY_STATE = "replay-state"
    REPLAY_CHART = "replay-chart"
    REPLAY_GMV = "replay-gmv"
