"""codemap: the project map, what research, planning and validation see of the repository.

Built with tree-sitter for Python, JavaScript, TypeScript/TSX, Go, Rust, Java, Kotlin, C,
C++, C#, Ruby, PHP and Swift: each file's definitions with their signature lines and the
identifiers it references (tags.py, by the rules in languages.py); a graph of which files
reference which definitions, ranked by PageRank personalised to what the spec names
(rank.py); fitted to [loop] project_map_tokens by a binary search on how many ranked
definitions fit (fit.py). Files no grammar covers fall back to their layout line, heading
patterns (fallback.py) and an excerpt. Tags are kept in a parse cache under
`.devloop/cache/`, keyed by each file's blob id (cache.py), so a large repository is parsed
once. build.py puts it together; files.py lists what may be shown (tracked files only,
plus the files a run created when the caller names them). build.related_map ranks the same
graph for one implement task's files instead of the spec: the related code its opening shows.

tree-sitter is imported inside tags.py's functions only: never on the `--help` or hook path.

May import: the leaf modules (tokens) and git. Nothing above it (checks, agent, loop, cli).
"""

from devloop.codemap.build import (
    MapBuild,
    TagStats,
    build_map,
    definition_lines,
    project_map,
    related_map,
)

__all__ = ["MapBuild", "TagStats", "build_map", "definition_lines", "project_map", "related_map"]
