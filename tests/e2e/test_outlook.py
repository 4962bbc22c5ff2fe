"""Where the day is heading, in a real browser: the forecast beside the headline, and the staff
guessing game from the first guess to the winner on the big screen."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page, expect

from dashboard.format import format_compact, format_short
from dashboard.ids import Ids
from ingest.contract import midnight_ms
from tests.conftest import wait_for
from tests.e2e.conftest import CLI, Stack, let_in, publish_sample, running_stack, screenshot
from tests.sample import TRUTH, sample_payloads

MIDNIGHT = midnight_ms(date(2026, 11, 11))


def test_the_big_screen_shows_the_days_forecast(counted_sample: Stack, page: Page) -> None:
    stack = counted_sample
    wait_for(lambda: stack.live().get("forecast", {}).get("status") == "ok", 30,
             "no forecast in the snapshot")
    forecast = stack.live()["forecast"]
    page.goto(stack.base_url + "/")
    outlook = page.locator(f"#{Ids.OUTLOOK}")
    shown = f"预计全天 {format_compact(forecast['final_gmv_cents'], 'zh')}（80%：" \
        f"{format_compact(forecast['low_cents'], 'zh')}–{format_compact(forecast['high_cents'], 'zh')}）"
    expect(outlook).to_contain_text(shown, timeout=15_000)
    expect(outlook).to_contain_text("竞猜")
    page.goto(stack.base_url + "/?lang=en")
    expect(page.locator(f"#{Ids.OUTLOOK}")).to_contain_text(
        f"Day forecast {format_compact(forecast['final_gmv_cents'], 'en')} (80%:", timeout=15_000)


def order(order_id: str, ts_ms: int, amount: str) -> bytes:
    return json.dumps({"order_id": order_id, "ts": ts_ms, "amount": amount, "device": "mobile",
                       "category": "food", "region": "ZJ", "merchant_id": "m1",
                       "buyer_id": "b1", "item_id": "i1", "quantity": 1}).encode()


def guess(page: Page, name: str, amount: str) -> None:
    page.locator("#guess-name").fill(name)
    page.locator("#guess-amount").fill(amount)
    page.locator("#guess-submit").click()


def test_the_guessing_game_from_first_guess_to_winner(tmp_path: Path, page: Page) -> None:
    # The board closes at noon of the festival day, by the night's clock.
    with running_stack(tmp_path, {"GMV_GUESSES_CLOSE_AT": "2026-11-11T12:00"}) as stack:
        publish_sample(stack, sample_payloads())  # 23:58-00:08: the board is open
        wait_for(lambda: stack.live().get("orders") == TRUTH["accepted"], 120, "never counted")
        truth = int(Decimal(TRUTH["gmv"]) * 100)

        let_in(page.context)  # this stack began after the page: its local link now
        page.goto(stack.base_url + "/guess?lang=en")
        note = page.locator("#guess-note")
        guess(page, "Mei", "2亿")
        expect(note).to_have_text(f"Saved: Mei guesses {format_short(200_000_000_00, 'en')}")
        guess(page, "Mei", "1.5亿")  # changed: still one guess
        expect(note).to_contain_text(format_short(150_000_000_00, "en"))
        guess(page, "", "3亿")
        expect(note).to_have_text("a guess needs a name")
        guess(page, "Bo", "-5")
        expect(note).to_contain_text("number of yuan")
        guess(page, "Bo", f"{truth // 100 + 7_000_000}")  # the closest, ¥7,000,000 over
        expect(note).to_contain_text("Saved: Bo")
        rows = page.locator(".guess-table tr")
        expect(rows).to_have_count(3)  # a header, Mei and Bo
        screenshot(page, "guess-page")

        # Written to disk: another process reads them.
        board = json.loads(subprocess.run([*CLI, "guesses", "--json", *stack.where, "-q"],
                                          check=True, capture_output=True).stdout)
        assert sorted((g["name"], g["amount"]) for g in board["guesses"]) == [
            ("Bo", f"{truth // 100 + 7_000_000}.00"), ("Mei", "150000000.00")]

        # During the day "closest" is to the forecast (the whole day's, far above the sample's
        # ten minutes): Mei's ¥1.5亿, though Bo will win on the final.
        forecast = stack.live()["forecast"]["final_gmv_cents"]
        assert abs(150_000_000_00 - forecast) < abs(truth + 7_000_000_00 - forecast)
        page.goto(stack.base_url + "/ops?lang=en")
        expect(page.locator("#ops-closest")).to_contain_text("Closest right now: Mei",
                                                             timeout=15_000)

        # Noon passes on the night's clock (orders at noon: one alone would not move it,
        # ingest/clock.py): the board is frozen.
        publish_sample(stack, [order(f"noon-{i}", MIDNIGHT + 12 * 3_600_000 + 5_000 + i, "10.00")
                               for i in range(5)])
        wait_for(lambda: stack.live().get("orders") == TRUTH["accepted"] + 5, 60, "no noon")
        page.goto(stack.base_url + "/guess?lang=en")
        expect(page.locator(".guess-frozen")).to_contain_text("closed at 2026-11-11 12:00")
        expect(page.locator("#guess-submit")).to_have_count(0)

        # The day ends: the big screen names the winner, closest to the final GMV.
        publish_sample(stack, [order(f"late-{i}", MIDNIGHT + 86_400_000 - 5_000 + i, "20.00")
                               for i in range(3)]
                       + [order(f"next-day-{i}", MIDNIGHT + 86_400_000 + 30_000 + i, "30.00")
                          for i in range(3)])
        wait_for(lambda: stack.live().get("forecast", {}).get("method") == "final", 60,
                 "the day never ended")
        final = stack.live()["forecast"]["final_gmv_cents"]
        assert final == truth + 5 * 10_00 + 3 * 20_00  # the next day's are not the festival's
        page.goto(stack.base_url + "/?lang=en")
        outlook = page.locator(f"#{Ids.OUTLOOK}")
        expect(outlook).to_contain_text("Winner", timeout=15_000)
        expect(outlook.locator(".leader.winner")).to_contain_text("1. Bo")
        expect(outlook).to_contain_text("2. Mei")
        expect(outlook).to_contain_text(f"The day's final {format_compact(final, 'en')}")
        screenshot(page, "big-screen-winner")
