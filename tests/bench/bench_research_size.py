"""Benchmark: the research request's size on a 10-file and a 1,000-file repository.

Run by hand: `python tests/bench/bench_research_size.py [map_tokens]`. For each generated
repository it runs `devloop feature SPEC --stop-after research` for real, against the offline
server, and measures the research request the server received: its body in bytes, devloop's
local token estimate of it, and the input tokens the server counted. Target: the 1,000-file
request is at most 1.5x the 10-file one ([loop] project_map_tokens bounds the project map).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for generated_repo
from generated_repo import write_modules  # noqa: E402

SPEC = "# Add an export command\n\nAdd `export` to the CLI: write every record as JSON lines.\n"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path, files: int, map_tokens: int) -> Path:
    """A committed repository: devloop.toml, a spec, a README and Python modules."""
    root.mkdir(parents=True)
    git(root, "init", "-q")
    git(root, "config", "user.email", "bench@example.invalid")
    git(root, "config", "user.name", "bench")
    (root / "devloop.toml").write_text(f"[loop]\nproject_map_tokens = {map_tokens}\n")
    (root / ".gitignore").write_text(".devloop/\n")
    (root / "README.md").write_text("# Generated\n\nA generated project.\n")
    (root / "spec.md").write_text(SPEC)
    write_modules(root, files - 4)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "chore: generated")
    return root


def measure(files: int, map_tokens: int, work: Path) -> dict:
    from devloop import tokens
    from devloop.sim import SimServer

    repo = make_repo(work / f"repo{files}", files, map_tokens)
    with SimServer({"steps": {"research": [{"text": "notes"}]}}) as sim:
        env = dict(os.environ, ANTHROPIC_BASE_URL=sim.base_url, ANTHROPIC_API_KEY="sim-key")
        proc = subprocess.run(
            [sys.executable, "-m", "devloop", "feature", "spec.md", "--stop-after", "research"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise SystemExit(f"devloop failed on {files} files:\n{proc.stdout}\n{proc.stderr}")
        (request,) = sim.message_requests("research")
    body = json.dumps(request.body)
    db = repo / ".devloop" / "ledger.db"
    import sqlite3

    with sqlite3.connect(db) as conn:
        served = conn.execute(
            "SELECT input_tokens + cache_creation_input_tokens + cache_read_input_tokens "
            "FROM calls WHERE step_key = 'research'"
        ).fetchone()[0]
    return {
        "files": files,
        "bytes": len(body.encode()),
        "estimated_tokens": tokens.estimate(body),
        "server_input_tokens": served,
    }


def report(map_tokens: int, work: Path) -> None:
    """Measure the 10-file and the 1,000-file request under `work` and print the table."""
    small, large = (measure(n, map_tokens, work) for n in (10, 1_000))
    print(f"research request size, project_map_tokens = {map_tokens:,}")
    print(f"{'files':>6}  {'bytes':>8}  {'est. tokens':>11}  {'server input tokens':>19}")
    for row in (small, large):
        print(
            f"{row['files']:>6}  {row['bytes']:>8,}  {row['estimated_tokens']:>11,}"
            f"  {row['server_input_tokens']:>19,}"
        )
    ratio = large["bytes"] / small["bytes"]
    verdict = "ok" if ratio <= 1.5 else "OVER TARGET"
    print(f"1,000 files / 10 files = {ratio:.2f}x (target <= 1.5x): {verdict}")


def main() -> None:
    map_tokens = int(sys.argv[1]) if len(sys.argv) > 1 else 4_000
    with tempfile.TemporaryDirectory() as tmp:
        report(map_tokens, Path(tmp))


if __name__ == "__main__":
    main()
