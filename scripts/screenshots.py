"""Screenshots of a running war room (`make demo`, `gmv serve`) in headless Chromium: every page,
at every screen size, in both languages, for looking at (docs/screenshots/, a review of a change).

    .venv/bin/python scripts/screenshots.py --data data --out test-artifacts/walk
    .venv/bin/python scripts/screenshots.py --pages / /ops --sizes 390x844 3840x2160 --langs zh

A war room without users is opened with its local key (read from --data); with users, pass
--user NAME --password-env VAR (the password is read from that environment variable)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

from dashboard.local_key import local_link, read_local_key

CHROMIUM = os.environ.get("GMV_CHROMIUM", "/usr/bin/chromium")
SIZES = ("390x844", "1366x768", "1920x1080", "3840x2160")
PAGES = ("/", "/ops", "/review", "/guess")
SETTLE_S = 6.0  # the live pages poll once a second and redraw the night's charts every 5 s


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1920x1080") from None
    return width, height


def _name(page: str, lang: str, size: str) -> str:
    return f"{page.strip('/') or 'big-screen'}-{lang}-{size}.png"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8050", help="the war room's address")
    parser.add_argument("--data", type=Path, default=Path("data"), help="its data dir")
    parser.add_argument("--out", type=Path, default=Path("test-artifacts/screenshots"))
    parser.add_argument("--pages", nargs="+", default=list(PAGES))
    parser.add_argument("--sizes", nargs="+", type=_size, default=[_size(s) for s in SIZES])
    parser.add_argument("--langs", nargs="+", choices=("zh", "en"), default=["zh", "en"])
    parser.add_argument("--user", help="sign in as this user (a war room with users)")
    parser.add_argument("--password-env", default="GMV_PASSWORD",
                        help="the environment variable holding --user's password")
    args = parser.parse_args()
    key = read_local_key(args.data)
    if args.user is None and key is None:
        print(f"screenshots: no local key in {args.data} (is it the war room's data dir?)",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    total, done = len(args.pages) * len(args.sizes) * len(args.langs), 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for width, height in args.sizes:
            context = browser.new_context(viewport={"width": width, "height": height})
            if args.user is None:
                context.request.get(local_link(args.base, key or ""), max_redirects=0)
            else:
                _sign_in(context, args.base, args.user, os.environ.get(args.password_env, ""))
            page = context.new_page()
            for path in args.pages:
                for lang in args.langs:
                    page.goto(f"{args.base}{path}?lang={lang}", wait_until="networkidle")
                    time.sleep(SETTLE_S)  # a person looks at a page that has been up a while
                    target = args.out / _name(path, lang, f"{width}x{height}")
                    page.screenshot(path=str(target))
                    done += 1
                    print(f"[{done}/{total}] {target}", flush=True)
            context.close()
        browser.close()
    return 0


def _sign_in(context: BrowserContext, base: str, user: str, password: str) -> None:
    page = context.new_page()
    page.goto(f"{base}/login")
    page.locator("input[name=name]").fill(user)
    page.locator("input[name=password]").fill(password)
    page.locator("#sign-in").click()
    page.wait_for_load_state("networkidle")
    page.close()


if __name__ == "__main__":
    sys.exit(main())
