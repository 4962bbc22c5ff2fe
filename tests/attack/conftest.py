"""The browser and war-room fixtures of tests/e2e for the attacks on the push."""

from tests.e2e.conftest import fresh_stack, page  # noqa: F401 (fixtures)
