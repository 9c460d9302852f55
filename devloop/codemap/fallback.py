"""Outlines without a parser: one regular expression per kind of file.

For the files tree-sitter does not parse (Markdown and reStructuredText headings) and for
those it cannot (a file whose syntax tree is all errors): their classes, functions or
headings as the lines that start them. Anything else is shown by its layout line and an
excerpt only.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_SYMBOLS: dict[tuple[str, ...], re.Pattern[str]] = {
    (".py", ".pyi"): re.compile(r"^(?: {0,4})(?:async\s+)?(?:def|class)\s+(\w+)", re.M),
    (".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs"): re.compile(
        r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:function\*?|class|interface|type)"
        r"\s+(\w+)|^\s*export\s+(?:const|let)\s+(\w+)",
        re.M,
    ),
    (".go",): re.compile(r"^(?:func\s+(?:\([^)]*\)\s*)?(\w+)|type\s+(\w+))", re.M),
    (".rs",): re.compile(
        r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:fn|struct|enum|trait|mod)\s+(\w+)", re.M
    ),
    (".java", ".kt", ".cs", ".swift"): re.compile(
        r"^\s*(?:public|private|protected|internal|open|final|static|abstract|\s)*"
        r"(?:class|interface|enum|record|struct|fun)\s+(\w+)",
        re.M,
    ),
    (".rb",): re.compile(r"^\s*(?:def|class|module)\s+([\w.?!]+)", re.M),
    (".md", ".rst"): re.compile(r"^#{1,3}\s+(.+?)\s*#*$", re.M),
}


def definition_lines(path: str, text: str) -> list[tuple[int, str, str]]:
    """(line number, name, line) of each definition the patterns find in `text`; [] for a
    kind of file they do not know."""
    suffix = PurePosixPath(path).suffix.lower()
    pattern = next((p for suffixes, p in _SYMBOLS.items() if suffix in suffixes), None)
    if pattern is None:
        return []
    starts: dict[int, str] = {}
    for match in pattern.finditer(text):
        name = next((g for g in match.groups() if g), None)
        if name:
            starts[match.start()] = name[:60]
    out, offset = [], 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        stripped = len(line) - len(line.lstrip(" \t"))  # not the newline of a blank line
        name = starts.get(offset, starts.get(offset + stripped))
        if name is not None:
            out.append((number, name, line.rstrip()))
        offset += len(line)
    return out
