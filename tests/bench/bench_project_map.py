"""Benchmark: the project map on a large repository, and the research request's size.

Run by hand: `python tests/bench/bench_project_map.py [files] [map_tokens]`.

1. Build time of the map on a generated repository of `files` tracked files (default
   5,000: 60% generated Python modules of 85 lines, the rest small files in each of the 14
   languages the map parses, calling one another): cold (no parse cache), then again with
   the parse cache under .devloop/cache/, then after one file changed.
2. The research request's size on a 10-file and a 1,000-file repository, measured as the
   offline server received it from a real `devloop feature --stop-after research`
   (bench_research_size.py). Target: the 1,000-file request at most 1.5x the 10-file one.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/bench/
from codemap_samples import SAMPLES  # noqa: E402
from generated_repo import write_modules  # noqa: E402

SPEC = "# Round the totals\n\nMake `reconcileTotals` and `reconcile_totals` round to cents.\n"


def make_repo(root: Path, files: int) -> Path:
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "README.md").write_text("# Generated\n\nA generated project in many languages.\n")
    python = files * 6 // 10
    write_modules(root, python)
    others = files - python - 1
    for i in range(others):
        sample = SAMPLES[i % len(SAMPLES)]
        name, text = next((n, t) for n, t in sample.files.items() if "_n" in n and "eport" not in n)
        if i % 7 == 0:  # some files use the ledger's method, so the spec has users to find
            name, text = next((n, t) for n, t in sample.files.items() if "eport_n" in n)
        if i < len(SAMPLES):
            name, text = sample.ledger, sample.files[sample.ledger]
        path = root / "langs" / f"set{i // 200:02d}" / name.replace("_n", str(i))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{n}", str(i)))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    return root


def timed(repo: Path, budget: int) -> tuple[float, object]:
    from devloop.codemap import build_map

    start = time.perf_counter()
    result = build_map(repo, budget, SPEC)
    return time.perf_counter() - start, result


def map_build(files: int, budget: int, work: Path) -> None:
    from devloop import tokens

    repo = make_repo(work / f"map{files}", files)
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.count("\n")
    (repo / ".devloop").mkdir()
    cold_s, cold = timed(repo, budget)
    warm_s, warm = timed(repo, budget)
    changed = next(repo.glob("langs/set00/*.go"))
    changed.write_text(changed.read_text() + "\n// changed\n")
    one_s, one = timed(repo, budget)
    cache = repo / ".devloop" / "cache" / "codemap-tags.json"
    print(f"project map build, {tracked:,} tracked files, project_map_tokens = {budget:,}")
    print(f"{'build':<28} {'seconds':>8} {'parsed':>7} {'cached':>7} {'unparsed':>8}")
    for label, seconds, result in (
        ("cold (no parse cache)", cold_s, cold),
        ("with the parse cache", warm_s, warm),
        ("after one file changed", one_s, one),
    ):
        stats = result.stats
        print(
            f"{label:<28} {seconds:>8.2f} {stats.parsed:>7,} {stats.cached:>7,} "
            f"{stats.unparsed:>8,}"
        )
    print(
        f"map: {tokens.estimate(cold.text):,} estimated tokens; identical cold and cached: "
        f"{cold.text == warm.text}; parse cache {cache.stat().st_size / 1e6:.1f} MB"
    )


def research_size(map_tokens: int, work: Path) -> None:
    from bench_research_size import report

    print()
    report(map_tokens, work)


def main() -> None:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    budget = int(sys.argv[2]) if len(sys.argv) > 2 else 4_000
    with tempfile.TemporaryDirectory() as tmp:
        map_build(files, budget, Path(tmp))
        research_size(budget, Path(tmp))


if __name__ == "__main__":
    main()
