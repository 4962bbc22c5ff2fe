"""What people read: amounts in 亿/万 and B/M, never rounded up; Beijing time; both languages."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.format import (
    STRINGS,
    format_compact,
    format_exact,
    format_headline,
    headline_scale,
    milestone_label,
    parse_beijing,
    text,
)
from dashboard.format import clock as beijing_clock
from tests.conftest import MIDNIGHT_MS


@pytest.mark.parametrize(("cents", "zh", "en"), [
    (0, "¥0.00", "¥0.00"),
    (99, "¥0.99", "¥0.99"),
    (12_345_67, "¥1.23万", "¥12,345.67"),
    (9_999_99, "¥9,999.99", "¥9,999.99"),
    (4_257_742_693, "¥4,257.74万", "¥42.577M"),
    (99_999_999_99, "¥9,999.99万", "¥99.999M"),  # one cent short of ¥1亿: never shown as 1亿
    (100_000_000_00, "¥1.0000亿", "¥100.000M"),
    (268_445_123_456_78, "¥2,684.4512亿", "¥268.445B"),
])
def test_headline_amounts_in_chinese_and_english_units(cents: int, zh: str, en: str) -> None:
    assert format_headline(cents, "zh") == zh
    assert format_headline(cents, "en") == en


def test_a_headline_never_rounds_up_to_a_milestone() -> None:
    assert format_headline(99_999_999_99, "zh") != "¥1.0000亿"
    assert format_headline(999_999_999_99, "en") == "¥999.999M"


def test_the_scale_is_what_the_browser_counts_with() -> None:
    scale = headline_scale(268_445_123_456_78, "zh").as_dict()
    assert scale == {"unit_cents": 10**10, "decimals": 4, "suffix": "亿"}


def test_exact_amounts_keep_every_cent() -> None:
    assert format_exact(123_456_789_012) == "¥1,234,567,890.12"
    assert format_exact(5) == "¥0.05"


@pytest.mark.parametrize(("cents", "lang", "shown"), [
    (1_20_000_000_00, "zh", "¥1.2亿"), (356_0000_00, "zh", "¥356万"), (1_20_000_000_00, "en", "¥120M"),
    (3_600_000_00, "en", "¥3.6M"), (12_00, "zh", "¥12"),
])
def test_compact_amounts_for_labels(cents: int, lang: str, shown: str) -> None:
    assert format_compact(cents, lang) == shown


def test_milestones_are_named_in_round_units() -> None:
    assert [milestone_label(10**k, "zh") for k in (6, 7, 8, 9)] == ["¥100万", "¥1,000万", "¥1亿", "¥10亿"]
    assert [milestone_label(10**k, "en") for k in (6, 8, 9)] == ["¥1M", "¥100M", "¥1B"]


def test_times_are_beijing_time() -> None:
    assert beijing_clock(MIDNIGHT_MS + 26_000) == "00:00:26"
    assert parse_beijing("00:00:26", date(2026, 11, 11)) == MIDNIGHT_MS + 26_000
    assert parse_beijing("2026-11-10 23:59", date(2026, 11, 11)) == MIDNIGHT_MS - 60_000
    with pytest.raises(ValueError, match="not a time"):
        parse_beijing("midnight", date(2026, 11, 11))


def test_every_label_exists_in_both_languages() -> None:
    assert STRINGS["zh"].keys() == STRINGS["en"].keys()
    assert text("en", "gmv") == "GMV" and text("zh", "mobile") == "手机"
    assert text("zh", "ZJ") == "浙江" and text("en", "overseas") == "Overseas"
    assert text("en", "an-unknown-region") == "an-unknown-region"
    assert "12 s" in text("en", "stale", age="12 s")


@pytest.mark.parametrize("cents, zh, en", [
    (12_542_000_000_00, "¥125.42亿", "¥12.542B"),
    (320_000_000_000_00, "¥3,200亿", "¥320B"),
    (12_632_421_735_02, "¥126.3242亿", "¥12.632B"),
    (83_972_645_40, "¥8,397.26万", "¥83.972M"),
    (123_45, "¥123.45", "¥123.45"),
    (-500_000_000_00, "−¥5亿", "−¥500M"),
])
def test_a_guess_reads_in_yi_without_trailing_zeros(cents: int, zh: str, en: str) -> None:
    from dashboard.format import format_short

    assert (format_short(cents, "zh"), format_short(cents, "en")) == (zh, en)
