"""Stopping on SIGTERM and Ctrl-C within STOP_WITHIN_S, whatever Redis is doing: one process-wide
event that every retry loop and backoff waits on, a deadline after which the process exits
anyway, and a parent-death signal for the processes a command starts."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from common.logs import log_event, log_line

log = logging.getLogger("gmv.stopping")
STOP_WITHIN_S = 5.0  # the promise to a process manager (and to `kill`)
FORCED_AFTER_S = 4.5  # a clean stop not done by then: the process exits as if killed
FORCED_EXIT_CODE = 1
_PR_SET_PDEATHSIG = 1
_asked = threading.Event()
_deadline_armed = threading.Event()
_deadline_s: float | None = None  # set by enforce_deadline(): the commands, not the tests
_interrupting_signal: int | None = None  # the first signal of stop_on_signals(interrupt=True)


class Stopped(Exception):
    """Asked to stop while waiting for something that had not come (a lock, a server)."""


class ServiceFailed(RuntimeError):
    """A service a command started died before it served (a port in use): one line for people."""


def stop_requested() -> bool:
    return _asked.is_set()


def wait_or_stop(seconds: float) -> bool:
    """Wait `seconds`, or less when asked to stop; True when asked (at once if already)."""
    return _asked.wait(max(seconds, 0.0))


def raise_if_interrupted() -> None:
    """Where a loop that stops by being interrupted (stop_on_signals(interrupt=True)) may stop:
    raises what the signal handler raised. The handler's exception can be lost: when the signal
    lands in a `__del__` or a weakref callback, Python prints it and goes on (a Ctrl-C once ran
    into redis-py's parser's `__del__` and the simulator published on until the deadline)."""
    if _interrupting_signal is not None and _asked.is_set():
        if _interrupting_signal == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(0)


def request_stop() -> None:
    """What a signal handler calls: every wait_or_stop returns; with enforce_deadline(), the
    process exits FORCED_AFTER_S from now if it has not by itself."""
    _asked.set()
    if _deadline_s is not None and not _deadline_armed.is_set():
        _deadline_armed.set()
        threading.Thread(target=_exit_when_overdue, args=(_deadline_s,), name="stop-deadline",
                         daemon=True).start()


def enforce_deadline(seconds: float = FORCED_AFTER_S) -> None:
    """From here on, a stop request ends the process within `seconds` at the latest: a call
    stuck on a socket, a lock or a thread that ignores the request cannot keep it running."""
    global _deadline_s
    _deadline_s = seconds


def _exit_when_overdue(seconds: float) -> None:
    threading.Event().wait(seconds)
    log_line(log, logging.ERROR, "stop_forced", after_s=seconds,
             detail="a clean stop took too long; what is not committed is read again")
    os._exit(FORCED_EXIT_CODE)


def stop_on_signals(interrupt: bool = False, also: Callable[[], None] | None = None) -> None:
    """SIGTERM and SIGINT request a stop (and call `also`); `interrupt`: besides, the main
    thread is interrupted where it stands, as by Ctrl-C (KeyboardInterrupt; SIGTERM: a clean
    exit, SystemExit(0)) — for work that may stop anywhere: publishing, starting up."""
    def stop(signum: int, frame: FrameType | None) -> None:
        global _interrupting_signal
        first = not _asked.is_set()
        if first:
            log_event(log, "stop_requested", signal=signal.Signals(signum).name)
        request_stop()
        if also is not None:
            also()
        if interrupt and first:  # a second signal does not cut the clean-up short
            _interrupting_signal = signum
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if interrupt:
        sys.unraisablehook = _quiet_about_lost_interrupts


def _quiet_about_lost_interrupts(unraisable: Any) -> None:
    """The stop's own exception, lost where Python cannot raise (raise_if_interrupted raises it
    again): not a traceback on the person's screen. Anything else as Python prints it."""
    if _interrupting_signal is not None and isinstance(unraisable.exc_value,
                                                       (KeyboardInterrupt, SystemExit)):
        return
    sys.__unraisablehook__(unraisable)


def parent_death_signal(signum: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for subprocess.Popen: the child gets `signum` when this process dies
    (Linux; elsewhere nothing), so a supervisor killed with SIGKILL leaves nothing running.
    Call it in the thread that starts the child and lives as long as it: the kernel ties the
    signal to that thread."""
    parent = os.getpid()
    prctl = None
    with contextlib.suppress(OSError, AttributeError):  # found before the fork, not in the child
        prctl = ctypes.CDLL(None, use_errno=True).prctl

    def in_child() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signum)
        if os.getppid() != parent:  # the parent died before the signal was set
            os.kill(os.getpid(), signum)
    return in_child
