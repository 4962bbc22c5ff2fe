"""Signing in says what is true and shows the way on (issue #24, item 8): a wrong password keeps
the name typed, a bad kiosk link is the war room's own page in the browser's language with a way
forward, and the refusal page links to every page the person may open. A real stack with users,
real Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from dashboard.accounts import Accounts
from tests.e2e.conftest import Stack, running_stack

PASSWORD = "olga-has-a-long-password"


@pytest.fixture(scope="module")
def war_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("sign-in-truths")
    Accounts(home / "data").add_user("olga", "operator", PASSWORD)
    with running_stack(home, worker=False) as stack:
        yield stack


def test_a_wrong_password_keeps_the_name_typed(war_room: Stack, browser: Browser) -> None:
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(war_room.base_url + "/ops")
        page.locator("#name").fill("Olga")
        page.locator("#password").fill("not-her-password")
        page.locator("#sign-in").click()
        expect(page.locator("[role=alert]")).to_have_text("用户名或密码不对")
        expect(page.locator("#name")).to_have_value("Olga")
        expect(page.locator("#password")).to_have_value("")
        expect(page.locator("#password")).to_be_focused()
        page.locator("#password").fill(PASSWORD)  # only the password again
        page.locator("#sign-in").click()
        expect(page).to_have_url(war_room.base_url + "/ops")
    finally:
        context.close()


@pytest.mark.parametrize("locale, title, sign_in", [
    ("zh-CN", "此大屏链接无效", "登录"), ("en-US", "This wall-screen link does not work", "Sign in"),
])
def test_a_bad_kiosk_link_is_a_page_in_the_browsers_language(war_room: Stack, browser: Browser,
                                                             locale: str, title: str,
                                                             sign_in: str) -> None:
    context = browser.new_context(locale=locale)
    try:
        page = context.new_page()
        answer = page.goto(war_room.base_url + "/kiosk/" + "x" * 43)
        assert answer is not None and answer.status == 403
        expect(page.locator("h1")).to_contain_text(title)
        expect(page.locator("#hint")).to_contain_text("gmv kiosk-link")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background != "rgba(0, 0, 0, 0)" and background != "rgb(255, 255, 255)"
        page.get_by_role("link", name=sign_in).click()  # the way forward
        expect(page.locator("#sign-in")).to_be_visible()
    finally:
        context.close()


def test_the_refusal_page_links_to_every_page_the_person_may_open(war_room: Stack,
                                                                  browser: Browser) -> None:
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.goto(war_room.base_url + "/review?lang=en")  # an operator's: not hers
        page.locator("#name").fill("olga")
        page.locator("#password").fill(PASSWORD)
        page.locator("#sign-in").click()
        expect(page.locator("h1")).to_have_text("This page is not open to your role")
        links = page.locator(".open-pages a")
        expect(links).to_have_text(["Big screen", "Operations", "Guess"])
        links.filter(has_text="Operations").click()
        expect(page).to_have_url(war_room.base_url + "/ops?lang=en")
        expect(page.locator(".nav")).to_be_visible()
    finally:
        context.close()
