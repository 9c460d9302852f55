"""Render rows of cells as a terminal table, plain text, CSV or Markdown.

Rich is imported only when a table goes to a terminal; piped output is plain aligned
text so it can be grepped and diffed. Rich honours NO_COLOR by itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from devloop.tables import Cell, csv_text, markdown, plain

__all__ = ["csv_text", "is_terminal", "markdown", "plain", "print_table"]


def is_terminal(stream=None) -> bool:
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty()


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str = "",
    right: set[int] = frozenset(),
    footer: Sequence[Cell] | None = None,
) -> None:
    """A rich table on a terminal, plain aligned text otherwise."""
    if is_terminal():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title or None, show_footer=footer is not None)
        for i, header in enumerate(headers):
            table.add_column(
                header,
                justify="right" if i in right else "left",
                footer=footer[i] if footer is not None else "",
            )
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    if title:
        sys.stdout.write(title + "\n")
    body = list(rows) + ([list(footer)] if footer is not None else [])
    sys.stdout.write(plain(headers, body, right))
