"""An alert as a person reads it, in the page's language: a headline naming the cause in an
operator's words ("支付宝支付通道异常", "福建地区订单中断"), where it is, and what it measured, all
drawn from the alert's fields (kind, dimension, expected, actual). The stored message and the
alert's JSON stay as the detectors wrote them, for machines (`gmv alerts --json`, webhooks)."""

from __future__ import annotations

import re
from typing import Any

from dashboard.format import text, value_name
from ingest.detect.seasonal import DARK

_DARK_KINDS = {"device_dark": "device", "region_dark": "region", "payment_dark": "payment"}

HEADLINES: dict[str, dict[str, str]] = {
    "zh": {
        "orders_drop": "全站订单骤降", "gmv_drop": "全站成交额骤降",
        "device_dark": "{value}端订单中断", "device_dark_share": "{value}端订单下滑",
        "region_dark": "{value}地区订单中断", "region_dark_share": "{value}地区订单下滑",
        "payment_dark": "{value}支付通道异常", "payment_dark_share": "{value}支付通道异常",
        "price_glitch": "{value}品类价格异常", "oversell": "商品 {value} 超卖",
        "stream_lag": "采集处理延迟", "heartbeat_missing": "采集心跳丢失",
        "stream_gap": "数据流缺口",
    },
    "en": {
        "orders_drop": "Orders dropping site-wide", "gmv_drop": "GMV dropping site-wide",
        "device_dark": "Orders from {value} stopped", "device_dark_share": "Orders from {value} falling",
        "region_dark": "Orders from {value} stopped", "region_dark_share": "Orders from {value} falling",
        "payment_dark": "{value} payment path down", "payment_dark_share": "{value} payments falling",
        "price_glitch": "{value} prices abnormal", "oversell": "Oversell of item {value}",
        "stream_lag": "Pipeline lag", "heartbeat_missing": "Worker heartbeat lost",
        "stream_gap": "Stream gap",
    },
}

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "orders_drop": "每秒订单降至预期的 {ratio:.0%}（{actual:,.0f} 单/秒，预期 {expected:,.0f}）",
        "gmv_drop": "每秒成交额 ¥{actual:,.0f}，预期 ¥{expected:,.0f}（{ratio:.0%}），订单数正常",
        "dark": "订单降至平时的 {ratio:.0%}（近几秒 {actual:,.0f} 单，按平时占比应有 {expected:,.0f} 单）",
        "payment_dark": "成功支付降至平时的 {ratio:.0%}（近几秒 {actual:,.0f} 单，按平时占比应有 "
                        "{expected:,.0f} 单）",
        "price_glitch": "平均客单价 ¥{actual:,.2f}，平时 ¥{expected:,.2f}（{ratio:.1f} 倍）",
        "oversell": "已售 {actual:,.0f} 件，库存 {expected:,.0f} 件",
        "bot_burst": "{actual:.1%} 的订单来自少数买家（平时 {expected:.1%}）",
        "rejected_rate": "被拒收的数据占 {actual:.1%}（平时 {expected:.1%}）",
        "duplicate_rate": "重复订单占 {actual:.1%}（平时 {expected:.1%}）",
        "late_arrivals": "迟到订单占 {actual:.1%}（平时 {expected:.1%}）",
        "stream_lag": "落后数据流 {actual:,.0f} 秒", "stream_lag_none": "尚未提交任何数据",
        "heartbeat_missing": "{actual:,.0f} 秒没有心跳",
        "stream_gap": "{actual:,.0f} 条未读即被删除，总数偏低",
        "basis_last_year": "，按去年曲线", "basis_recent": "，按最近 {seconds} 秒",
        "cause": "可能原因：{cause}",
        "shared_cause": "没有单独的终端、地区或支付方式异常：各路同时下降，请查共用环节（下单、支付）",
    },
    "en": {
        "orders_drop": "orders down to {ratio:.0%} of expected ({actual:,.0f}/s against "
                       "{expected:,.0f}/s)",
        "gmv_drop": "GMV ¥{actual:,.0f}/s against ¥{expected:,.0f}/s expected ({ratio:.0%}) "
                    "while orders hold",
        "dark": "orders down to {ratio:.0%} of usual ({actual:,.0f} in the last seconds against "
                "{expected:,.0f} at its usual share)",
        "payment_dark": "paid orders down to {ratio:.0%} of usual ({actual:,.0f} in the last "
                        "seconds against {expected:,.0f} at its usual share)",
        "price_glitch": "average order ¥{actual:,.2f} against its usual ¥{expected:,.2f} "
                        "({ratio:.1f}x)",
        "oversell": "{actual:,.0f} accepted against {expected:,.0f} in stock",
        "bot_burst": "{actual:.1%} of orders from a few buyers (usually {expected:.1%})",
        "rejected_rate": "{actual:.1%} of events rejected against {expected:.1%} usual",
        "duplicate_rate": "{actual:.1%} of events duplicates against {expected:.1%} usual",
        "late_arrivals": "{actual:.1%} of orders late against {expected:.1%} usual",
        "stream_lag": "{actual:,.0f} s behind the stream",
        "stream_lag_none": "nothing of the stream committed yet",
        "heartbeat_missing": "no heartbeat for {actual:,.0f} s",
        "stream_gap": "{actual:,.0f} entries removed unread: the totals are short",
        "basis_last_year": ", by last year's curve", "basis_recent": ", by the last {seconds} s",
        "cause": "likely cause: {cause}",
        "shared_cause": "no single channel, region or payment path stands out: all fell alike; "
                        "check the shared steps (checkout, payment)",
    },
}
_RECENT = re.compile(r"expected by the last (\d+) s")
_DROPS = ("orders_drop", "gmv_drop")
CAUSE_WITHIN_MS = 60_000  # a path or region gone dark this close to a drop's start explains it


