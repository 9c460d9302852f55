"""The map as text, fitted to its token budget ([loop] project_map_tokens).

Three sections, each only with what still fits (devloop's token estimate, tokens.py):
  1. Layout: the file tree, collapsed to the deepest directory level that fits
     LAYOUT_SHARE of the budget (a directory below it shows as one line with its counts).
  2. Definitions: each file's definitions as `line: signature`, members indented under
     their class, files in order of rank. The entries are ranked (rank.py), a file's first
     ROUND definitions before anyone's next ROUND, and a binary search finds how many of
     them fit what the budget leaves after the layout and a share kept for excerpts.
  3. Excerpts: the heads of key files (README, manifests), then of the others by rank,
     until the budget is used up. Files no parser outlines are shown here.
A small repository is shown nearly whole; a large one as structure, the definitions that
matter for the spec, and a sample; both within the same budget.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from devloop import tokens
from devloop.codemap.files import FileInfo
from devloop.codemap.rank import Ranking
from devloop.codemap.tags import Definition

LAYOUT_SHARE = 0.35  # of the budget, at most, for the file tree
EXCERPT_SHARE = 0.15  # kept for excerpts while key files have any
EXCERPT_FILE_TOKENS = 1_200  # one file's excerpt, at most
EXCERPT_MIN = 60  # a smaller room takes no more excerpts
ROUND = 8  # definitions a file shows before the next files get theirs
KEY_FILES = (
    "readme", "readme.md", "readme.rst", "readme.txt", "pyproject.toml", "package.json",
    "cargo.toml", "go.mod", "pom.xml", "build.gradle", "build.gradle.kts", "cmakelists.txt",
    "gemfile", "composer.json", "package.swift", "setup.cfg", "setup.py", "makefile",
    "devloop.toml", "contributing.md", "architecture.md", "design.md",
)  # fmt: skip


@dataclass(frozen=True)
class Entry:
    path: str
    index: int  # position in the file's definition list


def render(
    files: list[FileInfo],
    outlines: Mapping[str, tuple[Definition, ...]],
    ranking: Ranking,
    budget_tokens: int,
) -> str:
    """The whole map (see the module docstring); never more than `budget_tokens`."""
    files = sorted(files, key=lambda f: f.path)
    order = file_order(files, ranking)
    header = (
        f"# Project map\n\n{len(files)} files. Layout, then definitions ranked by how the code "
        f"references them and what the spec names, then excerpts, as far as a budget of "
        f"~{budget_tokens:,} tokens allows.\n"
    )
    used = tokens.estimate(header)
    layout, _ = _layout(files, int(budget_tokens * LAYOUT_SHARE) - used)
    parts = [header, "\n## Layout\n\n" + layout]
    used += tokens.estimate(parts[-1])

    key_files = [f for f in files if _key_file(f) < 2 and f.text and f.text.strip()]
    reserve = int(budget_tokens * EXCERPT_SHARE) if key_files else 0
    entries = ranked_entries(outlines, ranking, order)
    definitions = fit_definitions(entries, outlines, order, budget_tokens - used - reserve)
    if definitions:
        parts.append(definitions)
        used += tokens.estimate(definitions)

    excerpts = []
    heading = "\n## Excerpts\n\n"
    for info in sorted(files, key=lambda f: (_key_file(f), order[f.path])):
        left = budget_tokens - used - tokens.estimate(heading if not excerpts else "")
        if left < EXCERPT_MIN:
            break
        if not info.text or not info.text.strip():
            continue
        block = _excerpt(info, min(EXCERPT_FILE_TOKENS, left))
        if block:
            if not excerpts:
                used += tokens.estimate(heading)
            excerpts.append(block)
            used += tokens.estimate(block)
    if excerpts:
        parts.append(heading + "".join(excerpts))
    return "".join(parts)


def file_order(files: list[FileInfo], ranking: Ranking) -> dict[str, int]:
    """Each file's place: by rank, ties (a repository nothing references, a spec that names
    nothing) taken one directory at a time so a large repository is sampled across them."""
    in_directory: dict[str, int] = defaultdict(int)
    keys = {}
    for info in files:  # sorted by path: a directory's files come together
        directory = info.path.rpartition("/")[0]
        keys[info.path] = (
            -round(ranking.files.get(info.path, 0.0), 12),
            in_directory[directory],
            info.depth,
            info.path,
        )
        in_directory[directory] += 1
    return {path: i for i, path in enumerate(sorted(keys, key=keys.__getitem__))}


def ranked_entries(
    outlines: Mapping[str, tuple[Definition, ...]], ranking: Ranking, order: Mapping[str, int]
) -> list[Entry]:
    """Every definition, best first: within a file by the rank flowing to it (then by
    line); across files a file's first ROUND, by file order, before anyone's next ROUND."""
    keyed = []
    for path, defs in outlines.items():
        within = sorted(
            range(len(defs)),
            key=lambda i: (-round(ranking.definitions.get((path, defs[i].name), 0.0), 12), i),
        )
        for position, i in enumerate(within):
            keyed.append(((position // ROUND, order[path], position), Entry(path, i)))
    keyed.sort(key=lambda item: item[0])
    return [entry for _, entry in keyed]


DEFINITIONS_HEADING = (
    "\n## Definitions\n\nMost relevant files first; `line: signature`, members under their class.\n"
)


def fit_definitions(
    entries: list[Entry],
    outlines: Mapping[str, tuple[Definition, ...]],
    order: Mapping[str, int],
    budget: int,
    heading: str = DEFINITIONS_HEADING,
) -> str:
    """The definitions section with as many ranked entries as fit `budget` tokens: a binary
    search on the count (the section's size grows with it)."""
    if not entries or budget <= 0:
        return ""

    def section(count: int) -> str:
        return definitions_section(entries[:count], outlines, order, heading)

    low, high = 0, min(len(entries), budget)  # each entry costs at least a token
    while low < high:
        middle = (low + high + 1) // 2
        if tokens.estimate(section(middle)) <= budget:
            low = middle
        else:
            high = middle - 1
    return section(low) if low else ""


def definitions_section(
    chosen: list[Entry],
    outlines: Mapping[str, tuple[Definition, ...]],
    order: Mapping[str, int],
    heading: str = DEFINITIONS_HEADING,
) -> str:
    picked: dict[str, set[int]] = defaultdict(set)
    for entry in chosen:
        picked[entry.path].add(entry.index)
    lines = [heading]
    for path in sorted(picked, key=order.__getitem__):
        defs = outlines[path]
        shown = set(picked[path])
        for i in list(shown):
            shown |= _ancestors(defs, i)
        lines.append(f"\n{path}\n")
        for i in sorted(shown):
            definition = defs[i]
            lines.append(f"{definition.line}: {'  ' * definition.depth}{definition.signature}\n")
        if len(shown) < len(defs):
            lines.append(f"(+{len(defs) - len(shown)} more)\n")
    return "".join(lines)


def _ancestors(defs: tuple[Definition, ...], index: int) -> set[int]:
    """The classes, impls and namespaces around definition `index` (defs are in file order,
    so a member's container is the nearest earlier definition one level up)."""
    out = set()
    depth = defs[index].depth
    for i in range(index - 1, -1, -1):
        if depth == 0:
            break
        if defs[i].depth < depth:
            out.add(i)
            depth = defs[i].depth
    return out


def _key_file(info: FileInfo) -> int:
    """0 for a key file at the top (README, manifests), 1 for one deeper, 2 otherwise."""
    name = PurePosixPath(info.path).name.lower()
    if name not in KEY_FILES:
        return 2
    return 0 if info.depth == 0 else 1


def _layout(files: list[FileInfo], budget: int) -> tuple[str, list[FileInfo]]:
    """The deepest tree rendering that fits `budget` tokens, and the files it lists."""
    max_depth = max((f.depth for f in files), default=0)
    for depth in range(max_depth, -1, -1):
        text, listed = _tree(files, depth)
        if tokens.estimate(text) <= budget:
            return text, listed
    # Even the top level is too long (thousands of entries in one directory): cut it.
    text, listed = _tree(files, 0)
    kept, size = [], 0
    lines = text.splitlines(keepends=True)
    for line in lines:
        size += tokens.estimate(line)
        if size > budget - 15:
            break
        kept.append(line)
    kept.append(f"... and {len(lines) - len(kept)} more entries\n")
    shown = {line.strip().split(" (")[0] for line in kept}
    return "".join(kept), [f for f in listed if f.path in shown]


def _tree(files: list[FileInfo], depth: int) -> tuple[str, list[FileInfo]]:
    """Files at or above `depth` directory levels one per line; deeper directories as one
    summary line each. Paths are written in full so every line stands on its own."""
    lines: list[tuple[str, str]] = []  # (sort key, line)
    listed: list[FileInfo] = []
    summarised: dict[str, list[FileInfo]] = {}
    for info in files:
        parts = PurePosixPath(info.path).parts
        if len(parts) - 1 <= depth:
            listed.append(info)
            lines.append((info.path, f"{info.path} ({_size(info)})\n"))
        else:
            directory = "/".join(parts[: depth + 1]) + "/"
            summarised.setdefault(directory, []).append(info)
    for directory, inside in summarised.items():
        kinds: dict[str, int] = {}
        for info in inside:
            suffix = PurePosixPath(info.path).suffix or "(none)"
            kinds[suffix] = kinds.get(suffix, 0) + 1
        top = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:4]
        mix = ", ".join(f"{suffix} {n}" for suffix, n in top)
        lines.append((directory, f"{directory} ({len(inside)} files: {mix})\n"))
    lines.sort(key=lambda item: item[0])
    return "".join(text for _, text in lines), listed


def _size(info: FileInfo) -> str:
    if info.lines is None:
        return f"{info.size:,} bytes"
    return "1 line" if info.lines == 1 else f"{info.lines:,} lines"


def _excerpt(info: FileInfo, budget: int) -> str:
    assert info.text is not None
    longest = max((len(run) for run in re.findall(r"`+", info.text)), default=0)
    fence = "`" * max(3, longest + 1)  # a fence no line of the file can close
    head = f"### {info.path}\n{fence}\n"
    tail = f"{fence}\n\n"
    room = budget - tokens.estimate(head + tail) - 10
    if room < 20:
        return ""
    lines = info.text.splitlines(keepends=True)
    kept, used = [], 0
    for line in lines:
        cost = tokens.estimate(line)
        if used + cost > room:
            break
        kept.append(line if line.endswith("\n") else line + "\n")
        used += cost
    if not kept:
        return ""
    if len(kept) < len(lines):
        kept.append(f"... ({len(lines) - len(kept)} more lines)\n")
    return head + "".join(kept) + tail
