"""Render rows of cells as a terminal table, plain text, CSV or Markdown.

Rich is imported only when a table goes to a terminal; piped output is plain aligned
text so it can be grepped and diffed. Rich honours NO_COLOR by itself.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence

Cell = str


def is_terminal(stream=None) -> bool:
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty()


def plain(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]], right: set[int] = frozenset()
) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    return "\n".join(out) + "\n"


def markdown(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]], right: set[int] = frozenset()
) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    aligns = ["---:" if i in right else "---" for i in range(len(headers))]
    out = ["| " + " | ".join(esc(h) for h in headers) + " |", "|" + "|".join(aligns) + "|"]
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def csv_text(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buf.getvalue()


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
