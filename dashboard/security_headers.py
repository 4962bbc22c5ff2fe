"""The headers every answer of the dashboard carries: a Content-Security-Policy that Dash and
Plotly work under (scripts only from this site and Dash's own inline script, by its hash; no
eval), no framing, no MIME sniffing, no referrer beyond this site."""

from __future__ import annotations

from collections.abc import Sequence


def content_security_policy(script_hashes: Sequence[str]) -> str:
    """`script_hashes`: the hashes of the inline scripts the pages carry (`Dash.csp_hashes()`).
    Styles may be inline: Plotly writes its own, and Dash sets components' `style`."""
    directives = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "frame-ancestors": "'none'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(script_hashes: Sequence[str]) -> list[tuple[str, str]]:
    return [
        ("Content-Security-Policy", content_security_policy(script_hashes)),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
    ]
