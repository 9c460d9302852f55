"""Benchmark: devloop's pre-commit hook against the pre-commit framework, side by side.

Not a timed test (machines differ); run it by hand:

    python tests/bench/bench_hooks.py [--runs 30]

It builds one temporary repository with a devloop config whose lint and quick-test
commands are `true`, a staged Python file, devloop's pre-commit hook installed, and a
.pre-commit-config.yaml with a single no-op `repo: local`, `language: system` hook. It then
times, interleaved so both see the same machine load:

- devloop: the installed `.git/hooks/pre-commit` shim, run the way git runs it;
- framework: `pre-commit run` on the same staged file (offline: the hook is local);
and, as a cross-check, both hooks through git itself (`git hook run pre-commit`), the
framework's being the hook script `pre-commit install` writes, kept in its own hooks
directory and selected with `-c core.hooksPath`.

Both get a warm bytecode cache (as an installed package has) in a private
PYTHONPYCACHEPREFIX. The issue's target: devloop's median at most half the framework's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FRAMEWORK_CONFIG = """\
repos:
- repo: local
  hooks:
  - id: noop
    name: no-op
    entry: "true"
    language: system
"""
DEVLOOP_CONFIG = """\
[commands]
lint = "true"
test = "true"
quick_test = "true"
"""


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)


def must(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = run(cmd, cwd, env)
    if proc.returncode != 0:
        sys.exit(f"bench setup failed: {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def setup(base: Path, env: dict[str, str], framework: str) -> Path:
    repo = base / "repo"
    repo.mkdir()
    must(["git", "init", "-q"], repo, env)
    (repo / "devloop.toml").write_text(DEVLOOP_CONFIG)
    (repo / ".pre-commit-config.yaml").write_text(FRAMEWORK_CONFIG)
    (repo / "README.md").write_text("# bench\n")
    must(["git", "add", "-A"], repo, env)
    must(["git", "commit", "-q", "--no-verify", "-m", "chore: bench repo"], repo, env)
    must([framework, "install", "--hook-type", "pre-commit"], repo, env)
    (base / "framework-hooks").mkdir()
    (repo / ".git" / "hooks" / "pre-commit").rename(base / "framework-hooks" / "pre-commit")
    must([sys.executable, "-m", "devloop", "hooks", "install"], repo, env)
    (repo / "app.py").write_text("VALUE = 1\n")
    must(["git", "add", "app.py"], repo, env)
    return repo


def time_once(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed (exit {proc.returncode}): {proc.stderr.decode()}")
    return elapsed


def hook_path_imports(repo: Path, env: dict[str, str]) -> list[str]:
    """Heavy modules the hook path imports (should be none)."""
    proc = run([sys.executable, "-X", "importtime", "-m", "devloop", "check", "staged"], repo, env)
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    return sorted(
        n for n in names if n.split(".")[0] in ("anthropic", "rich", "git", "httpx", "tree_sitter")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per side (default 30)")
    args = parser.parse_args()
    framework = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    if not Path(framework).exists():
        sys.exit("the pre-commit framework is not installed (pip install pre-commit).")

    with tempfile.TemporaryDirectory(prefix="devloop-bench-") as tmp:
        base = Path(tmp)
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            PYTHONPYCACHEPREFIX=str(base / "pycache"),
            PRE_COMMIT_HOME=str(base / "pre-commit-home"),
            GIT_CONFIG_GLOBAL=str(base / "gitconfig"),
            GIT_CONFIG_NOSYSTEM="1",
        )
        (base / "gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.invalid\n")
        repo = setup(base, env, framework)
        framework_hooks = f"core.hooksPath={base / 'framework-hooks'}"
        sides = {
            "devloop hook": [str(repo / ".git" / "hooks" / "pre-commit")],
            "pre-commit framework": [framework, "run"],
            "git hook run: devloop": ["git", "hook", "run", "pre-commit"],
            "git hook run: framework": ["git", "-c", framework_hooks, "hook", "run", "pre-commit"],
        }
        for _ in range(3):  # warm the bytecode cache and pre-commit's own store
            for cmd in sides.values():
                time_once(cmd, repo, env)
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.runs):
            for name, cmd in sides.items():
                times[name].append(time_once(cmd, repo, env))
        heavy = hook_path_imports(repo, env)

    medians = {name: statistics.median(ts) * 1000 for name, ts in times.items()}
    print(f"runs per side: {args.runs} (interleaved), {os.cpu_count()} CPU(s)")
    for name, ts in times.items():
        print(
            f"  {name:<24} median {medians[name]:7.1f} ms   "
            f"min {min(ts) * 1000:7.1f} ms   max {max(ts) * 1000:7.1f} ms"
        )
    ratio = medians["devloop hook"] / medians["pre-commit framework"]
    verdict = "meets" if ratio <= 0.5 else "MISSES"
    print(f"  ratio devloop hook / pre-commit run: {ratio:.2f} ({verdict} the <= 0.50 target)")
    both = medians["git hook run: devloop"] / medians["git hook run: framework"]
    print(f"  ratio through `git hook run`:        {both:.2f}")
    print(f"  heavy imports on the hook path: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
