"""Run devloop in a real pseudo-terminal of a given width and read what a person would see.

`run_in_terminal(argv, columns)` starts the command with its stdin, stdout and stderr on a
pty sized `columns` x 50 (no COLUMNS variable: the width comes from the terminal itself,
as it does for a person), collects every byte it writes, and returns them. `screen_lines`
splits that output into the lines a terminal shows: colour codes removed, and every
cursor movement (a live view redrawing itself) treated as a line break, so each piece
of text is measured as the terminal placed it.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

SGR = re.compile(r"\x1b\[[0-9;]*m")  # colour and style
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")  # cursor, erase, title


@dataclass
class TerminalRun:
    code: int
    raw: bytes

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")

    def lines(self) -> list[str]:
        return screen_lines(self.text)


def screen_lines(text: str) -> list[str]:
    text = SGR.sub("", text)
    text = CONTROL.sub("\n", text)
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def run_in_terminal(
    args: list[str], columns: int, cwd: Path, env: dict[str, str] | None = None, timeout=300
) -> TerminalRun:
    """`python -m devloop ARGS` on a pty `columns` wide; its exit code and every byte."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full_env = dict(os.environ if env is None else env)
    full_env.pop("COLUMNS", None)
    full_env.pop("LINES", None)
    full_env.setdefault("TERM", "xterm-256color")
    proc = subprocess.Popen(
        [sys.executable, "-m", "devloop", *args],
        cwd=cwd,
        env=full_env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer closed its end
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        else:
            raise AssertionError(f"devloop {' '.join(args)} did not finish in {timeout}s")
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return TerminalRun(code, bytes(out))
