"""`devloop --help` without importing click: the text click printed last time, kept with
what it depended on, printed again while none of that has changed.

Importing click is most of what `devloop --help` costs. The first `devloop --help` goes
through click (cli/main.py) and stores its text here, with the help width, the locale
variables and the size and modification time of every file of devloop.cli and of click it
was made from (and of every devloop module loaded then). The console-script entry (devloop/entry.py) asks `cached()` first: the text
comes back only when every one of those is still the same, so an edited docstring, a new
option, an upgraded click or a narrower terminal all go through click again.

The file lives in the user's cache directory ($XDG_CACHE_HOME/devloop, else
~/.cache/devloop), one per installation of devloop. Nothing here may import click, rich or
anything devloop does not need for this.
"""

from __future__ import annotations

import os
import sys

MAGIC = "devloop-help-cache 1"
LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")  # gettext could translate it
HELP_ARGS = (["--help"], ["-h"])


def help_width() -> int:
    """The width click formats help at: min(terminal columns, 80) - 2, at least 50. The
    terminal's columns as shutil.get_terminal_size finds them (COLUMNS, then stdout)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 80
        columns = columns or 80
    return max(min(columns, 80) - 2, 50)


def _locale() -> str:
    return ";".join(f"{name}={os.environ.get(name, '')}" for name in LOCALE_VARS)


def cache_file() -> str:
    """This installation's cache file (one per devloop package directory)."""
    import zlib  # builtin, cheap: a stable name for the package directory

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    key = zlib.crc32(f"{sys.prefix}\0{package}".encode("utf-8", "surrogateescape"))
    return os.path.join(base, "devloop", f"help-{key:08x}.txt")


def _stamp(path: str) -> str | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return f"{info.st_mtime_ns} {info.st_size}"


def cached() -> str | None:
    """The stored help text, if everything it was made from is unchanged; else None."""
    try:
        with open(cache_file(), encoding="utf-8") as handle:
            head, sep, text = handle.read().partition("\n\n")
    except (OSError, ValueError):
        return None
    lines = head.split("\n")
    if not sep or lines[:3] != [MAGIC, f"width {help_width()}", f"locale {_locale()}"]:
        return None
    for line in lines[3:]:
        kind, _, rest = line.partition(" ")
        mtime, size, path = (rest.split(" ", 2) + ["", ""])[:3]
        if kind != "file" or not path or _stamp(path) != f"{mtime} {size}":
            return None
    return text


def store(text: str) -> None:
    """Keep `text` (click's --help output, just made) for the next `devloop --help`. Best
    effort: a cache that cannot be written only means the next call is slower."""
    files = sorted(
        module.__file__
        for name, module in list(sys.modules.items())
        if name.split(".")[0] in ("click", "devloop") and getattr(module, "__file__", None)
    )
    head = [MAGIC, f"width {help_width()}", f"locale {_locale()}"]
    for path in files:
        stamp = _stamp(path)
        if stamp is None or "\n" in path:
            return
        head.append(f"file {stamp} {path}")
    target = cache_file()
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("\n".join(head) + "\n\n" + text)
        os.replace(tmp, target)  # a reader sees the old file or the new one, never half
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