def _lang(lang: str) -> str:
    return lang if lang in HEADLINES else "zh"


def _value(dimension: str | None) -> tuple[str, str]:
    """'region=FJ' -> ('region', 'FJ'); None -> ('', '')."""
    name, _, value = (dimension or "").partition("=")
    return (name, value) if value else ("", "")


def _is_dark(alert: dict[str, Any]) -> bool:
    expected, actual = alert.get("expected"), alert.get("actual")
    if not isinstance(expected, int | float) or not isinstance(actual, int | float):
        return True
    return actual <= DARK * expected


def where_text(dimension: str | None, lang: str) -> str:
    """'region=FJ' -> '地区：福建' / 'Region: Fujian'; the name of a value, never its code (a
    dimension of another shape is shown as it is)."""
    name, value = _value(dimension)
    if name not in _DIMENSION_LABELS:
        return dimension or ""
    shown = value_name(lang, value)
    label = text(lang, name) if _DIMENSION_LABELS[name] is None else \
        _OTHER_DIMENSIONS[_lang(lang)][name]
    return f"{label}：{shown}" if _lang(lang) == "zh" else f"{label}: {shown}"


def where_unsaid(alert: dict[str, Any], lang: str) -> str:
    """Where the alert is, unless its headline says it already ('商品 i42 超卖' needs no '商品：i42'
    beside it): each value once, by its name where one is known."""
    name, value = _value(alert.get("dimension"))
    if name in _DIMENSION_LABELS and value and value_name(lang, value) in alert_headline(alert,
                                                                                        lang):
        return ""
    return where_text(alert.get("dimension"), lang)


_DIMENSION_LABELS = {"device": None, "region": None, "payment": None, "category": None,
                     "item": "item", "partition": "partition", "stream": "stream"}
_OTHER_DIMENSIONS = {"zh": {"item": "商品", "partition": "分区", "stream": "数据流"},
                     "en": {"item": "Item", "partition": "Partition", "stream": "Stream"}}


