"""Which files and definitions matter most: a graph of which files reference which
definitions, ranked by PageRank personalised to what the spec names.

Nodes are files. A file that references an identifier defined in other files has an edge
to each of them, weighted by how often it uses the name (square root, so one busy loop
does not dominate), divided among the files defining it, ten times heavier when the spec
names the identifier, a tenth for private (`_x`), very short or widely defined names; a
name defined in more than TOO_COMMON files (`get`, `__init__`, `toString`) adds no edges:
it says nothing of where to look, and would make the graph quadratic in the files.
The random walk restarts at the files in play: those whose path the spec names, those
defining or using an identifier it names, and those in directories it names; with none of
these, anywhere (plain PageRank). A file's rank is then shared out over the definitions
its edges point at, which orders the definitions within a file.

PageRank is a small power iteration here rather than networkx: the graph is at most some
thousands of nodes, networkx's pagerank wants scipy and numpy as well, and a hand-written
loop over sorted nodes gives the same numbers, byte for byte, on every run (the map is
part of a cached prompt prefix).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from devloop.codemap.tags import FileTags

DAMPING = 0.85
ITERATIONS = 100
TOLERANCE = 1e-10
MENTIONED = 10.0  # an identifier the spec names
DISCOUNT = 0.1  # private, very short or widely defined names
WIDELY_DEFINED = 5  # files defining a name before it counts as generic
TOO_COMMON = 25  # files defining a name before it says nothing of where to look
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[a-z0-9]+")
_COMMON_WORDS = frozenset(
    {
        "this", "that", "with", "from", "into", "should", "must", "when", "then", "than",
        "also", "each", "every", "what", "which", "will", "have", "does", "make", "only",
        "more", "used", "user", "users", "file", "files", "feature", "spec", "test", "tests",
        "code", "data", "src", "lib", "main", "index",
    }
)  # fmt: skip


@dataclass
class Ranking:
    files: dict[str, float]  # path -> PageRank
    definitions: dict[tuple[str, str], float]  # (path, name) -> rank flowing to it
    mentioned: frozenset[str]  # identifiers the spec names that the code defines


def spec_tokens(hints: str) -> set[str]:
    return set(_TOKEN.findall(hints))


def _path_words(path: str) -> set[str]:
    return {w for w in _WORD.findall(path.lower()) if len(w) >= 4} - _COMMON_WORDS


def personalisation(
    paths: Iterable[str],
    hints: str,
    definers: Mapping[str, set[str]],
    users: Mapping[str, set[str]],
) -> dict[str, float]:
    """Where the random walk restarts (see the module docstring): `definers` and `users`
    are, for each identifier the spec names, the files defining and referencing it. {}
    when the spec names nothing the repository has."""
    text = hints.lower()
    tokens = {t.lower() for t in spec_tokens(hints)}
    words = {w for w in _WORD.findall(text) if len(w) >= 4} - _COMMON_WORDS
    weights: dict[str, float] = defaultdict(float)
    for path in paths:
        pure = PurePosixPath(path)
        name = pure.name.lower()
        if path.lower() in text or ("." in name and name in text and pure.stem.lower() in tokens):
            weights[path] += 2.0
        directories = {w for part in pure.parts[:-1] for w in _WORD.findall(part.lower())}
        weights[path] += 0.2 * len(directories & words)
        weights[path] += 0.05 * len(_path_words(pure.stem) & words)
    for identifier in sorted(users.keys() | definers.keys()):
        where = definers.get(identifier, set())
        if not where:
            continue
        share = 1.0 / len(where)
        for path in where:
            weights[path] += share
        for path in users.get(identifier, set()) - where:
            weights[path] += 0.5 * share
    return {p: w for p, w in weights.items() if w > 0}


def rank(paths: list[str], tags: Mapping[str, FileTags], hints: str = "") -> Ranking:
    """Rank every file in `paths` (those without tags too: they can only be restarted at)
    and the definitions of the tagged ones."""
    definers: dict[str, set[str]] = defaultdict(set)
    for path, file_tags in tags.items():
        for definition in file_tags.defs:
            definers[definition.name].add(path)
    mentioned = frozenset(spec_tokens(hints) & definers.keys())

    # edges[source] = [(target, identifier, weight)]
    edges: dict[str, list[tuple[str, str, float]]] = {}
    for source in sorted(tags):
        out = []
        for identifier, count in tags[source].refs:
            targets = definers.get(identifier)
            if not targets or len(targets) > TOO_COMMON:
                continue
            others = sorted(targets - {source})
            if not others:
                continue
            weight = math.sqrt(count) / len(targets)
            if identifier in mentioned:
                weight *= MENTIONED
            if identifier.startswith("_") or len(identifier) < 3:
                weight *= DISCOUNT
            if len(targets) > WIDELY_DEFINED:
                weight *= DISCOUNT
            out += [(target, identifier, weight) for target in others]
        if out:
            edges[source] = out

    users: dict[str, set[str]] = defaultdict(set)
    for path, file_tags in tags.items():
        for identifier, _ in file_tags.refs:
            if identifier in mentioned:
                users[identifier].add(path)
    named = {identifier: definers[identifier] for identifier in mentioned}
    nodes = sorted(set(paths) | set(tags))
    restart = personalisation(nodes, hints, named, users)
    files = pagerank(nodes, edges, restart)
    definitions: dict[tuple[str, str], float] = defaultdict(float)
    for source, out in edges.items():
        total = sum(w for _, _, w in out)
        for target, identifier, weight in out:
            definitions[(target, identifier)] += files[source] * weight / total
    return Ranking(files, dict(definitions), mentioned)


def pagerank(
    nodes: list[str],
    edges: Mapping[str, list[tuple[str, str, float]]],
    restart: Mapping[str, float],
) -> dict[str, float]:
    """Personalised PageRank by power iteration: with probability DAMPING follow an edge
    (by weight), else jump to a node by `restart` (uniform when empty). A node without
    edges jumps as a restart does. Sums to 1."""
    if not nodes:
        return {}
    index = {node: i for i, node in enumerate(nodes)}
    n = len(nodes)
    total = sum(restart.get(node, 0.0) for node in nodes)
    jump = [restart.get(node, 0.0) / total for node in nodes] if total > 0 else [1.0 / n] * n
    links: list[list[tuple[int, float]]] = [[] for _ in nodes]
    for source, out in edges.items():
        merged: dict[int, float] = defaultdict(float)
        for target, _, weight in out:
            merged[index[target]] += weight
        whole = sum(merged.values())
        if whole > 0:
            links[index[source]] = [(t, w / whole) for t, w in sorted(merged.items())]
    ranks = list(jump)
    ends = [i for i in range(n) if not links[i]]
    for _ in range(ITERATIONS):
        dangling = sum(ranks[i] for i in ends)
        following = [0.0] * n
        for i, out in enumerate(links):
            if out:
                share = ranks[i]
                for target, fraction in out:
                    following[target] += share * fraction
        updated = [
            DAMPING * (following[i] + dangling * jump[i]) + (1 - DAMPING) * jump[i]
            for i in range(n)
        ]
        change = sum(abs(a - b) for a, b in zip(updated, ranks, strict=True))
        ranks = updated
        if change < TOLERANCE:
            break
    return {node: ranks[index[node]] for node in nodes}
