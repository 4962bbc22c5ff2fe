"""Docs move with the code: every setting and command is in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.settings import SETTINGS
from gmv.cli import COMMANDS
from rehearsal.incidents import KINDS

README = (Path(__file__).parents[1] / "README.md").read_text()


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_every_setting_is_in_the_readme_table(setting) -> None:
    assert f"| `{setting.env}` | `{setting.default}` |" in README


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"gmv {command}" in README


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_incident_kind_is_documented(kind: str) -> None:
    assert f"`{kind}`" in README
    assert f"`{kind}`" in (Path(__file__).parents[1] / "docs" / "simulator.md").read_text()
