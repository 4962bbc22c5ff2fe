"""Issue #23, row 1: after signing in, the browser goes to a path of this site only, whatever
`next` holds (a tab or newline that browsers drop, a backslash they read as a slash)."""

from __future__ import annotations

import pytest

from dashboard.gate import _safe_next


@pytest.mark.parametrize("target", [
    "/\t/evil.example/phish", "/\n/evil.example", "/\r/evil.example", "//evil.example",
    "/\\evil.example", "\\\\evil.example", "https://evil.example/", "javascript:alert(1)",
    " /ops", "/ops\x00", "/\x7f/evil.example", "evil.example", "", None,
])
def test_a_target_that_could_leave_the_site_goes_to_the_big_screen(target: str | None) -> None:
    assert _safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/ops", "/review?lang=en", "/guess?lang=zh#board"])
def test_a_path_of_this_site_is_kept(target: str) -> None:
    assert _safe_next(target) == target
