#!/usr/bin/env bash
# The browser tests need a Chromium and CJK fonts (the war room speaks Chinese). Installs Debian's
# `chromium` and `fonts-noto-cjk` when they are missing and this user can (root with apt-get);
# otherwise stops with one line that says what to install. Used by `make test` and `.ci/run`.
set -euo pipefail

chromium="${GMV_CHROMIUM:-/usr/bin/chromium}"
missing=()
[ -x "$chromium" ] || missing+=(chromium)
if ! { command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh family | grep -q .; }; then
    missing+=(fonts-noto-cjk)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-browser: installing Debian's ${missing[*]} for the browser tests (once)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" fontconfig >/dev/null
    exit 0
fi
echo "ensure-browser: the browser tests need ${missing[*]}: install them as root" \
     "(apt-get install ${missing[*]}), or point GMV_CHROMIUM at another Chromium build" >&2
exit 1
