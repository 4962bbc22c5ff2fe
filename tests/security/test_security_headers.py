"""Issue #23, row 14: every answer of the dashboard carries the security headers (a
Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, Referrer-Policy): pages,
assets, the JSON API, refusals and errors. And the policy is one the war room works under: in
Chromium every page (the big screen, /ops, /review, /guess, the sign-in page and a kiosk link's
big screen) loads and draws its charts with no violation reported, while a script injected into
a page does not run. A real `gmv serve` with users and the sample night counted."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from dashboard.accounts import Accounts
from dashboard.ids import Ids
from rehearsal.publish import StreamPublisher
from tests.conftest import wait_for
from tests.e2e.conftest import CLI, Stack, publish_sample, running_stack
from tests.sample import STOCK, TRUTH, sample_payloads

PASSWORD = "ada-has-a-long-password"
FIXED = {"x-frame-options": "DENY", "x-content-type-options": "nosniff",
         "referrer-policy": "same-origin"}
POLICY = {"default-src": "'self'", "style-src": "'self' 'unsafe-inline'",
          "img-src": "'self' data:", "frame-ancestors": "'none'", "object-src": "'none'",
          "base-uri": "'self'", "form-action": "'self'"}
# Each reported violation becomes a console line the test collects (the event also fires for
# what the policy only reports).
REPORT_VIOLATIONS = """document.addEventListener('securitypolicyviolation', e =>
  console.error('csp-violation: ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sample));"""
CHART_TEXT = ".js-plotly-plot svg text"


@pytest.fixture(scope="module")
def war_room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("headers")
    Accounts(home / "data").add_user("ada", "admin", PASSWORD)
    with running_stack(home, {"GMV_GUESSES_CLOSE_AT": "2026-11-12T00:00:00"}) as stack:
        StreamPublisher(stack.client, stack.settings.inventory_stream).publish(
            STOCK.read_bytes().splitlines())
        publish_sample(stack, sample_payloads())
        wait_for(lambda: stack.live().get("orders") == TRUTH["accepted"], 120,
                 "the worker never counted the sample")
        yield stack


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object) -> None:
        return None


def headers_of(url: str, method: str = "GET", host: str | None = None) -> tuple[int, dict[str, str]]:
    """The status and headers of one answer, as sent (a redirect is not followed)."""
    request = urllib.request.Request(url, method=method, headers={"Host": host} if host else {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=30) as response:
            return int(response.status), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}


def policy_of(headers: dict[str, str]) -> dict[str, str]:
    assert "content-security-policy" in headers, headers
    directives = (d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";"))
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives if d[0]}


def assert_secured(headers: dict[str, str]) -> None:
    policy = policy_of(headers)
    for name, value in POLICY.items():
        assert policy.get(name) == value, (name, policy)
    scripts = policy["script-src"].split()
    assert scripts[0] == "'self'" and all(s.startswith("'sha256-") for s in scripts[1:]), scripts
    assert "unsafe-eval" not in headers["content-security-policy"]
    assert "unsafe-inline" not in policy["script-src"]
    for name, value in FIXED.items():
        assert headers.get(name) == value, (name, headers)


@pytest.mark.parametrize(("path", "method", "status"), [
    ("/login", "GET", 200), ("/", "GET", 302), ("/ops", "GET", 302), ("/kiosk/not-a-link", "GET", 403),
    ("/assets/style.css", "GET", 401), ("/_dash-layout", "GET", 401),
    ("/api/live", "GET", 401), ("/api/summary", "GET", 401), ("/api/nothing", "GET", 404),
    ("/api/live", "POST", 405), ("/?lang=xx", "GET", 400), ("/no-such-page", "GET", 401),
    ("/logout", "POST", 400), ("/logout", "GET", 405)])
def test_every_answer_carries_the_security_headers(war_room: Stack, path: str, method: str,
                                                   status: int) -> None:
    found, headers = headers_of(war_room.base_url + path, method)
    assert found == status, (path, found)
    assert_secured(headers)


def test_a_refused_host_and_a_signed_in_page_carry_them_too(war_room: Stack) -> None:
    status, headers = headers_of(war_room.base_url + "/login", host="rebind.attacker.example")
    assert status == 400
    assert_secured(headers)


@pytest.fixture()
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    opened.add_init_script(REPORT_VIOLATIONS)
    yield opened
    opened.close()


class Watched:
    """A page whose console lines and errors about the policy are kept."""

    def __init__(self, page: Page) -> None:
        self.page, self.violations = page, []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.violations.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if "csp-violation" in message.text or "Content Security Policy" in message.text:
            self.violations.append(message.text)

    def open(self, url: str) -> None:
        response = self.page.goto(url)
        assert response is not None and response.ok, url
        assert_secured({k.lower(): v for k, v in response.headers.items()})


