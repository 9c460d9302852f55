"""The prefix gate: a call whose cached prefix another call is writing waits for it.

The API can read a cache entry only once the response that writes it has begun (§3 of
anthropic-api.md). Steps that run side by side share their prefix, so the second call
waits for the first's response headers and reads what it wrote instead of writing it
again; the counterfactual baseline counts on that.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

GATE_WAIT_S = 120.0  # the longest a call waits for another call's shared prefix


class PrefixGate:
    """Holds back a call whose prompt prefix another call of this process is writing, until
    that call's response has begun."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writing: dict[tuple[str, str], threading.Event] = {}

    def enter(self, key: tuple[str, str | None]) -> Callable[[], None]:
        """Wait for the prefix `key`; returns the release to call once this call's
        response has begun (or it failed)."""
        model, prefix = key
        if prefix is None:
            return lambda: None
        deadline = time.monotonic() + GATE_WAIT_S
        while True:
            with self._lock:
                busy = self._writing.get((model, prefix))
                if busy is None:
                    mine = self._writing[(model, prefix)] = threading.Event()
                    return functools.partial(self._release, (model, prefix), mine)
            left = deadline - time.monotonic()
            if left <= 0:
                return lambda: None  # never wait forever: send, and pay the write
            busy.wait(left)

    def _release(self, key: tuple[str, str], mine: threading.Event) -> None:
        with self._lock:
            if self._writing.get(key) is mine:
                del self._writing[key]
        mine.set()
