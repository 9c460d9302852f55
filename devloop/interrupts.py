"""Signals as exceptions, and stretches no signal may cut short: one handler for devloop.

A run (loop.engine) and a staged check (git.staged) both turn SIGTERM (and SIGHUP) into the
exception Ctrl-C would raise, so their cleanup runs; a restore of set-aside work ignores
every signal until it is done. Signal handlers can only be set in the main thread: in any
other thread these do nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

TERMINATING = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def raising(
    make: Callable[[int], BaseException], signals: Sequence[int] = TERMINATING
) -> Iterator[None]:
    """While inside, each of `signals` raises `make(signum)` where it lands."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        raise make(signum)

    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def ignored(signals: Sequence[int] = (signal.SIGINT, *TERMINATING)) -> Iterator[None]:
    """While inside, `signals` (Ctrl-C included) are ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def name(signum: int) -> str:
    return signal.Signals(signum).name
