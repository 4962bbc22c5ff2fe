"""The roles as the command line, the gate and the README name them."""

from __future__ import annotations

from dashboard.roles import KIOSK, LOCAL, PAGES, ROLES, Can, Identity
from gmv.cli import ROLE_NAMES


def test_the_command_line_offers_exactly_the_roles() -> None:
    assert set(ROLE_NAMES) == set(ROLES)


def test_what_each_role_may_do() -> None:
    def may(role: str) -> set[str]:
        return {str(c) for c in Identity("x", role, "user").may}

    assert may("viewer") == {"big_screen", "guess"}  # every person of the staff may guess
    assert all("guess" in may(role) for role in ROLES)
    assert {"ops", "acknowledge"} <= may("operator") and not {"review", "export", "admin"} & may("operator")
    assert {"review", "export"} <= may("analyst") and not {"ops", "acknowledge", "admin"} & may("analyst")
    assert may("admin") == {str(c) for c in Can}
    assert Identity("k", "admin", "kiosk").may == KIOSK == {Can.BIG_SCREEN}  # a link is never more
    assert Identity("x", "nobody", "user").may == frozenset()
    assert LOCAL.can(Can.ADMIN)
    assert set(PAGES) == {"/", "/ops", "/review", "/guess"}
