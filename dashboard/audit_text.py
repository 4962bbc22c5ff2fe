"""An audit log entry as the /ops panel shows it, in the page's language: who, what they did and
to what ('确认告警 福建地区订单中断（始于 00:02:33）'), from where. The log itself keeps its codes."""

from __future__ import annotations

from typing import Any

from dashboard.alert_text import alert_headline, alert_of_key, where_text
from dashboard.format import clock, language, text
from dashboard.roles import LOCAL

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "sign_in": "登录", "sign_in_failed": "登录失败", "sign_out": "退出",
        "kiosk_opened": "打开大屏展示链接", "export": "导出", "guess": "竞猜",
        "acknowledge": "确认告警", "user_set": "设置用户", "user_removed": "删除用户",
        "kiosk_link_revoked": "撤销大屏展示链接", "kiosk_link_made": "创建大屏展示链接",
        "local": "本机", "cli": "命令行", "since": "始于",
        "report": "报告", "csv": "CSV", "parquet": "Parquet", "orders": "订单明细",
        "rows": "{rows:,} 行", "user": "用户", "role": "角色", "link": "链接", "label": "备注",
        "name": "名字", "amount": "金额",
    },
    "en": {
        "sign_in": "signed in", "sign_in_failed": "failed to sign in", "sign_out": "signed out",
        "kiosk_opened": "opened a wall link", "export": "exported", "guess": "guessed",
        "acknowledge": "acknowledged", "user_set": "set user", "user_removed": "removed user",
        "kiosk_link_revoked": "revoked a wall link", "kiosk_link_made": "made a wall link",
        "local": "this machine", "cli": "command line", "since": "since",
        "report": "report", "csv": "CSV", "parquet": "Parquet", "orders": "orders",
        "rows": "{rows:,} rows", "user": "user", "role": "role", "link": "link", "label": "label",
        "name": "name", "amount": "amount",
    },
}


def _word(lang: str, key: str) -> str:
    return WORDS[language(lang)].get(key, key)


def who_text(name: str, lang: str) -> str:
    """A person's name; this machine's own browsers (no users: the identity "local") by that
    description."""
    return _word(lang, "local") if name == LOCAL.name else name


def audit_who(entry: dict[str, Any], lang: str) -> str:
    return who_text(str(entry.get("who") or ""), lang)


def audit_action(entry: dict[str, Any], lang: str) -> str:
    return _word(lang, str(entry.get("action") or ""))


def audit_where(entry: dict[str, Any], lang: str) -> str:
    """From where: an address, or the command line."""
    source = str(entry.get("source") or "")
    return _word(lang, "cli") if source == "cli" else source


def audit_what(entry: dict[str, Any], lang: str) -> str:
    """What it was done to, in words: the alert's headline, an export's kind and range."""
    what = entry.get("what") or {}
    if not isinstance(what, dict):
        return str(what)
    if isinstance(what.get("alert"), str):
        alert = alert_of_key(what["alert"])
        since = f"（{_word(lang, 'since')} {clock(alert['start_ms'])}）" \
            if alert.get("start_ms") and language(lang) == "zh" else \
            f" ({_word(lang, 'since')} {clock(alert['start_ms'])})" if alert.get("start_ms") else ""
        return alert_headline(alert, lang) + since
    if entry.get("action") == "export":
        return _export(what, lang)
    parts = []
    for key, value in what.items():
        if key == "role":
            parts.append(f"{_word(lang, key)} {text(lang, f'role_{value}')}")
        else:
            parts.append(f"{_word(lang, key)} {value}")
    return " · ".join(parts)


def _export(what: dict[str, Any], lang: str) -> str:
    parts = [_word(lang, str(what.get("kind") or "")), f"{what.get('start', '')} – {what.get('end', '')}"]
    if what.get("resolution"):
        parts.append(text(lang, f"per_{what['resolution']}"))
    if what.get("dimension"):
        parts.append(text(lang, str(what["dimension"])))
    if what.get("pick"):
        parts.append(where_text(str(what["pick"]), lang))
    if what.get("rows"):
        parts.append(_word(lang, "rows").format(rows=int(what["rows"])))
    return " · ".join(p for p in parts if p)
