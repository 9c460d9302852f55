"""The one runner of shell commands devloop starts for a project: lint, format, tests, smoke
and the build agent's `bash` tool (the sandbox, when there is one, wraps the argv).

- Each command gets its own process group; on timeout or interrupt the group is killed. In
  the sandbox the command also has its own PID namespace, so a child that left the group
  (setsid) dies with it.
- Output (stdout and stderr interleaved) is read as it comes and kept as a head and a tail
  of bounded size: a command printing gigabytes costs devloop a few megabytes.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DRAIN_S = 5.0  # after a kill, how long to wait for the output pipe to close
HEAD_BYTES = 64 * 1024  # of a long output, the start kept
TAIL_BYTES = 1024 * 1024  # and the end (test summaries and errors end up there)
CHUNK = 64 * 1024


@dataclass
class CommandRun:
    command: str
    returncode: int
    output: str  # stdout and stderr, interleaved as the command wrote them
    timed_out: bool = False
    dropped_bytes: int = 0  # cut from the middle of a long output


_RUNNING: set[subprocess.Popen] = set()  # commands in flight, so an interrupt stops them all
_RUNNING_LOCK = threading.Lock()


class _Capture:
    """The head and tail of a byte stream, within HEAD_BYTES + TAIL_BYTES."""

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.dropped = 0
        self._head_max, self._tail_max = head, tail

    def add(self, data: bytes) -> None:
        room = self._head_max - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        self.tail.append(data)
        self.tail_size += len(data)
        while self.tail_size - len(self.tail[0]) >= self._tail_max:
            self.dropped += len(self.tail[0])
            self.tail_size -= len(self.tail.popleft())

    def text(self) -> str:
        tail = b"".join(self.tail)
        extra = len(tail) - self._tail_max
        if extra > 0:  # trim the oldest chunk to the limit
            tail, self.dropped = tail[extra:], self.dropped + extra
        if not self.dropped:
            return (bytes(self.head) + tail).decode("utf-8", "replace")
        note = f"\n[... {self.dropped:,} bytes of output cut here ...]\n"
        return self.head.decode("utf-8", "replace") + note + tail.decode("utf-8", "replace")


def run(
    argv: Sequence[str],
    cwd: Path,
    timeout_s: float,
    *,
    env: Mapping[str, str] | None,
    shown: str,
) -> CommandRun:
    """Run `argv` in `cwd` with `env` (None: devloop's own). `shown` is the command as the
    person wrote it, for results and messages."""
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    capture = _Capture()
    try:
        timed_out = _pump(proc, capture, time.monotonic() + timeout_s)
    except BaseException:  # Ctrl-C, SIGTERM: stop the command before anything else
        kill_group(proc)
        proc.wait()
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
        if proc.stdout is not None:
            proc.stdout.close()
    code = -1 if timed_out else proc.returncode
    return CommandRun(shown, code, capture.text(), timed_out, capture.dropped)


def _pump(proc: subprocess.Popen, capture: _Capture, deadline: float) -> bool:
    """Read the output until the pipe closes and the process exits; True on timeout."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    timed_out = False
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        open_pipe = True
        while open_pipe:
            left = deadline - time.monotonic()
            if left <= 0 and not timed_out:
                timed_out = True
                kill_group(proc)
                deadline = time.monotonic() + DRAIN_S
                continue
            if left <= 0:
                break  # killed, yet something outside the group still holds the pipe
            if selector.select(min(left, 1.0)):
                data = os.read(fd, CHUNK)
                if data:
                    capture.add(data)
                else:
                    open_pipe = False
    if timed_out:
        proc.wait()
        return True
    try:
        proc.wait(max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.wait()
        return True
    return False


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, and belongs to someone else
    return True


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_running() -> None:
    """Kill every command in flight (an interrupt in another thread's check)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        kill_group(proc)
