"""Build the project map: scan the tracked files, tag them (from the parse cache when their
content was parsed before), rank them for the spec, and fit the result to the budget."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devloop.codemap import fallback, fit, rank, tags
from devloop.codemap.cache import ParseCache
from devloop.codemap.files import FileInfo, scan
from devloop.codemap.languages import grammar_for
from devloop.codemap.tags import Definition, FileTags

CACHE_DIR = Path(".devloop") / "cache"
RELATED_HEADING = (
    "Related code: definitions in other files that the files named above use or that use "
    "them, most related first (`line: signature`, members under their class). View a file "
    "for more.\n"
)


@dataclass
class TagStats:
    parsed: int = 0  # files tree-sitter parsed in this build
    cached: int = 0  # files whose tags came from the parse cache
    unparsed: int = 0  # files no parser outlines (shown by layout and excerpt)


@dataclass
class MapBuild:
    text: str
    stats: TagStats


def project_map(
    root: Path, budget_tokens: int, hints: str = "", leave_out: Path | None = None
) -> str:
    """The bounded project map of the repository at `root`. `hints` (the spec) steers the
    ranking; `leave_out` (the spec's own file, sent whole in the prefix anyway) is not
    mapped."""
    return build_map(root, budget_tokens, hints, leave_out).text


def build_map(
    root: Path, budget_tokens: int, hints: str = "", leave_out: Path | None = None
) -> MapBuild:
    """`project_map`, with how the files were tagged."""
    left_out = None
    if leave_out is not None:
        try:
            left_out = leave_out.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            left_out = None
    files = scan(root, leave_out=left_out)
    found, stats = collect_tags(root, files)
    ranking = rank.rank([f.path for f in files], found, hints)
    return MapBuild(fit.render(files, outlines(files, found), ranking, budget_tokens), stats)


def related_map(
    root: Path, budget_tokens: int, focus: list[str], hints: str = "", also: Iterable[str] = ()
) -> str:
    """The definitions elsewhere in the repository that the `focus` files use or that use
    them, ranked for them and fitted to `budget_tokens`; "" when nothing relates. For a
    piece of work on the focus files (shown whole beside it), outside the cached prefix, so
    it follows the repository as the run changes it (`also`: the files the run created)."""
    files = scan(root, also=also)
    found, _ = collect_tags(root, files)
    chosen = set(focus)
    named = {
        d.name
        for path in chosen & found.keys()
        for d in found[path].defs
        if len(d.name) >= 3 and not d.name.startswith("_")
    }
    steer = "\n".join([hints, *sorted(chosen), *sorted(named)])
    ranking = rank.rank([f.path for f in files], found, steer)
    related = {
        path: defs
        for path, defs in outlines(files, found).items()
        if path not in chosen and path in found and ranking.files.get(path, 0.0) > 0.0
    }
    order = fit.file_order(files, ranking)
    entries = fit.ranked_entries(related, ranking, order)
    return fit.fit_definitions(entries, related, order, budget_tokens, heading=RELATED_HEADING)


def collect_tags(root: Path, files: list[FileInfo]) -> tuple[dict[str, FileTags], TagStats]:
    """Tags of every file a grammar covers, by path: from the parse cache under
    `.devloop/cache/` when the repository has a `.devloop/` directory, else parsed."""
    stats = TagStats()
    found: dict[str, FileTags] = {}
    if not tags.available():
        stats.unparsed = len(files)
        return found, stats
    devloop_dir = root / CACHE_DIR.parent
    cache = ParseCache(root / CACHE_DIR if devloop_dir.is_dir() else None, tags.library_version())
    for info in files:
        grammar = grammar_for(info.path)
        if grammar is None or info.data is None:
            stats.unparsed += 1
            continue
        key = f"{info.blob}:{grammar.name}"
        hit, result = cache.get(key)
        if hit:
            stats.cached += 1
        else:
            result = tags.parse(info.path, info.data)
            cache.put(key, result)
            stats.parsed += 1
        if result is None:
            stats.unparsed += 1
        else:
            found[info.path] = result
    cache.save()
    return found, stats


def outlines(
    files: list[FileInfo], found: dict[str, FileTags]
) -> dict[str, tuple[Definition, ...]]:
    """Each file's definitions: its tags', else the fallback patterns' (Markdown headings;
    a file tree-sitter could not parse)."""
    out: dict[str, tuple[Definition, ...]] = {}
    for info in files:
        if info.path in found:
            defs = found[info.path].defs
        elif info.text:
            defs = tuple(
                Definition(name, "heading", number, 0, line.strip()[: tags.SIGNATURE_CHARS])
                for number, name, line in fallback.definition_lines(info.path, info.text)
            )
        else:
            defs = ()
        if defs:
            out[info.path] = defs
    return out


def definition_lines(path: str, text: str) -> list[tuple[int, str]]:
    """(line number, line) of each definition in `text`: by tree-sitter where a grammar
    covers the file, else by the fallback patterns; [] for a kind of file neither knows."""
    parsed = tags.parse(path, text.encode("utf-8")) if tags.available() else None
    if parsed is None:
        return [(number, line) for number, _, line in fallback.definition_lines(path, text)]
    source = text.splitlines()
    return [(d.line, source[d.line - 1].rstrip()) for d in parsed.defs if 0 < d.line <= len(source)]
