"""The forecast and the guessing game say what is true (issue #24, item 8): the forecast waits for
a clock time (at 00:04, "in 5 minutes" promised 00:09), guesses read in 亿/万, and a guess five
times the forecast or more is asked about before it counts. Real stack, real Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from dashboard.format import format_exact, format_short
from tests.conftest import wait_for
from tests.e2e.conftest import let_in, publish_sample, running_stack
from tests.sample import TRUTH, sample_payloads


def guess(page: Page, name: str, amount: str) -> None:
    page.locator("#guess-name").fill(name)
    page.locator("#guess-amount").fill(amount)
    page.locator("#guess-submit").click()


def test_the_forecast_waits_for_a_time_and_guesses_read_in_yi(tmp_path: Path, page: Page) -> None:
    with running_stack(tmp_path, {"GMV_GUESSES_CLOSE_AT": "2026-11-11T12:00"}) as stack:
        let_in(page.context)
        page.goto(stack.base_url + "/guess")
        expect(page.locator(".guess-forecast")).to_have_text("预计全天：数据不足，00:05 后给出")
        page.goto(stack.base_url + "/guess?lang=en")
        expect(page.locator(".guess-forecast")).to_have_text(
            "Day forecast: not enough data yet, ready at 00:05")

        publish_sample(stack, sample_payloads())  # 23:58-00:08: the board is open
        wait_for(lambda: stack.live().get("orders") == TRUTH["accepted"], 120, "never counted")
        wait_for(lambda: stack.live().get("forecast", {}).get("status") == "ok", 60,
                 "no forecast")
        forecast = int(stack.live()["forecast"]["final_gmv_cents"])
        near_yi = round(forecast * 2 / 10**10, 2)  # twice the forecast: no question asked
        near = int(round(near_yi * 100)) * 10**8

        page.goto(stack.base_url + "/guess")
        expect(page.locator("label").filter(has_text="猜全天成交额")).not_to_contain_text("3200亿")
        note = page.locator("#guess-note")
        guess(page, "Mei", f"{near_yi}亿")
        expect(note).to_have_text(f"已记下：Mei 猜 {format_short(near, 'zh')}")
        table = page.locator(".guess-table")
        expect(table).to_contain_text(format_short(near, "zh"))
        expect(table).not_to_contain_text(format_exact(near))

        guess(page, "Bo", "3200亿")  # the old hint's example, tens of times the forecast
        expect(note).to_contain_text("确定吗")
        expect(note).to_contain_text(format_short(forecast, "zh"))
        expect(note).to_have_class("guess-note ask")
        expect(page.locator(".guess-table tr")).to_have_count(2)  # a header and Mei: not kept
        page.locator("#guess-submit").click()  # the same again: kept
        expect(note).to_have_text("已记下：Bo 猜 ¥3,200亿")
        expect(page.locator(".guess-table tr")).to_have_count(3)

        page.goto(stack.base_url + "/guess?lang=en")
        guess(page, "Bo", "32000亿")  # changed to another far one: asked again, in English
        expect(note).to_contain_text("times the forecast")
        expect(page.locator("#guess-yours")).to_have_text("")
        expect(page.locator(".guess-table")).to_contain_text("¥320B")