def alert_headline(alert: dict[str, Any], lang: str) -> str:
    """What happened, and where: '支付宝支付通道异常', '福建地区订单中断', '全站订单骤降'."""
    lang = _lang(lang)
    kind = str(alert.get("kind") or "")
    _, value = _value(alert.get("dimension"))
    if kind in _DARK_KINDS and not _is_dark(alert):
        kind = f"{kind}_share"
    phrase = HEADLINES[lang].get(kind)
    if phrase is None or ("{value}" in phrase and not value):  # nowhere to name: the kind's name
        return value_name(lang, str(alert.get("kind") or ""))
    return phrase.format(value=value_name(lang, value) if value else "")


def alert_message(alert: dict[str, Any], lang: str,
                  among: list[dict[str, Any]] | None = None) -> str:
    """What the detector measured, in the page's language ('' when its figures are unknown); for
    a site-wide drop, the outage `among` the other alerts that explains it, if one does."""
    said = _measured(alert, lang)
    cause = likely_cause(alert, among or [])
    if cause is None and among is not None and alert.get("kind") == "orders_drop":
        # No value fell apart from the others (each is watched beside the rest): the drop is
        # in what every order passes through, which the stream does not show (a payment
        # outage's failed orders never reach it).
        because = MESSAGES[_lang(lang)]["shared_cause"]
    elif cause is None:
        return said
    else:
        because = MESSAGES[_lang(lang)]["cause"].format(cause=alert_headline(cause, lang))
    return f"{said} · {because}" if said else because


def likely_cause(drop: dict[str, Any], alerts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """For a site-wide drop: the channel, region or payment path that went dark while it lasted
    (beginning at most CAUSE_WITHIN_MS after it), the one that lost the most orders."""
    if drop.get("kind") not in _DROPS or not isinstance(drop.get("start_ms"), int):
        return None
    start, end = drop["start_ms"], drop.get("end_ms") or float("inf")

    def during(other: dict[str, Any]) -> bool:
        began = other.get("start_ms")
        return other.get("kind") in _DARK_KINDS and isinstance(began, int) \
            and began <= start + CAUSE_WITHIN_MS and began < end \
            and (other.get("end_ms") or float("inf")) > start and other.get("state") != "pending"

    def lost(other: dict[str, Any]) -> float:
        expected, actual = other.get("expected"), other.get("actual")
        if isinstance(expected, int | float) and isinstance(actual, int | float):
            return float(expected - actual)
        return 0.0

    return max(filter(during, alerts), key=lost, default=None)


def _measured(alert: dict[str, Any], lang: str) -> str:
    lang = _lang(lang)
    kind = str(alert.get("kind") or "")
    expected, actual = alert.get("expected"), alert.get("actual")
    phrases = MESSAGES[lang]
    if kind == "stream_lag" and actual is None:
        return phrases["stream_lag_none"]
    key = kind if kind in phrases else "dark" if kind in _DARK_KINDS else kind
    if key not in phrases or not isinstance(actual, int | float):
        return ""
    if not isinstance(expected, int | float):
        expected = 0.0
    ratio = actual / expected if expected else 0.0
    said = phrases[key].format(actual=actual, expected=expected, ratio=ratio)
    return said + (_basis(str(alert.get("message") or ""), lang) if kind == "orders_drop" else "")


def _basis(message: str, lang: str) -> str:
    """What the orders' expectation was based on (the detector says it only in its message)."""
    if "last year's curve" in message:
        return MESSAGES[lang]["basis_last_year"]
    recent = _RECENT.search(message)
    return MESSAGES[lang]["basis_recent"].format(seconds=recent.group(1)) if recent else ""


def alert_of_key(key: str, alerts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The alert an acknowledgement's key names ('region_dark|region=FJ|1794327053000'): the one
    in `alerts` with that key, else what the key itself says."""
    for alert in alerts or []:
        if alert.get("key") == key:
            return alert
    kind, _, rest = key.partition("|")
    dimension, _, start = rest.rpartition("|")
    return {"kind": kind, "dimension": dimension or None,
            "start_ms": int(start) if start.isdigit() else None}
