"""What people read: money in 亿/万 or B/M, Beijing time, and every label in zh-CN and en."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from ingest.contract import BEIJING

LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Scale:
    """How a headline amount is shown: cents // unit_cents, `decimals` kept (truncated, so a
    milestone never shows before it is reached), then the suffix. The browser's count-up uses
    the same figures (assets/live.js, handed over by `scale_table`), so Python and JS cannot
    disagree on the format."""

    unit_cents: int
    decimals: int
    suffix: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_SCALES = {
    # (threshold in cents, scale), largest first
    "zh": ((10**10, Scale(10**10, 4, "亿")), (10**6, Scale(10**6, 2, "万")), (0, Scale(100, 2, ""))),
    "en": ((10**11, Scale(10**11, 3, "B")), (10**8, Scale(10**8, 3, "M")), (0, Scale(100, 2, ""))),
}


def scale_table(lang: str) -> list[tuple[int, dict[str, Any]]]:
    """The thresholds and scales of `lang`, largest first, for the browser's count-up."""
    return [(threshold, scale.as_dict()) for threshold, scale in _SCALES[language(lang)]]


def headline_scale(cents: int, lang: str) -> Scale:
    return next(scale for threshold, scale in _SCALES[language(lang)] if cents >= threshold)


def _grouped(whole: int) -> str:
    return f"{whole:,}"


def format_scaled(cents: int, scale: Scale) -> str:
    step = scale.unit_cents // 10**scale.decimals  # cents per last shown digit
    units, rest = divmod(cents // step, 10**scale.decimals)
    fraction = f".{rest:0{scale.decimals}d}" if scale.decimals else ""
    return f"¥{_grouped(units)}{fraction}{scale.suffix}"


def format_headline(cents: int, lang: str) -> str:
    """12_345_678_901_23 cents -> '¥1,234.5678亿' (zh) or '¥12.345B' (en); never rounded up."""
    return format_scaled(cents, headline_scale(cents, lang))


def format_short(cents: int, lang: str) -> str:
    """A guess, a forecast, a distance as people say it: 12_542_000_000_00 -> '¥125.42亿' (zh),
    '¥12.542B' (en); the headline's scale without its trailing zeros ('¥3,200亿')."""
    scale = headline_scale(abs(cents), lang)
    figure = format_scaled(abs(cents), scale).removesuffix(scale.suffix)
    if scale.suffix and "." in figure:
        figure = figure.rstrip("0").rstrip(".")
    return ("−" if cents < 0 else "") + figure + scale.suffix


def format_exact(cents: int) -> str:
    """Every cent: '¥1,234,567,890.12'."""
    return f"¥{_grouped(cents // 100)}.{cents % 100:02d}"


def format_signed(cents: int) -> str:
    """A change of money with its sign: '+¥1,234.50', '−¥0.07', '¥0.00'."""
    return ("+" if cents > 0 else "−" if cents < 0 else "") + format_exact(abs(cents))


def format_change(now: int, before: int) -> str:
    """How much `now` moved against `before`, as a signed percentage ('—' with no before)."""
    return f"{(now - before) / before:+.1%}" if before else "—"


def format_compact(cents: int, lang: str) -> str:
    """A short amount for labels and axes: '¥1.2亿', '¥356万', '¥1.2B', '¥3.6M'."""
    yuan = cents / 100  # display only: nothing adds these up
    units = (("万亿", 1e12), ("亿", 1e8), ("万", 1e4)) if lang == "zh" else \
        (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3))
    for suffix, size in units:
        if yuan >= size:
            value = yuan / size
            return f"¥{value:,.1f}{suffix}" if value < 100 else f"¥{value:,.0f}{suffix}"
    return f"¥{yuan:,.0f}"


def milestone_label(yuan: int, lang: str) -> str:
    """10**8 -> '¥1亿' / '¥100M'."""
    return format_compact(yuan * 100, lang).replace(".0", "")


