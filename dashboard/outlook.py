"""Where the day is heading, as people read it: the forecast line beside the headline, the
guessing game's count (the leaderboard and its winner once the day is over), and on /ops the
closest guess right now, the peak against the pipeline's measured capacity and next year's
baseline."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboard.format import (
    clock,
    format_compact,
    format_count,
    format_short,
    text,
    value_name,
)
from dashboard.guesses import Guess, standings
from dashboard.ids import Ids
from dashboard.pipeline import capacity_eps
from dashboard.shown import shown
from ingest.forecast import MIN_MINUTES

LEADERS_SHOWN = 3


def forecast_text(forecast: dict[str, Any] | None, lang: str) -> str:
    if not forecast or forecast.get("status") != "ok":
        # A clock time, not a duration: "in 5 minutes" read at 00:04 promised 00:09.
        return text(lang, "forecast_wait", time=f"{MIN_MINUTES // 60:02d}:{MIN_MINUTES % 60:02d}")
    if forecast.get("method") == "final":
        return text(lang, "forecast_final", final=format_compact(forecast["final_gmv_cents"], lang))
    return text(lang, "forecast", final=format_compact(forecast["final_gmv_cents"], lang),
                low=format_compact(forecast["low_cents"], lang),
                high=format_compact(forecast["high_cents"], lang))


def board_of(night: dict[str, Any] | None, guesses: tuple[Guess, ...],
             closes_at_ms: int) -> dict[str, Any]:
    night = night or {}
    return standings(list(guesses), closes_at_ms, night.get("forecast"), night.get("latest_ms"))


def big_screen_outlook(night: dict[str, Any] | None, guesses: tuple[Guess, ...],
                       closes_at_ms: int, lang: str) -> list[Any]:
    """Beside the headline: the forecast, and the guessing game (its count while the day runs;
    the winner and the next ones once it is over)."""
    board = board_of(night, guesses, closes_at_ms)
    lines: list[Any] = [html.Div(forecast_text((night or {}).get("forecast"), lang),
                                 className="forecast-line")]
    if board["winner"]:
        leaders = board["guesses"][:LEADERS_SHOWN]
        lines.append(html.Div(className="guess-line leaders", children=[
            html.Span(text(lang, "guess_winner"), className="winner-label"),
            *[html.Span([html.B(f"{row['rank']}. {shown(row['name'])}"), " ",
                         format_compact(row["amount_cents"], lang), " · ",
                         text(lang, "guess_off", amount=format_compact(row["distance_cents"],
                                                                        lang))],
                        className="leader winner" if row["rank"] == 1 else "leader")
              for row in leaders]]))
    else:
        state = text(lang, "guesses_open", time=clock(board["closes_at_ms"])[:5]) \
            if board["open"] else text(lang, "guesses_closed")
        lines.append(html.Div(f"{text(lang, 'guesses_count', count=board['count'])} · {state}",
                              className="guess-line"))
    return lines


def ops_outlook(night: dict[str, Any] | None, live: dict[str, Any] | None,
                guesses: tuple[Guess, ...], closes_at_ms: int, lang: str) -> list[Any]:
    """/ops: the forecast with its method and time, the closest guess right now (or the
    winner), the peak against the measured capacity, next year's baseline."""
    forecast = (night or {}).get("forecast") or (live or {}).get("forecast")
    board = board_of(night, guesses, closes_at_ms)
    rows: list[Any] = [html.Div(forecast_text(forecast, lang), className="ops-forecast")]
    if forecast and forecast.get("status") == "ok":
        rows.append(html.Div(f"{text(lang, 'forecast_as_of')} {clock(forecast['as_of_ms'])[:5]} · "
                             f"{text(lang, 'forecast_method')} "
                             f"{value_name(lang, str(forecast['method']))}",
                             className="ops-sub"))
    leader = board["guesses"][0] if board["guesses"] and board["guesses"][0]["rank"] else None
    if leader is None:
        rows.append(html.Div(f"{text(lang, 'guesses_count', count=board['count'])} · "
                             f"{text(lang, 'guess_none' if not board['count'] else 'guess_ranked_later')}",
                             className="ops-guess", id=Ids.OPS_CLOSEST))
    else:
        label = text(lang, "guess_winner" if board["winner"] else "guess_closest")
        rows.append(html.Div(id=Ids.OPS_CLOSEST, className="ops-guess", children=[
            f"{label}: ", html.B(shown(leader["name"])),
            f" {format_short(leader['amount_cents'], lang)} · ",
            text(lang, "guess_off", amount=format_short(leader["distance_cents"], lang)),
            f" · {text(lang, 'guesses_count', count=board['count'])}"]))
    rows += headroom_rows(live, lang)
    return rows


def headroom_rows(live: dict[str, Any] | None, lang: str) -> list[Any]:
    live = live or {}
    peak = live.get("peak_ops")
    capacity = capacity_eps(live)
    rows: list[Any] = []
    if peak and capacity:
        ratio = f"{capacity / peak:.1f}×"
        rows.append(html.Div(text(lang, "headroom_text", peak=format_count(int(peak)),
                                  capacity=format_count(int(capacity)), ratio=ratio),
                             className="ops-headroom", id=Ids.OPS_HEADROOM))
    else:
        rows.append(html.Div(text(lang, "no_capacity"), className="ops-headroom",
                             id=Ids.OPS_HEADROOM))
    if peak:
        rows.append(html.Div(text(lang, "next_baseline", peak=format_count(int(peak))),
                             className="ops-sub"))
    return rows

