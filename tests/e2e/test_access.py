"""Who may see and do what, in Chromium against the real stack with users: each role's pages and
actions, what it is refused, the kiosk link, signing out, CSRF, and acknowledgements of alerts
that do not exist."""

from __future__ import annotations

import http.client
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import APIResponse, Browser, BrowserContext, Page, expect

from dashboard.accounts import Accounts
from dashboard.ids import Ids
from dashboard.push import REAUTH_EVERY_S
from ingest.history import read_summary
from rehearsal.publish import StreamPublisher
from tests.conftest import wait_for
from tests.e2e.conftest import CLI, Stack, publish_sample, running_stack, screenshot
from tests.e2e.sse import EventReader
from tests.sample import STOCK, TRUTH, sample_payloads

USERS = {"vera": "viewer", "otto": "operator", "ana": "analyst", "ada": "admin"}
SUMMARY_LIMIT = 5
PROXY_HEADER = "X-Forwarded-User"


def password(name: str) -> str:
    return f"{name}-has-a-long-password"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A war room with a user of each role (the admin added by `gmv user add`, as people do) and
    the sample night counted."""
    home = tmp_path_factory.mktemp("secured")
    data = home / "data"
    added = subprocess.run([*CLI, "user", "add", "ada", "--role", "admin", "--data", str(data)],
                           input=password("ada") + "\n", capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    accounts = Accounts(data)
    for name, role in USERS.items():
        if name != "ada":
            accounts.add_user(name, role, password(name))
    with running_stack(home, {"GMV_SUMMARY_RATE_PER_MIN": str(SUMMARY_LIMIT),
                              "GMV_TRUSTED_USER_HEADER": PROXY_HEADER}) as stack:
        StreamPublisher(stack.client, stack.settings.inventory_stream).publish(
            STOCK.read_bytes().splitlines())
        publish_sample(stack, sample_payloads())
        wait_for(lambda: stack.live().get("orders") == TRUTH["accepted"], 120,
                 "the worker never counted the sample")
        wait_for(lambda: _summary_orders(data) == TRUTH["accepted"], 60,
                 "the history files never caught up")
        yield stack


def _summary_orders(data: Path) -> int:
    try:
        return int(read_summary(data)["orders"])
    except FileNotFoundError:
        return 0


@pytest.fixture()
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport={"width": 1920, "height": 1080}, accept_downloads=True)
    errors: list[str] = []
    opened.on("weberror", lambda error: errors.append(str(error.error)))
    yield opened
    opened.close()
    assert not errors, f"the page raised: {errors}"


def sign_in(context: BrowserContext, stack: Stack, name: str, path: str = "/") -> Page:
    """Opens `path`, is sent to the sign-in page, signs in and is sent back to `path`."""
    page = context.new_page()
    page.goto(f"{stack.base_url}{path}")
    expect(page.locator("#sign-in")).to_be_visible()
    page.fill("#name", name)
    page.fill("#password", password(name))
    page.click("#sign-in")
    expect(page).to_have_url(f"{stack.base_url}{path}")
    return page


def status_without_redirects(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as response:
            return int(response.status), ""
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location") or ""


def callback_body(output: str, inputs: list[dict[str, Any]],
                  state: list[dict[str, Any]]) -> dict[str, Any]:
    """A Dash callback request as the renderer sends it (one output)."""
    component, prop = output.rsplit(".", 1)
    return {"output": output, "outputs": {"id": component, "property": prop}, "inputs": inputs,
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"], "state": state}


AUDIT_CALL = callback_body(f"{Ids.AUDIT}.children",
                           [{"id": Ids.SLOW_TICK, "property": "n_intervals", "value": 1}],
                           [{"id": Ids.LANG, "property": "data", "value": "en"}])
DRILL_CALL = {
    "output": f"..{Ids.DRILL_CHART}.figure...{Ids.DRILL_TITLE}.children..",
    "outputs": [{"id": Ids.DRILL_CHART, "property": "figure"},
                {"id": Ids.DRILL_TITLE, "property": "children"}],
    "inputs": [{"id": Ids.DRILL_VALUE, "property": "value", "value": "mobile"},
               {"id": Ids.SLOW_TICK, "property": "n_intervals", "value": 1}],
    "changedPropIds": [f"{Ids.DRILL_VALUE}.value"],
    "state": [{"id": Ids.DRILL_DIMENSION, "property": "value", "value": "device"},
              {"id": Ids.LANG, "property": "data", "value": "en"}]}


def ack_call(key: str) -> dict[str, Any]:
    pressed = {"type": Ids.ACK_BUTTON, "key": key}
    return {"output": f"{Ids.ACK_NOTE}.children",
            "outputs": {"id": Ids.ACK_NOTE, "property": "children"},
            "inputs": [[{"id": pressed, "property": "n_clicks", "value": 1}]],
            "changedPropIds": [json.dumps(pressed, separators=(",", ":"), sort_keys=True)
                               + ".n_clicks"],
            "state": [{"id": Ids.LANG, "property": "data", "value": "en"}]}


def post_callback(page: Page, body: dict[str, Any], csrf: bool = True) -> APIResponse:
    """The callback request from this browser's session, with the CSRF header its renderer
    sends (or without it)."""
    token = next((c["value"] for c in page.context.cookies() if c["name"] == "_csrf_token"), "")
    headers = {"Content-Type": "application/json", **({"X-CSRFToken": token} if csrf else {})}
    return page.request.post(page.url.split("?")[0].rsplit("/", 1)[0] + "/_dash-update-component",
                             data=json.dumps(body), headers=headers)


def api_status(page: Page, stack: Stack, path: str) -> int:
    return page.request.get(stack.base_url + path, max_redirects=0).status


def test_without_signing_in_there_is_only_the_sign_in_page(secured: Stack,
                                                           context: BrowserContext) -> None:
    base = secured.base_url
    for path in ("/", "/ops", "/review?lang=en"):
        status, location = status_without_redirects(base + path)
        assert status == 302 and location.startswith("/login?next=/"), (path, status, location)
    for path in ("/api/live", "/api/night-figures", "/api/summary", "/api/alerts", "/_dash-layout",
                 "/_dash-dependencies", "/assets/live.js"):
        assert status_without_redirects(base + path)[0] == 401, path
    page = context.new_page()
    page.goto(base + "/ops")
    expect(page.locator("#sign-in")).to_be_visible()
    page.fill("#name", "otto")
    page.fill("#password", "not-his-password")
    page.click("#sign-in")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码不对")
    screenshot(page, "sign-in-refused")
    failed = [e for e in Accounts(secured.settings.data_dir).audit() if e["action"] == "sign_in_failed"]
    assert failed and failed[-1]["who"] == "otto" and failed[-1]["source"] == "127.0.0.1"


def test_a_viewer_sees_the_big_screen_and_nothing_else(secured: Stack,
                                                       context: BrowserContext) -> None:
    page = sign_in(context, secured, "vera")
    expect(page.locator(f"#{Ids.GMV_EXACT}")).to_have_text(f"¥{float(TRUTH['gmv']):,.2f}",
                                                           timeout=20_000)
    for path in ("/ops", "/review"):
        response = page.goto(secured.base_url + path)
        assert response is not None and response.status == 403
        expect(page.locator("h1")).to_contain_text("此页面不对你的角色开放")
    assert api_status(page, secured, "/api/live") == 200
    assert api_status(page, secured, "/api/summary") == 403
    assert api_status(page, secured, "/api/alerts") == 403
    # The operations view's callbacks refuse a viewer, whatever the browser sends.
    page.goto(secured.base_url + "/")
    assert post_callback(page, DRILL_CALL).status == 403
    assert post_callback(page, AUDIT_CALL).status == 403


def test_an_operator_acknowledges_and_every_screen_says_who(secured: Stack,
                                                           context: BrowserContext) -> None:
    page = sign_in(context, secured, "otto", "/ops?lang=en")
    expect(page).to_have_url(secured.base_url + "/ops?lang=en")
    expect(page.locator(f"#{Ids.WHO}")).to_have_text("otto · operator")
    oversell = page.locator(f"#{Ids.ALERTS}").locator("li", has_text="Oversell").first
    # The feed is redrawn every second: a press can land on a button being replaced, and an
    # operator would press again.
    wait_for(lambda: _pressed(page, oversell), 30, "the acknowledgement was never taken")
    expect(oversell).to_contain_text("acknowledged by otto", timeout=15_000)
    (entry,) = [e for e in Accounts(secured.settings.data_dir).audit()
                if e["action"] == "acknowledge"]
    assert entry["who"] == "otto" and entry["role"] == "operator" and entry["what"]["alert"]
    # Another screen shows it too (the feed and the stored alerts).
    other = sign_in(context.browser.new_context(), secured, "ada", "/ops?lang=en")  # type: ignore[union-attr]
    expect(other.locator(f"#{Ids.ALERTS}")).to_contain_text("acknowledged by otto")
    other.context.close()
    acked = [a for a in json.loads(page.request.get(secured.base_url + "/api/alerts").text())
             if a.get("acknowledged_by")]
    assert [a["acknowledged_by"] for a in acked] == ["otto"]
    assert page.goto(secured.base_url + "/review").status == 403  # type: ignore[union-attr]
    page.goto(secured.base_url + "/ops")
    assert post_callback(page, DRILL_CALL).status == 200  # what a viewer is refused, below


def _pressed(page: Page, alert: Any) -> bool:
    button = alert.get_by_role("button", name="Acknowledge")
    if button.count():
        button.first.click()
    try:
        expect(page.locator(f"#{Ids.ACK_NOTE}")).to_contain_text("acknowledged", timeout=3_000)
    except AssertionError:
        return False
    return True


def test_acknowledging_an_alert_that_does_not_exist_is_refused_and_writes_nothing(
        secured: Stack, context: BrowserContext) -> None:
    page = sign_in(context, secured, "otto", "/ops")
    expect(page.locator(f"#{Ids.ALERTS}")).to_be_visible()
    before = secured.client.hgetall(secured.settings.acks_key)
    for key in ("oversell|item=i0000000|1794326400000", "x" * 5000, "../../etc"):
        assert post_callback(page, ack_call(key)).status == 400
    assert secured.client.hgetall(secured.settings.acks_key) == before


def test_state_changes_without_the_csrf_token_are_refused(secured: Stack,
                                                          context: BrowserContext) -> None:
    page = sign_in(context, secured, "ada", "/ops")
    expect(page.locator(f"#{Ids.AUDIT}")).to_be_visible()
    assert post_callback(page, AUDIT_CALL).status == 200
    refused = post_callback(page, AUDIT_CALL, csrf=False)
    assert refused.status == 400 and "CSRF" in refused.text()
    forged_sign_in = page.request.post(secured.base_url + "/login",
                                       form={"name": "ada", "password": password("ada")},
                                       max_redirects=0)
    assert forged_sign_in.status == 400


def test_an_analyst_reviews_and_exports_and_the_export_is_audited(
        secured: Stack, context: BrowserContext) -> None:
    page = sign_in(context, secured, "ana", "/review?lang=en")
    expect(page.locator(f"#{Ids.REVIEW_TOTALS}")).to_contain_text("GMV", timeout=30_000)
    with page.expect_download(timeout=60_000) as download:
        page.click(f"#{Ids.EXPORT_CSV}")
    assert download.value.suggested_filename.endswith(".csv")
    exports = [e for e in Accounts(secured.settings.data_dir).audit() if e["action"] == "export"]
    assert exports and exports[-1]["who"] == "ana" and exports[-1]["what"]["kind"] == "csv"
    assert exports[-1]["what"]["rows"] > 0
    assert page.goto(secured.base_url + "/ops").status == 403  # type: ignore[union-attr]
    # /api/summary is limited per person: the limit is said with when to come back.
    statuses = [page.request.get(secured.base_url + "/api/summary") for _ in range(2 * SUMMARY_LIMIT + 2)]
    refused = [r for r in statuses if r.status == 429]
    assert refused and int(refused[0].headers["retry-after"]) > 0
    assert {r.status for r in statuses} == {200, 429}


def test_an_admin_sees_the_audit_log_on_the_operations_view(secured: Stack,
                                                            context: BrowserContext) -> None:
    page = sign_in(context, secured, "ada", "/ops?lang=en")
    audit = page.locator(f"#{Ids.AUDIT}")
    expect(audit).to_contain_text("signed in")  # in words, not the log's code (sign_in)
    expect(audit).to_contain_text("ada")
    expect(audit.locator("li").first).to_contain_text("127.0.0.1")
    screenshot(page, "ops-admin-audit")


def test_a_kiosk_link_opens_the_big_screen_only_until_it_is_revoked(
        secured: Stack, context: BrowserContext) -> None:
    where = ["--data", str(secured.settings.data_dir)]
    made = subprocess.run([*CLI, "kiosk-link", "--label", "lobby wall", "--url",
                           secured.base_url, *where], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith(secured.base_url + "/kiosk/") and len(link.rsplit("/", 1)[1]) >= 40
    link_id = made.stderr.split("kiosk link ", 1)[1].split(":", 1)[0]
    page = context.new_page()
    page.goto(link)
    expect(page).to_have_url(secured.base_url + "/?lang=zh")
    expect(page.locator(f"#{Ids.GMV_EXACT}")).to_have_text(f"¥{float(TRUTH['gmv']):,.2f}",
                                                           timeout=20_000)
    assert page.goto(secured.base_url + "/ops").status == 403  # type: ignore[union-attr]
    assert api_status(page, secured, "/api/summary") == 403
    assert page.goto(link[:-3] + "abc").status == 403  # type: ignore[union-attr]
    # The wall's push stream, open while the link is revoked, ends (it is checked again every
    # few seconds): it does not go on showing the night to a revoked wall.
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies(secured.base_url))
    stream = EventReader(secured.base_url + "/api/stream?lang=zh", {"Cookie": cookies})
    assert stream.status == 200
    wait_for(lambda: stream.snapshots(), 20, "the kiosk's stream sent nothing")
    revoked = subprocess.run([*CLI, "kiosk-link", "--revoke", link_id, *where],
                             capture_output=True, text=True, timeout=60)
    assert revoked.returncode == 0, revoked.stderr
    wait_for(lambda: api_status(page, secured, "/api/live") == 401, 10,
             "a revoked kiosk link still reads the snapshot")
    # At the next frame after the access file moved (not REAUTH_EVERY_S later).
    assert stream.ended.wait(REAUTH_EVERY_S / 2), "a revoked kiosk link's stream stayed open"
    assert stream.named("refused") == [{"status": "401 Unauthorized"}]
    stream.close()


def test_signing_out_ends_the_session(secured: Stack, context: BrowserContext) -> None:
    page = sign_in(context, secured, "otto", "/ops")
    expect(page.locator(f"#{Ids.WHO}")).to_be_visible()
    page.click(f"#{Ids.SIGN_OUT}")
    expect(page.locator("#sign-in")).to_be_visible()
    status, location = status_without_redirects(
        secured.base_url + "/ops",
        {"Cookie": "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())})
    assert status == 302 and location.startswith("/login")
    assert [e["action"] for e in Accounts(secured.settings.data_dir).audit()
            if e["who"] == "otto"][-1] == "sign_out"


def test_a_trusted_proxy_names_the_user_and_the_role_still_decides(secured: Stack) -> None:
    """Single sign-on (GMV_TRUSTED_USER_HEADER): the proxy's name signs the request in; the
    user must exist here, and gets only its role."""
    base = secured.base_url
    assert status_without_redirects(base + "/ops", {PROXY_HEADER: "otto"})[0] == 200
    assert status_without_redirects(base + "/api/alerts", {PROXY_HEADER: "otto"})[0] == 200
    assert status_without_redirects(base + "/review", {PROXY_HEADER: "otto"})[0] == 403
    assert status_without_redirects(base + "/api/live", {PROXY_HEADER: "vera"})[0] == 200
    assert status_without_redirects(base + "/api/alerts", {PROXY_HEADER: "vera"})[0] == 403
    status, location = status_without_redirects(base + "/ops", {PROXY_HEADER: "mallory"})
    assert status == 302 and location.startswith("/login")
    assert status_without_redirects(base + "/api/live", {PROXY_HEADER: "mallory"})[0] == 401


def first_status(stack: Stack, path: str, headers: dict[str, str]) -> int:
    """The status a GET is answered with (a stream's, without reading it)."""
    connection = http.client.HTTPConnection("127.0.0.1", int(stack.base_url.rsplit(":", 1)[1]),
                                            timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/ops", "/api/live", "/api/stream?lang=en"])
def test_the_proxys_header_spelt_with_underscores_names_nobody(secured: Stack, path: str) -> None:
    """A proxy strips the client's own `X-Forwarded-User` before it adds its own, but passes
    `X_Forwarded_User` on: gunicorn drops a header with an underscore in its name; under the push
    server (a2wsgi) it read as the trusted header, and anyone could name themselves otto."""
    assert first_status(secured, path, {PROXY_HEADER: "otto"}) == 200  # the proxy's own
    assert first_status(secured, path, {PROXY_HEADER.replace("-", "_"): "otto"}) == \
        (302 if path == "/ops" else 401)
