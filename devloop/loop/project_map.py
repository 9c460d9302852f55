"""The project map: the research step's view of the repository, within a token budget.

It is bounded by [loop] project_map_tokens (default 4,000) whatever the repository's size,
and filled in three passes, each only with what still fits:
  1. layout: the file tree, collapsed to the deepest directory level that fits half the
     budget (a directory below it shows as one line with its file count);
  2. outlines: the classes and functions (or headings) of files, up to three quarters;
  3. excerpts: the heads of key files (README, manifests), then of the other files.
Outlines and excerpts go first to the files the spec mentions (path or symbol words), then
to the files the layout lists, then across the collapsed directories in turn. So a small
repository is shown nearly whole, and a large one as structure plus a sample, both within
the same budget. The map is rendered once per feature and frozen (00-project-map.md, see
prompts.freeze_prefix), so the cached prompt prefix stays byte-identical across steps and
resumes.

Only tracked files are mapped: untracked ones are the user's and stay private.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from devloop import tokens
from devloop.git import repository

EXCLUDED_DIRS = (".devloop",)

LAYOUT_SHARE = 0.5  # of the map budget, at most, for the file tree
OUTLINE_SHARE = 0.75  # the layout and the outlines together, at most
EXCERPT_FILE_TOKENS = 1_200  # one file's excerpt, at most
READ_LIMIT = 256_000  # bytes: larger files are listed, never read
MAX_SYMBOLS = 25
KEY_FILES = (
    "readme", "readme.md", "readme.rst", "readme.txt", "pyproject.toml", "package.json",
    "cargo.toml", "go.mod", "setup.cfg", "setup.py", "makefile", "devloop.toml",
    "contributing.md", "architecture.md", "design.md",
)  # fmt: skip

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


# ------------------------------------------------------------ project map


@dataclass
class FileInfo:
    path: str
    size: int
    lines: int | None  # None: binary or too large to read
    text: str | None = None

    @property
    def depth(self) -> int:
        return self.path.count("/")


def scan(root: Path) -> list[FileInfo]:
    """The files git tracks, with sizes and text. Untracked files stay private (runfiles.py):
    a model never sees them."""
    infos = []
    for rel in repository.tracked_files(root, exclude=EXCLUDED_DIRS):
        path = root / rel
        try:
            if path.is_symlink() or not path.is_file():
                continue
            size = path.stat().st_size
            text = None
            if size <= READ_LIMIT:
                raw = path.read_bytes()
                if b"\0" not in raw[:8192]:
                    text = raw.decode("utf-8", "replace")
        except OSError:
            continue
        lines = None if text is None else text.count("\n") + (0 if text.endswith("\n") else 1)
        infos.append(FileInfo(rel, size, lines if text else (0 if text == "" else None), text))
    return infos


def project_map(
    root: Path, budget_tokens: int, hints: str = "", leave_out: Path | None = None
) -> str:
    """The bounded project map of the repository at `root` (see the module docstring).
    `hints` (the spec) puts the files whose paths or names it mentions first; `leave_out`
    (the spec's own file, sent whole in the prefix anyway) is not mapped."""
    files = scan(root)
    if leave_out is not None:
        try:
            rel = leave_out.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            rel = None
        files = [f for f in files if f.path != rel]
    return render_map(files, budget_tokens, hints)


def render_map(files: list[FileInfo], budget_tokens: int, hints: str = "") -> str:
    files = sorted(files, key=lambda f: f.path)
    header = (
        f"# Project map\n\n{len(files)} files. Layout, then outlines and excerpts as far as "
        f"a budget of ~{budget_tokens:,} tokens allows.\n"
    )
    used = tokens.estimate(header)
    layout, listed = _layout(files, int(budget_tokens * LAYOUT_SHARE) - used)
    parts = [header, "\n## Layout\n\n" + layout]
    used += tokens.estimate(parts[-1])
    outlines = {f.path: outline(f) for f in files}
    rank = _ranks(files, listed, outlines, hints)

    outline_lines = []
    outline_cap = int(budget_tokens * OUTLINE_SHARE)
    for info in sorted(files, key=lambda f: rank[f.path]):
        if used + 20 > outline_cap:
            break
        if not outlines[info.path]:
            continue
        line = f"- {info.path}: {', '.join(outlines[info.path])}\n"
        cost = tokens.estimate(line)
        if used + cost + 10 > outline_cap:
            continue
        outline_lines.append(line)
        used += cost
    if outline_lines:
        parts.append("\n## Outlines\n\n" + "".join(outline_lines))
        used += 5

    excerpts = []
    for info in sorted(files, key=lambda f: (_key_file(f), rank[f.path])):
        left = budget_tokens - used - 20
        if left < 60:
            break
        if not info.text or not info.text.strip():
            continue
        block = _excerpt(info, min(EXCERPT_FILE_TOKENS, left))
        if block:
            excerpts.append(block)
            used += tokens.estimate(block)
    if excerpts:
        parts.append("\n## Excerpts\n\n" + "".join(excerpts))
    return "".join(parts)


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if len(w) >= 4}


def _ranks(
    files: list[FileInfo], listed: list[FileInfo], outlines: dict[str, list[str]], hints: str
) -> dict[str, tuple]:
    """Sort keys for outlines and excerpts: files the spec mentions (by path or symbol
    words) first, then the files the layout lists, then the rest, taking one file from
    each directory in turn so a large repository is sampled across its directories."""
    wanted = _words(hints) - _COMMON_WORDS
    shown = {f.path for f in listed}
    position: dict[str, int] = {}
    ranks = {}
    for info in files:  # sorted by path, so files of one directory come together
        directory = info.path.rpartition("/")[0]
        index = position.get(directory, 0)
        position[directory] = index + 1
        found = _words(info.path + " " + " ".join(outlines[info.path])) & wanted
        listed_first = 0 if info.path in shown else 1
        ranks[info.path] = (-len(found), listed_first, index, info.depth, info.path)
    return ranks


_COMMON_WORDS = {
    "this", "that", "with", "from", "into", "should", "must", "when", "then", "than", "also",
    "each", "every", "what", "which", "will", "have", "does", "make", "only", "more", "used",
    "user", "users", "file", "files", "feature", "spec", "test", "tests", "code", "data",
}  # fmt: skip


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


def definition_lines(path: str, text: str) -> list[tuple[int, str]]:
    """(line number, line) of each definition in `text` (classes, functions, headings),
    by the same patterns as the outlines; [] for a language the map does not know."""
    suffix = PurePosixPath(path).suffix.lower()
    pattern = next((p for suffixes, p in _SYMBOLS.items() if suffix in suffixes), None)
    if pattern is None:
        return []
    starts = {m.start() for m in pattern.finditer(text)}
    out, offset = [], 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        stripped = len(line) - len(line.lstrip())
        if offset in starts or offset + stripped in starts:
            out.append((number, line.rstrip()))
        offset += len(line)
    return out


def outline(info: FileInfo) -> list[str]:
    """The file's top-level names (classes, functions; headings for Markdown)."""
    if not info.text:
        return []
    suffix = PurePosixPath(info.path).suffix.lower()
    for suffixes, pattern in _SYMBOLS.items():
        if suffix in suffixes:
            names = []
            for match in pattern.finditer(info.text):
                name = next((g for g in match.groups() if g), None)
                if name and name not in names:
                    names.append(name[:60])
            if len(names) > MAX_SYMBOLS:
                names = names[:MAX_SYMBOLS] + [f"... {len(names) - MAX_SYMBOLS} more"]
            return names
    return []


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
