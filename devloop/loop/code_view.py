"""The files a plan's Integration Contract names, as they are now, for the steps that judge
code against it: validate-integration (before the build: the code the plan must fit),
review and audit (after it: the code as changed).

Within [loop] code_tokens in all: a file that fits its share is shown whole; one that does
not is shown by its definitions (the class, function and heading lines, numbered), so a
validator still sees every signature instead of the first few hundred lines. Private and
untracked by-product files are never shown; paths outside the repository are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from devloop import tokens
from devloop.codemap import definition_lines
from devloop.loop.prompts import section

_LISTED = re.compile(r"^\s*[-*]\s+`?([^`\s]+)`?")


def contract_paths(contract: str) -> list[str]:
    """The paths under the contract's "Files" heading, in order."""
    files = section(contract, "Files") or ""
    paths = []
    for line in files.splitlines()[1:]:
        match = _LISTED.match(line)
        if match and match[1] not in paths:
            paths.append(match[1].rstrip(":,;"))
    return paths


def files_view(
    root: Path, paths: list[str], budget_tokens: int, shown: Callable[[str], bool]
) -> str:
    """`paths` as text for a prompt (see the module docstring)."""
    if not paths:
        return "(the contract lists no files)"
    root = root.resolve()
    texts: dict[str, str | None] = {}
    notes: dict[str, str] = {}
    for rel in paths:
        path = (root / rel).resolve()
        if not path.is_relative_to(root) or not shown(rel):
            notes[rel] = "(not shown: outside the repository or private)"
        elif not path.is_file():
            notes[rel] = "(does not exist yet)"
        else:
            try:
                texts[rel] = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                notes[rel] = f"(cannot be read: {exc.strerror})"
    blocks = {rel: f"### {rel}\n{note}\n" for rel, note in notes.items()}
    left = budget_tokens - sum(tokens.estimate(b) for b in blocks.values())
    # Small files first: each takes what it needs, and the rest share what remains.
    order = sorted(texts, key=lambda rel: len(texts[rel] or ""))
    for i, rel in enumerate(order):
        share = max(left // (len(order) - i), 0)
        blocks[rel] = _block(rel, texts[rel] or "", share)
        left -= tokens.estimate(blocks[rel])
    return "\n".join(blocks[rel] for rel in paths)


def _block(rel: str, text: str, budget: int) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)  # a fence no line of the file can close
    whole = f"### {rel}\n{fence}\n{text.rstrip()}\n{fence}\n"
    if tokens.estimate(whole) <= budget:
        return whole
    lines = text.count("\n") + 1
    kept, used = [], 0
    for number, line in definition_lines(rel, text):
        entry = f"{number:>5}: {line}\n"
        if used + tokens.estimate(entry) > budget - 40:
            kept.append("  ... (more definitions left out)\n")
            break
        kept.append(entry)
        used += tokens.estimate(entry)
    what = "definitions only, bodies left out" if kept else "too large to show"
    return f"### {rel} ({lines} lines; {what})\n{fence}\n{''.join(kept)}{fence}\n"
