"""Rows of cells as text: plain aligned columns, Markdown, CSV. The one table renderer:
cli/render.py prints these (or a rich table on a terminal), ROUTING.md is one of them."""

from __future__ import annotations

from collections.abc import Sequence

Cell = str


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
    import csv  # not at import time: the hooks render ROUTING.md and never a CSV
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buf.getvalue()
