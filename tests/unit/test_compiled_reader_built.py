"""The compiled reader-decoder is there wherever the project is installed (the tests of it skip
without it, and the worker then falls back to redis-py and numpy at a third of the speed)."""

from __future__ import annotations

from ingest.wire import COMPILED


def test_the_compiled_reader_is_built_where_the_project_is_installed() -> None:
    assert COMPILED, ("ingest._resp was not built: install gcc and the Python headers, then "
                      "`make .venv/.installed` (setup.py printed why)")
