"""The guessing game (`/guess`): a signed-in person's one guess of the day's final GMV, under
their account's name (a typed name's on the local war room without users), changeable until the
board closes; then the board."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboard.components import header
from dashboard.data import live as live_data
from dashboard.format import beijing_text, clock, format_exact, format_short, language, text
from dashboard.gate import current_identity, gate, requires, source_address
from dashboard.guesses import Guesser, GuessError, parse_amount
from dashboard.ids import Ids
from dashboard.nav import nav, page_layout
from dashboard.outlook import board_of, forecast_text
from dashboard.roles import Can, Identity
from dashboard.said import said
from dashboard.shown import shown


def guesser(typed_name: Any) -> Guesser:
    """Who is guessing, from the session: a signed-in person as their account (the name field,
    if a browser sends one, is not read); on the local war room the name typed (GuessError when
    it is no name, or looks like another guess's)."""
    who = current_identity()
    assert who is not None
    if _is_person(who):
        return Guesser.account(who.name)
    return Guesser.by_name(typed_name if isinstance(typed_name, str) else "", who.name)


def _is_person(who: Identity | None) -> bool:
    return who is not None and who.kind == "user"


def _night_clock_ms() -> int:
    """The board's clock: the night's (the newest order counted), the wall clock before any."""
    latest = (live_data.source().live() or {}).get("latest_second_ms")
    return int(latest) + 999 if latest is not None else int(time.time() * 1000)


def layout(lang: str | None = None, **_: Any) -> html.Div:
    lang = language(lang)
    source = live_data.source()
    who = current_identity()
    board = source.guess_board()
    closes = beijing_text(board.closes_at_ms)[:16]
    person = who if _is_person(who) else None
    mine = board.mine(Guesser.account(person.name).key) if person is not None else None
    is_open = board.is_open(_night_clock_ms())
    # A person guesses under their account's name: shown, not typed.
    form = html.Div(className="guess-form", children=[
        html.Label([text(lang, "guess_name"), dcc.Input(
            id=Ids.GUESS_NAME, type="text", maxLength=40, className="guess-input-name",
            value=person.name if person is not None else "", disabled=person is not None,
            readOnly=person is not None)]),
        html.Label([text(lang, "guess_amount"), dcc.Input(
            id=Ids.GUESS_AMOUNT, type="text", maxLength=40, className="guess-input-amount",
            value=_as_typed(mine.amount_cents, lang) if mine else "")]),
        html.Button(text(lang, "guess_submit"), id=Ids.GUESS_SUBMIT, n_clicks=0,
                    className="guess-submit"),
    ]) if is_open else html.P(text(lang, "guess_frozen", time=closes), className="guess-frozen")
    return html.Div(className="guess-page", lang="zh-CN" if lang == "zh" else "en", children=[
        dcc.Store(id=Ids.GUESS_LANG, data=lang),
        dcc.Store(id=Ids.GUESS_ASKED, data=None),  # the far guess already asked about
        header(lang, "guesses_title", [nav(lang, "/guess")], clock=False),
        html.Section(className="panel guess-panel", children=[
            html.P(text(lang, "guess_intro", time=closes), className="guess-intro"),
            form,
            html.Div(id=Ids.GUESS_NOTE, role="status", className="guess-note"),
            html.Div(_yours(mine, lang), id=Ids.GUESS_YOURS, className="guess-yours"),
            html.P(forecast_text((source.night() or {}).get("forecast"), lang),
                   className="guess-forecast"),
            html.Div(board_table(lang), id=Ids.GUESS_BOARD)]),
    ])


def _as_typed(cents: int, lang: str) -> str:
    """A guess as the field shows it again: '125.42亿' when that reads back to the same cents."""
    short = format_short(cents, lang).lstrip("¥")
    try:
        return short if parse_amount(short) == cents else format_exact(cents).lstrip("¥")
    except GuessError:
        return format_exact(cents).lstrip("¥")


def _yours(mine: Any, lang: str) -> str:
    return text(lang, "guess_yours", amount=format_short(mine.amount_cents, lang),
                time=clock(mine.at_ms)) if mine else ""


def board_table(lang: str) -> Any:
    """Every guess: ranked against the final (after the day) or the forecast (during it)."""
    source = live_data.source()
    board = board_of(source.night(), source.guesses(), source.guess_board().closes_at_ms)
    if not board["count"]:
        return html.P(text(lang, "guess_none"), className="quiet")
    against = {"final": "guess_against_final", "forecast": "guess_against_forecast"}.get(
        board["against"] or "")
    rows = [html.Tr([html.Th("#"), html.Th(text(lang, "guess_name")),
                     html.Th(text(lang, "guess_amount_short")),
                     html.Th(text(lang, against) if against else "")])]
    for row in board["guesses"]:
        rows.append(html.Tr(className="winner" if board["winner"] and row["rank"] == 1 else "",
                            children=[html.Td(row["rank"] or "·"), html.Td(shown(row["name"])),
                                      html.Td(format_short(row["amount_cents"], lang)),
                                      html.Td(format_short(row["distance_cents"], lang)
                                              if row["distance_cents"] is not None else "")]))
    return html.Table(rows, className="table guess-table")


FAR_TIMES = 5  # a guess this many times the forecast (or more) is asked about before it counts


def far_question(cents: int, lang: str) -> str | None:
    """The question for a guess at least FAR_TIMES the forecast's final ('3200亿' typed from the
    hint, a digit too many), or None."""
    source = live_data.source()  # the live snapshot's (the freshest), else the night's
    forecast = (source.live() or {}).get("forecast") or (source.night() or {}).get("forecast") or {}
    if forecast.get("status") != "ok" or not forecast.get("final_gmv_cents"):
        return None
    target = int(forecast["final_gmv_cents"])
    if cents < FAR_TIMES * target:
        return None
    return text(lang, "guess_far", amount=format_short(cents, lang),
                forecast=format_short(target, lang), times=f"{cents / target:,.0f}")


@callback(Output(Ids.GUESS_NOTE, "children"), Output(Ids.GUESS_NOTE, "className"),
          Output(Ids.GUESS_YOURS, "children"), Output(Ids.GUESS_BOARD, "children"),
          Output(Ids.GUESS_ASKED, "data"),
          Input(Ids.GUESS_SUBMIT, "n_clicks"), State(Ids.GUESS_NAME, "value"),
          State(Ids.GUESS_AMOUNT, "value"), State(Ids.GUESS_LANG, "data"),
          State(Ids.GUESS_ASKED, "data"), prevent_initial_call=True)
@requires(Can.GUESS)
def submit(clicks: int | None, name: str | None, amount: str | None, lang: str,
           asked: Any = None) -> tuple[Any, ...]:
    if not clicks:
        return (no_update,) * 5
    lang = language(lang)
    who = current_identity()
    assert who is not None
    board = live_data.source().guess_board()
    typed = amount if isinstance(amount, str) else ""
    try:
        cents = parse_amount(typed)
        question = far_question(cents, lang)
        if question is not None and asked != cents:  # asked once; the same again keeps it
            return question, "guess-note ask", no_update, no_update, cents
        guess = board.submit(guesser(name), typed, _night_clock_ms())
    except GuessError as err:
        return said(err, lang), "guess-note error", no_update, no_update, None
    gate().accounts.record(who, "guess", source_address(), name=guess.name,
                           amount=format_exact(guess.amount_cents))
    saved = text(lang, "guess_saved", name=guess.name,
                 amount=format_short(guess.amount_cents, lang))
    return saved, "guess-note ok", _yours(guess, lang), board_table(lang), None


dash.register_page(__name__, path="/guess", title="GMV 11.11 · guess", name="guess",
                   layout=page_layout(Can.GUESS, layout))
