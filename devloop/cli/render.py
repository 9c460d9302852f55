"""Render rows of cells as a terminal table, plain text, CSV or Markdown; wrap prose.

On a terminal a table is a rich table that fits the width: when it is too wide, the
columns the caller named in `drop` go first, least important first; a column never
listed there (a step name, a cost) is never dropped nor cut, and prose columns (`wrap`)
wrap inside their cells instead of being cut. Piped output is plain aligned text, every
column and every character, so it can be grepped and diffed. `NO_COLOR` (any value but
empty) means no escape codes at all: no colour, no bold, no dim. Rich is imported only
when something goes to a terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

from devloop.tables import Cell, csv_text, markdown, plain

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = [
    "csv_text",
    "echo_prose",
    "fit_table",
    "is_terminal",
    "make_console",
    "markdown",
    "no_color",
    "plain",
    "print_table",
    "terminal_width",
    "warning",
    "wrap_line",
]

GAP = 2  # columns between two table columns (the box and padding chosen in fit_table)
WRAP_MIN = 28  # a prose column keeps at least this many columns (or its longest word)


def is_terminal(stream=None) -> bool:
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty()


def no_color() -> bool:
    """NO_COLOR set to anything but the empty string (no-color.org)."""
    return os.environ.get("NO_COLOR", "") != ""


def live_terminal() -> bool:
    """Whether stdout may take a redrawn (cursor-moving) view: a terminal that allows escape
    codes. NO_COLOR and TERM=dumb get plain lines instead."""
    return is_terminal() and not no_color() and os.environ.get("TERM") != "dumb"


def terminal_width() -> int:
    """The terminal's width in columns: COLUMNS when set, else the terminal's own, else 80."""
    import shutil

    return shutil.get_terminal_size().columns


def make_console(*, stderr: bool = False, width: int | None = None) -> Console:
    """A rich console for a terminal: no highlighting of numbers in prose, and with
    NO_COLOR no styles at all (rich alone would keep bold and dim)."""
    from rich.console import Console

    return Console(
        stderr=stderr,
        width=width,
        highlight=False,
        color_system=None if no_color() else "auto",
    )


# ------------------------------------------------------------------ tables


def _text(cell: Any) -> str:
    return cell.plain if hasattr(cell, "plain") else str(cell)


def _width(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.split("\n")), default=0)


def _least_width(texts: Sequence[str], wrapping: bool) -> int:
    """The narrowest a column can be without cutting: its widest cell, or for prose its
    longest word (at least WRAP_MIN, at most the widest cell)."""
    widest = max((_width(t) for t in texts), default=0)
    if not wrapping:
        return widest
    longest_word = max((_width(w) for t in texts for w in t.split()), default=0)
    return min(widest, max(WRAP_MIN, longest_word))


def fit_columns(
    width: int,
    headers: Sequence[str],
    columns: Sequence[Sequence[str]],
    drop: Sequence[str] = (),
    wrap: Sequence[str] = (),
) -> list[int]:
    """Which columns to show in `width` terminal columns: all of them if they fit at their
    least widths, else without the `drop` columns, first named first, until they do."""
    least = [
        _least_width([h, *column], h in wrap) for h, column in zip(headers, columns, strict=True)
    ]
    keep = list(range(len(headers)))
    order = [headers.index(h) for h in drop if h in headers]
    while order and sum(least[i] for i in keep) + GAP * (len(keep) - 1) > width:
        keep.remove(order.pop(0))
    return keep


def fit_table(
    width: int,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str = "",
    caption: str = "",
    right: Iterable[int] = (),
    footer: Sequence[Any] | None = None,
    drop: Sequence[str] = (),
    wrap: Sequence[str] = (),
) -> Table:
    """A rich table of `rows` (str or rich Text cells) for `width` columns (see the module
    docstring). Cells are never read as markup: "[x]" stays "[x]"."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    right = set(right)
    all_rows = [*rows, *([footer] if footer is not None else [])]
    columns = [[_text(row[i]) for row in all_rows] for i in range(len(headers))]
    keep = fit_columns(width, headers, columns, drop, wrap)
    table = Table(
        title=Text(title) if title else None,
        caption=Text(caption) if caption else None,
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        show_footer=footer is not None,
        header_style="" if no_color() else "bold",
        title_style="" if no_color() else "bold",
    )

    def cell(value: Any) -> Any:
        return value if hasattr(value, "plain") else Text(str(value))

    for i in keep:
        prose = headers[i] in wrap
        table.add_column(
            Text(headers[i]),
            footer=cell(footer[i]) if footer is not None else "",
            justify="right" if i in right else "left",
            no_wrap=not prose,
            overflow="fold",  # were a cell ever narrower than its text: wrapped, never cut
        )
    for row in rows:
        table.add_row(*(cell(row[i]) for i in keep))
    return table


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str = "",
    right: set[int] = frozenset(),
    footer: Sequence[Cell] | None = None,
    drop: Sequence[str] = (),
    wrap: Sequence[str] = (),
) -> None:
    """A rich table fitted to the terminal (see fit_table), plain aligned text otherwise.

    `drop`: headers of the columns that may be left out on a narrow terminal, the least
    important first; `wrap`: headers of prose columns that may wrap inside their cells."""
    if is_terminal():
        console = make_console(width=terminal_width())
        console.print(
            fit_table(
                console.width,
                headers,
                rows,
                title=title,
                right=right,
                footer=footer,
                drop=drop,
                wrap=wrap,
            )
        )
        return
    if title:
        sys.stdout.write(title + "\n")
    body = list(rows) + ([list(footer)] if footer is not None else [])
    sys.stdout.write(plain(headers, body, right))


# ------------------------------------------------------------------- prose


def wrap_line(line: str, width: int) -> list[str]:
    """One line of prose wrapped at `width`; continuation lines keep its indent, and a
    two-column line ("  command   what it does") wraps under its second column. Words
    are never split (a path longer than the width stays whole)."""
    import re
    import textwrap

    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    gap = re.match(r"^(\s*\S.*?\s{2,})\S", line)
    hang = " " * len(gap[1]) if gap and len(gap[1]) <= width // 2 else indent
    return textwrap.wrap(
        line,
        width,
        initial_indent="",
        subsequent_indent=hang,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [line]


def echo_prose(text: str | Iterable[str], *, err: bool = False) -> None:
    """Print prose (a string or lines), wrapped at the terminal's width on a terminal and
    left whole when piped (a pipe has no width; the reader's pager wraps)."""
    lines = text.split("\n") if isinstance(text, str) else list(text)
    if not lines:
        return
    if is_terminal(sys.stderr if err else sys.stdout):
        width = terminal_width()
        lines = [piece for line in lines for piece in wrap_line(line, width)]
    click.echo("\n".join(lines), err=err)


def warning(text: str) -> None:
    """A warning on stderr: yellow on a terminal unless NO_COLOR; wrapped like prose."""
    lines = [text]
    if is_terminal(sys.stderr):
        lines = wrap_line(text, terminal_width())
    click.secho("\n".join(lines), err=True, fg=None if no_color() else "yellow")