def format_count(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def beijing(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone(BEIJING)


def clock(epoch_ms: int) -> str:
    """'00:00:26' in Beijing time."""
    return beijing(epoch_ms).strftime("%H:%M:%S")


def format_duration_ms(ms: int | None, lang: str) -> str:
    if ms is None:
        return "—"
    seconds = ms / 1000
    if seconds < 1:
        return f"{ms} {'毫秒' if lang == 'zh' else 'ms'}"
    if seconds < 120:
        return f"{seconds:.1f} {'秒' if lang == 'zh' else 's'}"
    return f"{seconds / 60:.0f} {'分钟' if lang == 'zh' else 'min'}"


STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "forecast": "预计全天 {final}（80%：{low}–{high}）",
        "forecast_final": "全天最终 {final}",
        "forecast_wait": "预计全天：数据不足，{time} 后给出",
        "forecast_title": "全天预测",
        "forecast_method": "方法",
        "forecast_as_of": "截至",
        "guesses_count": "竞猜 {count} 人",
        "guesses_open": "{time} 截止",
        "guesses_closed": "已截止",
        "guesses_title": "员工竞猜",
        "guess_closest": "目前最接近",
        "guess_off": "差 {amount}",
        "guess_winner": "冠军",
        "guess_none": "还没有人竞猜",
        "guess_ranked_later": "预测给出后排名",
        "guess_page": "竞猜",
        "guess_name": "名字",
        "guess_amount": "猜全天成交额（元，可带 亿/万）",
        "guess_far": ("{amount} 是当前预测 {forecast} 的 {times} 倍。确定吗？"
                      "再点一次「提交竞猜」即记下"),
        "guess_submit": "提交竞猜", "guess_amount_short": "竞猜金额",
        "guess_saved": "已记下：{name} 猜 {amount}",
        "guess_yours": "你的竞猜：{amount}（{time}）",
        "guess_intro": ("猜今天全天最终成交额：最接近者（绝对差）获 COO 颁奖；"
                        "同样接近时先猜者胜。{time} 前可修改。"),
        "guess_frozen": "竞猜已于 {time} 截止，不再修改。",
        "guess_against_forecast": "与当前预测相差",
        "guess_against_final": "与最终成交额相差",
        "headroom_text": "峰值 {peak}/秒，处理能力 {capacity}/秒，余量 {ratio}",
        "next_baseline": "明年基线：每秒订单峰值 {peak}",
        "no_capacity": "处理能力尚未测得",
        "title": "双11 实时成交", "gmv": "成交额 GMV", "orders": "订单数",
        "ops_now": "当前每秒订单", "peak": "每秒订单峰值", "at": "出现于",
        "devices": "终端占比（近 1 分钟）", "device_trend": "终端占比趋势", "night": "累计成交额",
        "last_year": "去年同期", "this_year": "今年", "ops_series": "每秒订单（近 5 分钟）",
        "categories": "品类成交额", "regions": "地区成交额", "milestones": "里程碑",
        "beijing_time": "北京时间", "stale": "数据已 {age} 未更新 — 屏幕上的数字不是实时的",
        "partition_stale": "已停",
        "stream_lost": "未读即被删除 {lost} 条",
        "stream_gap_banner": "部分订单在计入前已从数据流中删除 — 总数偏低，已通知运维",
        "stream_quiet_banner": "已 {age} 没有新订单 — 处理管道正常，订单流暂无新数据",
        "night_continued": "演示已接续：本夜从 {time} 继续，此前计入的数据均保留",
        "stream_lost_unknown": "有未读条目被删除",
        "waiting": "等待数据 — 采集进程尚未发布快照",
        "polling": "推送中断 — 每秒轮询更新",
        "polling_no_push": "每秒轮询更新（本服务器未开启推送）",
        "sign_in_needed": "需要登录 — 正在转到登录页（数据管道正常）",
        "access_changed": "权限已变更 — 正在重新载入（数据管道正常）",
        "kiosk_link_ended": "大屏链接已被撤销或已过期 — 请向管理员索取新链接（数据管道正常）",
        "ops_title": "作战室 · 运行监控", "pipeline": "数据管道", "lag": "流积压",
        "ingest_rate": "采集速率", "capacity": "处理能力", "rejected": "拒收", "duplicates": "重复",
        "heartbeat": "心跳", "worker": "采集进程", "worker_here": "本机，进程 {pid}",
        "worker_host": "主机 {host}，进程 {pid}", "alerts": "告警", "no_alerts": "暂无告警",
        "top_merchants": "商家 Top 10", "drill": "下钻", "dimension": "维度", "value": "取值",
        "device": "终端", "category": "品类", "region": "地区", "payment": "支付方式",
        "merchant": "商家", "per_minute": "每分钟", "per_second": "每秒", "review_title": "复盘",
        "range": "时间范围", "from": "从", "to": "到", "resolution": "粒度", "compare": "对比",
        "compare_none": "不对比", "compare_previous": "前一时段", "compare_last_year": "去年同期",
        "export_csv": "导出 CSV", "export_parquet": "导出 Parquet", "replay": "回放",
        "play": "播放", "pause": "暂停", "speed": "倍速", "total": "合计", "by": "按",
        "all": "全部", "no_history": "尚无历史数据 — 采集进程每 5 秒写一次",
        "bad_range": "时间格式：2026-11-11 00:05 或 00:05:30", "utilization": "负载",
        "range_empty": "开始和结束是同一时刻：请选一段时间",
        "range_backward": "结束早于开始：请把两个时间对调",
        "range_after_night": "此时段还没有订单：数据截至 {time}",
        "range_before_night": "此时段没有订单：数据始于 {time}",
        "range_no_data": "还没有订单：数据尚未开始",
        "export_orders_of": "导出订单明细：{pick}",
        "big_screen": "大屏", "ops": "作战室", "review": "复盘", "language": "English",
        "per_second_unit": "/秒", "share": "占比", "yuan": "元", "time": "时间", "since": "始于",
        "acknowledge": "确认", "acknowledged": "已确认",
        "alerts_count": "{firing} 起事件进行中 · {waiting} 起待确认",
        "alert_evidence": "同时：{said}", "incident_since": "◀ {name}（{time} 起）",
        "alerts_acknowledged": "已确认 {n} 起",
        "alerts_resolved": "已结束 {n} 起",
        "alerts_ended_waiting": "另有已结束待确认 {n} 起",
        "acked_ago": "{ago}确认", "acked_ago_by": "{ago}确认 · {who}", "ago_now": "刚刚",
        "ago_min": "{n} 分钟前", "wall_clock": "（墙钟时间）",
        "night_time": "夜晚时间",
        "night_time_hint": "本夜的时钟：最新计入订单的北京时间（正式活动夜即为当前时间）",
        "per_hour": "每小时", "overview": "全天概览 · 拖选时间范围", "what_changed": "变化来源",
        "what_changed_hint": "各取值相对基准占比的 GMV 变化：(本时段占比 − 基准占比) × "
                             "本时段 GMV；点击一行看曲线",
        "by_dimension": "分维度", "incidents": "事件", "no_incidents": "此时段没有告警",
        "partial": "未完整", "incidents_folded": "{n} 起事件", "was": "基准占比",
        "delta": "变化", "gmv_lost": "估计损失",
        "against": "对比", "export_report": "下载报告", "export_orders": "导出订单明细",
        "export_too_big":
            "导出将超过 {limit:,} 行：请选更粗的粒度或更短的时间范围",
        "exported": "已导出 {rows:,} 行", "baseline": "基准",
        "merchant_seconds": "按商家每秒只支持一小时以内的范围",
        "empty_baseline": "基准时段没有订单：所有取值都算新增",
        "duration": "持续", "minutes_short": "分", "seconds_short": "秒",
        "sign_in": "登录", "sign_out": "退出", "user_name": "用户名", "password": "密码",
        "sign_in_failed": "用户名或密码不对", "sign_in_throttled": "失败次数过多，请一分钟后再试",
        "sign_in_unavailable": "暂时无法登录：作战室连不上 Redis，请一分钟后再试",
        "not_for_role": "此页面不对你的角色开放", "signed_in_as": "当前用户：{name}（{role}）",
        "kiosk_for_a_wall": "这是大屏专用的展示链接",
        "kiosk_link_invalid": "此大屏链接无效",
        "kiosk_link_invalid_hint": "链接已被收回或输入有误。请管理员用 gmv kiosk-link 生成新链接；"
                                   "有账号的人可以直接登录。",
        "kiosk_for_a_wall_hint": "你仍保持登录，未被切换。请在大屏自己的浏览器（或单独的浏览器"
                                 "配置文件）中打开此链接，或先退出登录再打开。",
        "role_viewer": "观看", "role_operator": "值班", "role_analyst": "分析", "role_admin": "管理员",
        "acknowledged_by": "{who} 已确认", "audit": "审计记录", "no_audit": "暂无记录",
        "too_many_exports": "导出过于频繁：每分钟最多 {limit} 次，{seconds} 秒后再试",
        "more": "更多图表", "less": "收起",
        "wide_only": "此页面需要更大的屏幕（至少 1280 像素宽）。手机上请看大屏：",
    },
    "en": {
        "forecast": "Day forecast {final} (80%: {low}–{high})",
        "forecast_final": "The day's final {final}",
        "forecast_wait": "Day forecast: not enough data yet, ready at {time}",
        "forecast_title": "Forecast for the day",
        "forecast_method": "Method",
        "forecast_as_of": "As of",
        "guesses_count": "{count} guesses",
        "guesses_open": "closes {time}",
        "guesses_closed": "closed",
        "guesses_title": "Staff guessing game",
        "guess_closest": "Closest right now",
        "guess_off": "off by {amount}",
        "guess_winner": "Winner",
        "guess_none": "No guesses yet",
        "guess_ranked_later": "ranked once the forecast is ready",
        "guess_page": "Guess",
        "guess_name": "Name",
        "guess_amount": "Your guess of the day's GMV (yuan; bn and m work)",
        "guess_far": ("{amount} is {times} times the forecast of {forecast}. Sure? Submit "
                      "again to keep it"),
        "guess_submit": "Submit guess", "guess_amount_short": "Guess",
        "guess_saved": "Saved: {name} guesses {amount}",
        "guess_yours": "Your guess: {amount} ({time})",
        "guess_intro": ("Guess the day's final GMV: the closest (absolute difference) wins the "
                        "COO's prize; at the same distance the earlier guess wins. Changeable "
                        "until {time}."),
        "guess_frozen": "The guessing closed at {time}: guesses are frozen.",
        "guess_against_forecast": "against the forecast",
        "guess_against_final": "against the final GMV",
        "headroom_text": "peak {peak}/s, capacity {capacity}/s, headroom {ratio}",
        "next_baseline": "Next year's baseline: peak {peak} orders/s",
        "no_capacity": "capacity not measured yet",
        "title": "11.11 Live GMV", "gmv": "GMV", "orders": "Orders",
        "ops_now": "Orders/s now", "peak": "Peak orders/s", "at": "at",
        "devices": "Device split (last minute)", "device_trend": "Device split over the night",
        "night": "GMV through the night", "last_year": "Last year", "this_year": "Tonight",
        "ops_series": "Orders per second (last 5 min)", "categories": "GMV by category",
        "regions": "GMV by region", "milestones": "Milestones", "beijing_time": "Beijing time",
        "stale": "No update for {age} — these numbers are NOT live",
        "partition_stale": "stale",
        "stream_lost": "{lost} removed unread",
        "stream_gap_banner": "Some orders were removed from the stream before they were counted"
                             " — the totals are short; operations has been alerted",
        "stream_quiet_banner": "No new orders for {age} — the pipeline is up; the order stream is "
                               "silent",
        "night_continued": "Demo continued: the night goes on from {time}; everything counted "
                           "before is kept",
        "stream_lost_unknown": "entries removed unread",
        "waiting": "Waiting for data — the ingest worker has not published yet",
        "polling": "push lost — updating each second",
        "polling_no_push": "updating each second (this server does not push)",
        "sign_in_needed": "Sign-in needed — going to the sign-in page (the pipeline is fine)",
        "access_changed": "Access changed — reloading (the pipeline is fine)",
        "kiosk_link_ended": "This kiosk link was revoked or has expired — ask an admin for a new"
                            " one (the pipeline is fine)",
        "ops_title": "War room · operations", "pipeline": "Pipeline",
        "lag": "Stream lag", "ingest_rate": "Ingest rate", "capacity": "Capacity",
        "rejected": "Rejected", "duplicates": "Duplicates", "heartbeat": "Heartbeat",
        "worker": "Worker", "worker_here": "this machine, process {pid}",
        "worker_host": "host {host}, process {pid}", "alerts": "Alerts", "no_alerts": "No alerts",
        "top_merchants": "Top 10 merchants", "drill": "Drill down", "dimension": "Dimension",
        "value": "Value", "device": "Device", "category": "Category", "region": "Region",
        "payment": "Payment", "merchant": "Merchant", "per_minute": "Per minute",
        "per_second": "Per second", "review_title": "Review", "range": "Time range",
        "from": "From", "to": "To", "resolution": "Resolution", "compare": "Compare",
        "compare_none": "No comparison", "compare_previous": "Previous range",
        "compare_last_year": "Last year", "export_csv": "Export CSV",
        "export_parquet": "Export Parquet", "replay": "Replay", "play": "Play",
        "pause": "Pause", "speed": "Speed", "total": "Total", "by": "by", "all": "All",
        "no_history": "No history yet — the worker writes it every 5 s",
        "bad_range": "Time format: 2026-11-11 00:05 or 00:05:30", "utilization": "Load",
        "range_empty": "Start and end are the same moment: choose a stretch of time",
        "range_backward": "The range ends before it starts: swap the times",
        "range_after_night": "No orders in this range yet: the data ends at {time}",
        "range_before_night": "No orders in this range: the data begins at {time}",
        "range_no_data": "No orders counted yet: there is no data to report on",
        "export_orders_of": "Export orders: {pick}",
        "big_screen": "Big screen", "ops": "Operations", "review": "Review", "language": "中文",
        "per_second_unit": "/s", "share": "Share", "yuan": "CNY", "time": "Time", "since": "since",
        "acknowledge": "Acknowledge", "acknowledged": "acknowledged",
        "alerts_count": "{firing} firing · {waiting} unacknowledged",
        "alert_evidence": "also: {said}", "incident_since": "◀ {name} (since {time})",
        "alerts_acknowledged": "{n} acknowledged", "alerts_resolved": "{n} resolved",
        "alerts_ended_waiting": "{n} more ended, awaiting acknowledgement",
        "acked_ago": "acknowledged {ago}", "acked_ago_by": "acknowledged by {who} · {ago}",
        "ago_now": "just now", "ago_min": "{n} min ago",
        "wall_clock": " (wall clock)", "night_time": "Night time",
        "night_time_hint": "The night's clock: Beijing time of the newest orders counted (on the "
                           "festival night itself, the time now)",
        "per_hour": "Per hour", "overview": "The whole day · drag to choose a range",
        "what_changed": "What changed",
        "what_changed_hint": "GMV each value gained or lost against its baseline share: "
                             "(share now − share then) × GMV now; click a row for its curve",
        "by_dimension": "By dimension", "incidents": "Incidents",
        "no_incidents": "No alert in this range", "partial": "partial",
        "incidents_folded": "{n} incidents", "was": "Baseline share",
        "delta": "Change", "gmv_lost": "Est. lost", "against": "vs",
        "export_report": "Download report", "export_orders": "Export orders",
        "export_too_big": "The export would exceed {limit:,} rows: choose a coarser resolution "
                          "or a shorter range",
        "exported": "Exported {rows:,} rows", "baseline": "Baseline",
        "merchant_seconds": "Merchants per second: ranges of up to one hour",
        "empty_baseline": "The baseline has no orders: every value counts as new",
        "duration": "lasted", "minutes_short": "min", "seconds_short": "s",
        "sign_in": "Sign in", "sign_out": "Sign out", "user_name": "User name",
        "password": "Password", "sign_in_failed": "Wrong user name or password",
        "sign_in_throttled": "Too many failed attempts: try again in a minute",
        "sign_in_unavailable": "Sign-in is paused: the war room cannot reach its Redis. "
                               "Try again in a minute",
        "not_for_role": "This page is not open to your role",
        "kiosk_for_a_wall": "This link is for a wall screen",
        "kiosk_link_invalid": "This wall-screen link does not work",
        "kiosk_link_invalid_hint": "It was revoked or mistyped. Ask an admin for a new one (gmv "
                                   "kiosk-link); with an account, sign in instead.",
        "kiosk_for_a_wall_hint": "You are still signed in: nothing was switched. Open the link "
                                 "in a browser (or browser profile) of the wall's own, or sign "
                                 "out first.",
        "signed_in_as": "Signed in as {name} ({role})", "role_viewer": "viewer",
        "role_operator": "operator", "role_analyst": "analyst", "role_admin": "admin",
        "acknowledged_by": "acknowledged by {who}", "audit": "Audit log", "no_audit": "Nothing yet",
        "too_many_exports": "Too many exports: at most {limit} a minute, try again in {seconds} s",
        "more": "More charts", "less": "Fewer charts",
        "wide_only": "This page needs a wider screen (1280 px or more). On a phone, open the "
                     "big screen:",
    },
}


