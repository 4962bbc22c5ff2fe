"""Who may see and do what: the roles, what each may do, and who is asking (an identity)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Can(StrEnum):
    """One thing a person may do; a role is a set of them."""

    BIG_SCREEN = "big_screen"  # `/`, /api/stream, /api/live, /api/night-figures
    OPS = "ops"  # `/ops`, /api/alerts, /api/summary
    ACKNOWLEDGE = "acknowledge"
    REVIEW = "review"  # `/review`, /api/summary, /api/alerts
    EXPORT = "export"
    SUMMARY = "summary"  # /api/summary
    ALERTS = "alerts"  # /api/alerts
    ADMIN = "admin"  # users, kiosk links, the audit log
    GUESS = "guess"  # `/guess`: the staff guessing game on the final GMV


ROLES: dict[str, frozenset[Can]] = {
    "viewer": frozenset({Can.BIG_SCREEN, Can.GUESS}),
    "operator": frozenset({Can.BIG_SCREEN, Can.GUESS, Can.OPS, Can.ACKNOWLEDGE, Can.SUMMARY,
                           Can.ALERTS}),
    "analyst": frozenset({Can.BIG_SCREEN, Can.GUESS, Can.REVIEW, Can.EXPORT, Can.SUMMARY,
                          Can.ALERTS}),
    "admin": frozenset(Can),
}
KIOSK = frozenset({Can.BIG_SCREEN})

# What each page needs; the big screen is the only one a kiosk link opens.
PAGES: dict[str, Can] = {"/": Can.BIG_SCREEN, "/ops": Can.OPS, "/review": Can.REVIEW,
                         "/guess": Can.GUESS}
# The pages in the order the nav shows them, with the key of their name (dashboard/format.py).
VIEWS = (("/", "big_screen"), ("/ops", "ops"), ("/review", "review"), ("/guess", "guess_page"))


@dataclass(frozen=True)
class Identity:
    """Who is asking. `kind`: "user" (signed in, or named by the trusted proxy), "kiosk" (a
    kiosk link) or "local" (no users configured: the loopback-only war room, open as before)."""

    name: str
    role: str
    kind: str
    session_id: str = ""  # the random id of its session (the signed cookie carries it), if any

    @property
    def may(self) -> frozenset[Can]:
        return KIOSK if self.kind == "kiosk" else ROLES.get(self.role, frozenset())

    def can(self, what: Can) -> bool:
        return what in self.may

    # Flask-Login's user interface.
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.session_id


LOCAL = Identity("local", "admin", "local")
