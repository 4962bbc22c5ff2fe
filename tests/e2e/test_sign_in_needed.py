"""A screen the server stops answering says why (issue #24, item 2): `gmv user add` ends the local
war room's trust, and the big screen that was open says that sign-in is needed and goes to the
sign-in page, instead of greying out as if the pipeline had stopped; a kiosk wall whose link is
revoked says so and stays (no sign-in page can help it)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from dashboard.format import text
from dashboard.ids import Ids
from tests.e2e.conftest import CLI, LIVE_BANNER, Stack, let_in, running_stack

WAIT_MS = 60_000  # only a real failure reaches it

# Every banner text a page of the context showed, kept in the tab's sessionStorage (it outlives
# the page: the sign-in page can still be asked what the big screen said before it went).
RECORD_BANNERS = """
(() => {
  const seen = () => JSON.parse(sessionStorage.getItem("banners") || "[]");
  const look = () => {
    const shown = seen();
    for (const id of BANNER_IDS) {
      const banner = document.getElementById(id);
      // The stream of these stacks is silent: the banner that says so is not what they watch.
      const said = banner && banner.classList.contains("banner-on")
        && !banner.classList.contains("banner-quiet") ? banner.textContent : "";
      if (said && !shown.some(s => s.id === id && s.text === said)) shown.push({id, text: said});
    }
    sessionStorage.setItem("banners", JSON.stringify(shown));
  };
  new MutationObserver(look).observe(document, {subtree: true, childList: true,
                                                attributes: true, characterData: true});
})();
""".replace("BANNER_IDS", json.dumps([Ids.STALE_BANNER, Ids.SIGN_IN_BANNER]))


def banners_seen(page: Page) -> list[dict[str, Any]]:
    return list(json.loads(page.evaluate("sessionStorage.getItem('banners') || '[]'")))


def from_refusal(seen: list[dict[str, Any]], says: str) -> list[dict[str, Any]]:
    """The banners from the one that says why the server refused on (in the order shown). What
    came before is the screen of a machine that was slow to run the command: a starved machine
    may let the data age past 3 s while the command starts, and the staleness banner then tells
    the truth; what matters is that the refusal is said, and nothing after it says "stale"."""
    said = [i for i, s in enumerate(seen) if s["id"] == Ids.SIGN_IN_BANNER and s["text"] == says]
    assert said, seen
    return seen[said[0]:]


def gmv(stack: Stack, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args, "--data", str(stack.settings.data_dir)], input=password,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def add_user(stack: Stack, name: str) -> None:
    gmv(stack, "user", "add", name, "--role", "admin", password=f"{name}-has-a-long-password\n")


def watch_live(page: Page) -> None:
    """Until the worker's snapshot is on the screen with no banner up; then the banners shown from
    here on are recorded (a page still loading on a busy machine may have said "waiting" or
    "stale" before: not what these tests watch)."""
    expect(page.locator(f"#{Ids.STALE_BANNER}")).to_have_class(LIVE_BANNER, timeout=WAIT_MS)
    page.evaluate("sessionStorage.removeItem('banners')")


def test_adding_a_user_sends_the_open_big_screen_to_sign_in_not_to_grey(
        browser: Browser, tmp_path: Path) -> None:
    with running_stack(tmp_path) as stack:
        context = let_in(browser.new_context(viewport={"width": 1920, "height": 1080},
                                             locale="zh-CN"))
        context.add_init_script(RECORD_BANNERS)
        page = context.new_page()
        page.goto(f"{stack.base_url}/")
        watch_live(page)

        add_user(stack, "mei")

        page.wait_for_url(f"{stack.base_url}/login?next=/", timeout=WAIT_MS)
        expect(page.locator("#sign-in")).to_be_visible()
        seen = banners_seen(page)
        context.close()
    assert from_refusal(seen, text("zh", "sign_in_needed")) == [
        {"id": Ids.SIGN_IN_BANNER, "text": text("zh", "sign_in_needed")}], seen


def test_a_kiosk_wall_whose_link_is_revoked_says_so_and_is_not_sent_to_sign_in(
        browser: Browser, tmp_path: Path) -> None:
    with running_stack(tmp_path) as stack:
        add_user(stack, "ada")
        made = gmv(stack, "kiosk-link", "--label", "lobby wall", "--url", stack.base_url)
        link_id = made.stderr.split("kiosk link ", 1)[1].split(":", 1)[0]
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        context.add_init_script(RECORD_BANNERS)
        page = context.new_page()
        page.goto(made.stdout.strip())
        expect(page).to_have_url(f"{stack.base_url}/?lang=zh")
        watch_live(page)
        refused: list[int] = []
        page.on("response", lambda r: refused.append(r.status) if r.status == 401 else None)

        gmv(stack, "kiosk-link", "--revoke", link_id)

        expect(page.locator(f"#{Ids.SIGN_IN_BANNER}")).to_have_text(
            text("zh", "kiosk_link_ended"), timeout=WAIT_MS)
        # Longer than the staleness banner waits (3 s) and the sign-in page would be (2 s): the
        # screen keeps polling, refused once a second, and stays where it is.
        while len(refused) < 6:
            page.wait_for_event("response", timeout=WAIT_MS)
        assert page.url == f"{stack.base_url}/?lang=zh"
        seen = banners_seen(page)
        context.close()
    assert from_refusal(seen, text("zh", "kiosk_link_ended")) == [
        {"id": Ids.SIGN_IN_BANNER, "text": text("zh", "kiosk_link_ended")}], seen


def test_a_screen_whose_pass_ended_says_so_and_reloads_into_the_page_that_says_why(
        browser: Browser, tmp_path: Path) -> None:
    """A 403: without users, `gmv local-link --new` ends every browser's pass."""
    with running_stack(tmp_path) as stack:
        context = let_in(browser.new_context(viewport={"width": 1920, "height": 1080},
                                             locale="zh-CN"))
        context.add_init_script(RECORD_BANNERS)
        page = context.new_page()
        page.goto(f"{stack.base_url}/ops")
        watch_live(page)

        gmv(stack, "local-link", "--new", "--url", stack.base_url)

        expect(page.locator("#no-users")).to_be_visible(timeout=WAIT_MS)
        assert page.url == f"{stack.base_url}/ops"
        seen = banners_seen(page)
        context.close()
    assert from_refusal(seen, text("zh", "access_changed")) == [
        {"id": Ids.SIGN_IN_BANNER, "text": text("zh", "access_changed")}], seen
