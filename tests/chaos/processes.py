"""The commands under test as real processes: started with their log in a file, watched through
/proc (their descendants, whether one still runs), and none left behind by a failing test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path


def alive(pid: int) -> bool:
    """Still running (a zombie waiting for its reaper has stopped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid` that is running now, with its command line."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(proc.name))
    found: dict[int, str] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        if alive(child):
            found[child] = command_line(child)
        todo += children.get(child, [])
    return found


class Command:
    """`python -m gmv.cli ARGS` in a session of its own (a signal sent to it reaches it alone),
    its stdout and stderr in `log`."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gmv.cli", *args], stdout=out, stderr=out,
                stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                start_new_session=True)
        self.seen: dict[int, str] = {}  # every descendant met, to be sure none is left

    @property
    def pid(self) -> int:
        return self.process.pid

    def said(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def said_after(self, text: str, marker: str) -> bool:
        """`text` logged after the first `marker` (e.g. a retry after Redis went away)."""
        said = self.log.read_text(errors="replace")
        return marker in said and text in said.split(marker, 1)[1]

    def children(self) -> dict[int, str]:
        found = descendants(self.pid)
        self.seen.update(found)
        return found

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def kill_all(self) -> None:
        """What a test leaves running (when it failed): gone, its descendants first."""
        self.children()
        for pid in [*self.seen, self.pid]:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.process.wait()