def signed_in(context: BrowserContext, stack: Stack) -> Watched:
    watched = Watched(context.new_page())
    watched.open(stack.base_url + "/login?lang=en")
    assert not watched.violations, watched.violations
    watched.page.fill("#name", "ada")
    watched.page.fill("#password", PASSWORD)
    watched.page.click("#sign-in")
    watched.page.wait_for_url(stack.base_url + "/")
    return watched


def charts_drawn(page: Page, at_least: int) -> None:
    """At least `at_least` charts drawn with their text, none still being plotted (waits by
    selectors: nothing here needs eval, which the policy forbids)."""
    expect(page.locator(".js-plotly-plot:has(svg text)").nth(at_least - 1)) \
        .to_be_attached(timeout=30_000)
    expect(page.locator(".dash-graph--pending")).to_have_count(0, timeout=30_000)


def test_what_a_signed_in_browser_fetches_carries_them(war_room: Stack,
                                                      context: BrowserContext) -> None:
    """The pages' scripts, styles, Dash's own routes and the API, answered (200)."""
    watched = signed_in(context, war_room)
    scripts = watched.page.locator("script[src]").evaluate_all("s => s.map(e => e.src)")
    assert any("_dash-component-suites" in s for s in scripts), scripts
    for url in [*scripts, *(war_room.base_url + p for p in (
            "/assets/style.css", "/_dash-layout", "/_dash-dependencies", "/api/live",
            "/api/night-figures", "/api/alerts", "/_favicon.ico"))]:
        answer = context.request.get(url)
        assert answer.status == 200, (url, answer.status)
        assert_secured({k.lower(): v for k, v in answer.headers.items()})


@pytest.mark.parametrize(("path", "charts"), [("/", 4), ("/ops", 4), ("/review", 2)])
def test_the_pages_draw_their_charts_under_the_policy(war_room: Stack, context: BrowserContext,
                                                      path: str, charts: int) -> None:
    watched = signed_in(context, war_room)
    watched.open(war_room.base_url + path)
    expect(watched.page.locator(CHART_TEXT).first).to_be_attached(timeout=30_000)
    charts_drawn(watched.page, charts)
    assert not watched.violations, watched.violations


def test_the_guess_page_takes_a_guess_under_the_policy(war_room: Stack,
                                                       context: BrowserContext) -> None:
    watched = signed_in(context, war_room)
    watched.open(war_room.base_url + "/guess?lang=en")
    page = watched.page
    if page.locator(f"#{Ids.GUESS_NAME}").is_editable():
        page.fill(f"#{Ids.GUESS_NAME}", "ada")
    page.fill(f"#{Ids.GUESS_AMOUNT}", "3200亿")
    page.click(f"#{Ids.GUESS_SUBMIT}")
    note = page.locator(f"#{Ids.GUESS_NOTE}")
    expect(note).not_to_be_empty(timeout=20_000)
    if "ask" in (note.get_attribute("class") or ""):  # far above the forecast: asked, once
        page.click(f"#{Ids.GUESS_SUBMIT}")
    expect(page.locator(f"#{Ids.GUESS_BOARD}")).to_contain_text("¥320B", timeout=20_000)
    assert not watched.violations, watched.violations


def test_a_kiosk_link_opens_the_big_screen_under_the_policy(war_room: Stack,
                                                            context: BrowserContext) -> None:
    made = subprocess.run([*CLI, "kiosk-link", "--label", "headers wall", "--url",
                           war_room.base_url, *war_room.where],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    watched = Watched(context.new_page())
    watched.open(link)
    expect(watched.page.locator(CHART_TEXT).first).to_be_attached(timeout=30_000)
    charts_drawn(watched.page, 4)
    assert not watched.violations, watched.violations


def test_a_script_injected_into_a_page_does_not_run(war_room: Stack,
                                                    context: BrowserContext) -> None:
    """What the policy is for: markup that got into a page cannot run a script of its own."""
    watched = Watched(context.new_page())
    watched.open(war_room.base_url + "/login")
    with watched.page.expect_console_message(lambda m: "script-src" in m.text, timeout=10_000):
        watched.page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.injected = true';
        document.body.appendChild(s);
        const img = document.createElement('img');
        img.setAttribute('onerror', 'window.injected = true');
        img.src = 'data:,broken';
        document.body.appendChild(img);
    }""")
    expect(watched.page.locator("#name")).to_be_visible()
    assert watched.page.evaluate("() => window.injected") is None
