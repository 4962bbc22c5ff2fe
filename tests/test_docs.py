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


LAYOUT = README[README.index("## Layout"):README.index("Logs are one line per event")]
ROOT = Path(__file__).parents[1]
PACKAGES = ("gmv", "rehearsal", "dashboard", "ingest", "common")


@pytest.mark.parametrize("folder", [*PACKAGES, "sample_data", "bench", "tests", "scripts", "docs"])
def test_the_readme_layout_names_every_folder(folder: str) -> None:
    assert f"\n    {folder}/ " in LAYOUT
    assert (ROOT / folder).is_dir()


@pytest.mark.parametrize("module", sorted(
    str(p.relative_to(ROOT)) for package in PACKAGES for p in (ROOT / package).rglob("*.py")
    if p.name != "__init__.py"))
def test_the_readme_layout_names_every_module(module: str) -> None:
    path = Path(module)
    assert path.name in LAYOUT or path.stem in LAYOUT, f"{module} is not in the README's layout"

