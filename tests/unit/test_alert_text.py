"""An alert as people read it: its cause in an operator's words, where by name, its figures, in
the page's language, from the alert's fields alone."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.alert_text import alert_headline, alert_message, alert_of_key, where_text

MIDNIGHT_MS = 1_794_326_400_000


def alert(kind: str, dimension: str | None = None, expected: float | None = 100.0,
          actual: float | None = 0.0, start_s: int = 0, **more: Any) -> dict[str, Any]:
    return {"kind": kind, "dimension": dimension, "expected": expected, "actual": actual,
            "start_ms": MIDNIGHT_MS + start_s * 1000, "end_ms": None, "state": "firing",
            "message": "whatever the detector wrote", **more}


@pytest.mark.parametrize(("kind", "dimension", "actual", "zh", "en"), [
    ("payment_dark", "payment=alipay", 0, "支付宝支付通道异常", "Alipay payment path down"),
    ("region_dark", "region=FJ", 0, "福建地区订单中断", "Orders from Fujian stopped"),
    ("region_dark", "region=HB", 40, "湖北地区订单下滑", "Orders from Hubei falling"),
    ("device_dark", "device=mobile", 0, "手机端订单中断", "Orders from Mobile stopped"),
    ("orders_drop", None, 40, "全站订单骤降", "Orders dropping site-wide"),
    ("oversell", "item=i42", 120, "商品 i42 超卖", "Oversell of item i42"),
    ("bot_burst", None, 0.3, "疑似刷单", "Bot burst"),
])
def test_a_headline_names_the_cause_and_the_place(kind: str, dimension: str | None,
                                                  actual: float, zh: str, en: str) -> None:
    assert alert_headline(alert(kind, dimension, actual=actual), "zh") == zh
    assert alert_headline(alert(kind, dimension, actual=actual), "en") == en


def test_where_and_what_are_said_without_codes() -> None:
    dark = alert("region_dark", "region=FJ", expected=64.0, actual=0)
    assert where_text("region=FJ", "zh") == "地区：福建"
    assert where_text("region=FJ", "en") == "Region: Fujian"
    assert alert_message(dark, "zh") == "订单降至平时的 0%（近几秒 0 单，按平时占比应有 64 单）"
    alipay = alert("payment_dark", "payment=alipay", expected=100.0, actual=48.0)
    assert alert_headline(alipay, "zh") == "支付宝支付通道异常"
    assert alert_message(alipay, "zh") == \
        "成功支付降至平时的 48%（近几秒 48 单，按平时占比应有 100 单）"
    assert alert_message(alipay, "en").startswith("paid orders down to 48% of usual")
    drop = alert("orders_drop", expected=224.0, actual=91.0,
                 message="orders 91/s against 224/s expected by the last 30 s (41%)")
    assert alert_message(drop, "zh") == "每秒订单降至预期的 41%（91 单/秒，预期 224），按最近 30 秒"
    assert alert_message(drop, "en") == \
        "orders down to 41% of expected (91/s against 224/s), by the last 30 s"


def test_a_site_wide_drop_names_the_outage_behind_it() -> None:
    drop = alert("orders_drop", expected=224.0, actual=91.0, start_s=200)
    alipay = alert("payment_dark", "payment=alipay", expected=100.0, actual=0, start_s=201)
    small = alert("region_dark", "region=FJ", expected=10.0, actual=0, start_s=150)
    long_ago = alert("device_dark", "device=pad", expected=500.0, actual=0, start_s=0,
                     end_ms=MIDNIGHT_MS + 60_000, state="resolved")
    among = [drop, alipay, small, long_ago]
    assert alert_message(drop, "zh", among).endswith(" · 可能原因：支付宝支付通道异常")
    assert alert_message(drop, "en", among).endswith(" · likely cause: Alipay payment path down")
    assert "可能原因" not in alert_message(drop, "zh", [drop, long_ago])


def test_a_drop_no_single_value_explains_points_at_the_shared_steps() -> None:
    """A payment outage of every path (failed orders never reach the stream) is a site-wide
    drop with no channel, region or path apart: the operator is told to look at what every
    order passes through, payment among it, not left with "orders dropping"."""
    drop = alert("orders_drop", expected=1006.0, actual=45.0, start_s=480)
    assert alert_message(drop, "zh", [drop]).endswith(
        " · 没有单独的终端、地区或支付方式异常：各路同时下降，请查共用环节（下单、支付）")
    assert "check the shared steps (checkout, payment)" in alert_message(drop, "en", [drop])
    assert "共用环节" not in alert_message(drop, "zh")  # the others unknown: nothing claimed


def test_an_acknowledgement_key_names_its_alert() -> None:
    found = alert_of_key(f"region_dark|region=FJ|{MIDNIGHT_MS}")
    assert (found["kind"], found["dimension"], found["start_ms"]) == \
        ("region_dark", "region=FJ", MIDNIGHT_MS)
    assert alert_headline(found, "zh") == "福建地区订单中断"
