"""Errors a person reads, raised with a key: the page says them in its language (`said`), while
`str()` stays the English line the command line and the logs print."""

from __future__ import annotations

from typing import Any

from dashboard.format import language

ERRORS: dict[str, dict[str, str]] = {
    "zh": {
        "range_no_data": "还没有订单：没有可报告的数据",
        "range_too_long": "时间范围超过 {hours} 小时：请选短一些",
        "range_too_long_days": "时间范围超过 {days} 天",
        "not_a_time": "“{value}”不是时间",
        "not_iso_time": "“{value}”不是 ISO 时间（例如 2026-11-11T00:10:00+08:00）",
        "no_last_year": "尚未载入去年的数据：请与前一时段对比",
        "unknown_comparison": "没有这种对比：{value}",
        "unknown_resolution": "没有这种粒度：{value}",
        "unknown_dimension": "没有这个维度：{value}",
        "too_many_points": "数据点太多：请选更粗的粒度或更短的时间范围",
        "merchant_seconds": "按商家每秒只支持一小时以内的范围",
        "page_altered": "本页数据已被改动或来自别处：请刷新页面",
        "guess_closed": "竞猜已于北京时间 {time} 截止，不再修改",
        "guess_not_a_number": "金额须是以元计的数字，例如 3200亿 或 320000000000",
        "guess_decimals": "金额最多精确到分（两位小数）",
        "guess_not_positive": "金额须大于零",
        "guess_too_big": "金额超出任何节日的可能（最多 ¥100 万亿）",
        "guess_no_name": "竞猜需要填写名字",
        "guess_name_too_long": "名字超过 {limit} 个字符",
        "guess_name_unshowable": "名字里有无法显示的字符",
        "guess_name_mixed": "名字混用了不同文字的字母：请只用一种文字书写",
        "guess_name_taken": "已有人用 {taken} 竞猜，{name} 与之看起来一样：请加点区别",
    },
    "en": {
        "range_no_data": "no orders counted yet: there is no night to report on (or ask for a "
                         "range with --from and --to)",
        "range_too_long": "range: longer than {hours} hours: choose a shorter one",
        "range_too_long_days": "the range is longer than {days} days",
        "not_a_time": "{value!r} is not a time like 2026-11-11 00:05 or 00:05:30",
        "not_iso_time": "not an ISO time: {value!r} (e.g. 2026-11-11T00:10:00+08:00)",
        "no_last_year": "no last year loaded: set GMV_LAST_YEAR_DATA_DIR, or compare with the "
                        "previous range",
        "unknown_comparison": "unknown comparison {value!r}: previous or last-year",
        "unknown_resolution": "unknown resolution {value!r}",
        "unknown_dimension": "unknown dimension {value!r}",
        "too_many_points": "too many points: choose a coarser resolution, or a shorter range",
        "merchant_seconds": "merchants per second: ranges of up to one hour",
        "page_altered": "this page's data was altered or comes from elsewhere: reload the page",
        "guess_closed": "the guessing closed at {time} Beijing time: guesses are frozen",
        "guess_not_a_number": "the amount must be a number of yuan, like 3200亿 or 320000000000",
        "guess_decimals": "the amount has more than two decimals of a yuan",
        "guess_not_positive": "the amount must be more than zero",
        "guess_too_big": "the amount is beyond any festival day (at most ¥100 万亿)",
        "guess_no_name": "a guess needs a name",
        "guess_name_too_long": "the name is longer than {limit} characters",
        "guess_name_unshowable": "the name has characters that cannot be shown",
        "guess_name_mixed": "the name mixes {scripts} letters: write it in one script",
        "guess_name_taken": "someone else already guesses as {taken!r}, which {name!r} looks "
                            "like: add something to tell you apart",
    },
}


class Said(ValueError):
    """A refusal with a key of ERRORS and its values; `str()` is its English line."""

    def __init__(self, key: str, **values: Any) -> None:
        self.key, self.values = key, values
        super().__init__(ERRORS["en"][key].format(**values))

    def said(self, lang: str) -> str:
        return ERRORS[language(lang)][self.key].format(**self.values)


def said(err: Exception, lang: str) -> str:
    """An error as the page says it: in its language when raised with a key, else as it is."""
    return err.said(lang) if isinstance(err, Said) else str(err)
