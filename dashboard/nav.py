"""The links between the views, the language switch and who is signed in (the big screen has
none of them: a kiosk); the page guard and its polite refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
from dash import dcc, html
from flask_wtf.csrf import generate_csrf

from dashboard.format import LANGUAGES, text
from dashboard.gate import allowed, current_identity, lang_or_default
from dashboard.ids import Ids
from dashboard.roles import PAGES, VIEWS, Can, Identity


def nav(lang: str, here: str) -> html.Nav:
    other = "en" if lang == "zh" else "zh"
    links = [dcc.Link(text(lang, key), href=f"{path}?lang={lang}",
                      className="nav-link here" if path == here else "nav-link")
             for path, key in VIEWS if allowed(PAGES[path])]
    # A full reload: each page draws its labels once, in one language.
    switch = html.A(text(lang, "language"), href=f"{here}?lang={other}", id=Ids.LANG_SWITCH,
                    className="nav-link lang")
    return html.Nav([*links, switch, *signed_in(lang)], className="nav")


def signed_in(lang: str) -> list[Any]:
    """Who this is and the sign-out button (nothing on the local war room without users)."""
    who = current_identity()
    if who is None or who.kind == "local":
        return []
    return [html.Span(f"{who.name} · {text(lang, 'role_' + who.role)}", id=Ids.WHO,
                      className="who"), sign_out_form(lang)]


def sign_out_form(lang: str) -> html.Form:
    return html.Form(action="/logout", method="POST", className="sign-out", children=[
        dcc.Input(type="hidden", name="csrf_token", value=generate_csrf()),
        html.Button(text(lang, "sign_out"), type="submit", id=Ids.SIGN_OUT, className="nav-link")])


def refused(lang: str, who: Identity | None) -> html.Div:
    name = who.name if who else "?"
    role = text(lang, "role_" + who.role) if who else "?"
    return html.Div(className="refused", children=[
        html.H1(text(lang, "not_for_role")),
        html.P(text(lang, "signed_in_as", name=name, role=role)),
        html.P(className="open-pages", children=[  # every page this person may open
            dcc.Link(text(lang, key), href=f"{path}?lang={lang}", className="nav-link")
            for path, key in VIEWS if who is not None and who.can(PAGES[path])]),
        sign_out_form(lang)])


def sign_in_banner() -> html.Div:
    """The banner a page shows when the server refuses its polls or callbacks (a war room that
    gained users, a session ended, a role changed; assets/session.js): its words in each language
    (the page's own is in its address), and whether this is a kiosk wall, which no sign-in page
    can help."""
    who = current_identity() if flask.has_request_context() else None
    data: dict[str, Any] = {f"data-{key.replace('_', '-')}-{lang}": text(lang, key)
                            for lang in LANGUAGES
                            for key in ("sign_in_needed", "access_changed", "kiosk_link_ended")}
    data["data-kiosk"] = "yes" if who and who.kind == "kiosk" else "no"
    return html.Div(id=Ids.SIGN_IN_BANNER, className="banner banner-sign-in", role="alert", **data)


def page_layout(what: Can, layout: Callable[..., Any]) -> Callable[..., Any]:
    """A page's layout for those who may `what`; a polite refusal for anyone else (Dash's router
    asks for a layout by a callback, whatever page the browser first loaded)."""
    def guarded(**kwargs: Any) -> Any:
        if allowed(what):
            return layout(**kwargs)
        return refused(lang_or_default(kwargs.get("lang")), current_identity())
    return guarded