# Names of the values of the dimensions (devices, the simulator's categories, the province codes
# (GB/T 2260 letters), payment paths) and of the alert kinds, by language.
NAMES: dict[str, dict[str, str]] = {
    "zh": {
        "pc": "电脑", "mobile": "手机", "pad": "平板", "other": "其他", "none": "未填",
        "overseas": "海外",
        "apparel": "服装", "beauty": "美妆", "food": "食品", "electronics": "数码", "home": "家居",
        "baby": "母婴", "sports": "运动", "appliances": "家电", "books": "图书", "luxury": "奢品",
        "GD": "广东", "ZJ": "浙江", "JS": "江苏", "SD": "山东", "SH": "上海", "BJ": "北京",
        "HA": "河南", "SC": "四川", "HB": "湖北", "FJ": "福建", "HN": "湖南", "AH": "安徽",
        "HE": "河北", "LN": "辽宁", "SN": "陕西", "CQ": "重庆", "JX": "江西", "GX": "广西",
        "YN": "云南", "SX": "山西", "TJ": "天津", "GZ": "贵州", "HL": "黑龙江", "JL": "吉林",
        "NM": "内蒙古", "XJ": "新疆", "GS": "甘肃", "HI": "海南", "NX": "宁夏", "QH": "青海",
        "XZ": "西藏", "alipay": "支付宝", "huabei": "花呗", "card": "银行卡", "balance": "余额",
        # Alert kinds.
        "orders_drop": "订单骤降", "gmv_drop": "GMV 骤降", "device_dark": "渠道异常",
        "region_dark": "地区异常", "payment_dark": "支付通道异常", "price_glitch": "价格异常",
        "bot_burst": "疑似刷单", "oversell": "超卖", "rejected_rate": "异常数据激增",
        "duplicate_rate": "重复订单激增", "resend_flood": "重复重发洪峰", "late_arrivals": "迟到订单激增",
        "stream_lag": "处理延迟", "heartbeat_missing": "采集心跳丢失",
        "stream_gap": "数据流缺口",
        # Forecast methods (ingest/forecast.py).
        "level-vs-festival-profile": "按节日曲线推算", "level-vs-last-year": "按去年曲线推算",
        "final": "全天最终",
    },
    "en": {
        "pc": "PC", "mobile": "Mobile", "pad": "Pad", "other": "Other", "none": "unset",
        "overseas": "Overseas",
        "apparel": "Apparel", "beauty": "Beauty", "food": "Food", "electronics": "Electronics",
        "home": "Home", "baby": "Baby", "sports": "Sports", "appliances": "Appliances",
        "books": "Books", "luxury": "Luxury", "GD": "Guangdong", "ZJ": "Zhejiang",
        "JS": "Jiangsu", "SD": "Shandong", "SH": "Shanghai", "BJ": "Beijing", "HA": "Henan",
        "SC": "Sichuan", "HB": "Hubei", "FJ": "Fujian", "HN": "Hunan", "AH": "Anhui",
        "HE": "Hebei", "LN": "Liaoning", "SN": "Shaanxi", "CQ": "Chongqing", "JX": "Jiangxi",
        "GX": "Guangxi", "YN": "Yunnan", "SX": "Shanxi", "TJ": "Tianjin", "GZ": "Guizhou",
        "HL": "Heilongjiang", "JL": "Jilin", "NM": "Inner Mongolia", "XJ": "Xinjiang",
        "GS": "Gansu", "HI": "Hainan", "NX": "Ningxia", "QH": "Qinghai", "XZ": "Tibet",
        "alipay": "Alipay", "huabei": "Huabei", "card": "Card", "balance": "Balance",
        "orders_drop": "Orders drop", "gmv_drop": "GMV drop", "device_dark": "Channel down",
        "region_dark": "Region down", "payment_dark": "Payment path down",
        "price_glitch": "Price glitch", "bot_burst": "Bot burst", "oversell": "Oversell",
        "rejected_rate": "Rejected surge", "duplicate_rate": "Duplicate surge",
        "resend_flood": "Re-send flood",
        "late_arrivals": "Late orders", "stream_lag": "Pipeline lag",
        "heartbeat_missing": "Worker heartbeat lost", "stream_gap": "Stream gap",
        "level-vs-festival-profile": "level against the festival's profile",
        "level-vs-last-year": "level against last year's day", "final": "final",
    },
}


def text(lang: str, key: str, **values: Any) -> str:
    """A label of the interface (or, for the interface's own keys, the name of a value)."""
    lang = language(lang)  # a callback's language store is whatever the browser sends
    phrase = STRINGS[lang].get(key) or NAMES.get(lang, {}).get(key, key)
    return phrase.format(**values) if values else phrase


def value_name(lang: str, value: str) -> str:
    """The name of a value that came with an order or an alert ('ZJ' -> '浙江'), or the value as
    it is: never a phrase of the interface (a category named "stale" is not the staleness
    banner's sentence). Plain text: shown.py makes it safe for where it goes."""
    return NAMES[language(lang)].get(value, value)


def language(requested: Any) -> str:
    """The language a page or callback was asked for (any other value, whatever its type: zh)."""
    return requested if isinstance(requested, str) and requested in LANGUAGES else "zh"


def parse_beijing(value: str, festival_day: date) -> int:
    """'2026-11-11 00:05' or '00:05:30' (on the festival day) -> epoch ms.
    Raises ValueError with what was expected."""
    value = value.strip()
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"):
        try:
            moment = datetime.strptime(value, pattern).replace(tzinfo=BEIJING)
            return int(moment.timestamp() * 1000)
        except ValueError:
            pass
    for pattern in ("%H:%M:%S", "%H:%M"):
        try:
            clock_time = datetime.strptime(value, pattern).time()
        except ValueError:
            continue
        return int(datetime.combine(festival_day, clock_time, tzinfo=BEIJING).timestamp() * 1000)
    raise ValueError(f"{value!r} is not a time like 2026-11-11 00:05 or 00:05:30")


def beijing_text(epoch_ms: int) -> str:
    """'2026-11-11 00:05:30': what the review's range fields show and accept."""
    return beijing(epoch_ms).strftime("%Y-%m-%d %H:%M:%S")
